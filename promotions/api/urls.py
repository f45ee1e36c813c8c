from django.urls import include, path

from promotions.api import checkout_views, redemption_views

urlpatterns = [
    path("validations", checkout_views.ValidationView.as_view(), name="validation"),
    path("qualifications", checkout_views.QualificationView.as_view(), name="qualification"),
    path("redemptions", redemption_views.RedemptionListView.as_view(), name="redemption-list"),
    path(
        "redemptions/<int:redemption_id>",
        redemption_views.RedemptionDetailView.as_view(),
        name="redemption-detail",
    ),
    path(
        "redemptions/<int:redemption_id>/rollback",
        redemption_views.RollbackView.as_view(),
        name="redemption-rollback",
    ),
    path("", include("promotions.api.management_urls")),
    path("", include("promotions.api.code_urls")),
    path("", include("promotions.api.publication_urls")),
    path("", include("promotions.api.gift_urls")),
]
