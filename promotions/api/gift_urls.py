"""Gift card endpoints."""

from django.urls import path

from promotions.api import gift_views

# The code converter is registered by promotions.api.management_urls.
urlpatterns = [
    path(
        "vouchers/<voucher_code:code>/balance",
        gift_views.GiftBalanceView.as_view(),
        name="gift-balance",
    ),
    path(
        "vouchers/<voucher_code:code>/transactions",
        gift_views.GiftLedgerView.as_view(),
        name="gift-ledger",
    ),
]
