from django.urls import path

from loyalty.api import views

urlpatterns = [
    path("customers/<source_id:source_id>/wallet", views.WalletView.as_view(), name="wallet"),
    path(
        "customers/<source_id:source_id>/wallet/history",
        views.HistoryView.as_view(),
        name="wallet-history",
    ),
    path(
        "customers/<source_id:source_id>/wallet/redemptions",
        views.RedemptionsView.as_view(),
        name="wallet-redemptions",
    ),
    path(
        "customers/<source_id:source_id>/wallet/adjustments",
        views.AdjustmentView.as_view(),
        name="wallet-adjustments",
    ),
]
