"""Campaign and voucher management endpoints."""

from django.urls import path, register_converter

from promotions.api import management


class VoucherCodeConverter:
    """A voucher code in a URL: letters, digits, '-' and '_' (what codes are made of)."""

    regex = r"[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(VoucherCodeConverter, "voucher_code")

urlpatterns = [
    path("campaigns", management.CampaignListView.as_view(), name="campaign-list"),
    path(
        "campaigns/<int:campaign_id>",
        management.CampaignDetailView.as_view(),
        name="campaign-detail",
    ),
    path(
        "campaigns/<int:campaign_id>/activate",
        management.CampaignActivateView.as_view(),
        name="campaign-activate",
    ),
    path(
        "campaigns/<int:campaign_id>/pause",
        management.CampaignPauseView.as_view(),
        name="campaign-pause",
    ),
    path("vouchers", management.VoucherListView.as_view(), name="voucher-list"),
    path(
        "vouchers/<voucher_code:code>",
        management.VoucherDetailView.as_view(),
        name="voucher-detail",
    ),
]
