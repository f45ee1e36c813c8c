from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, NotFound


class PromotionError(DomainError):
    code = "promotion_error"


class InvalidCampaign(PromotionError):
    """Fields that do not make a campaign; ``details`` maps each field to its messages."""

    code = "invalid_campaign"
    http_status = 400
    default_message = _("The campaign is not valid.")


class CampaignNotReady(PromotionError):
    code = "campaign_not_ready"
    http_status = 409
    default_message = _("The campaign cannot go live yet.")


class CampaignArchived(PromotionError):
    code = "campaign_archived"
    http_status = 409
    default_message = _("An archived campaign cannot change status.")


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    default_message = _("No campaign with this id.")


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    default_message = _("No voucher has this code.")


class InvalidVoucher(PromotionError):
    code = "invalid_voucher"
    http_status = 400
    default_message = _("The voucher is not valid.")


class VoucherCodeTaken(PromotionError):
    code = "voucher_code_taken"
    http_status = 409
    default_message = _("Another voucher already has this code (codes ignore case).")
