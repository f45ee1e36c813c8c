"""Refusals of the loyalty services, each with a stable code (mapped once by the API)."""

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, NotFound


class LoyaltyError(DomainError):
    code = "loyalty_error"


class NoProgram(LoyaltyError):
    code = "no_loyalty_program"
    http_status = 404
    default_message = _("No loyalty programme is active.")


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = _("This customer is not a member of the programme.")


class RewardNotFound(NotFound):
    code = "reward_not_found"
    default_message = _("No reward of the catalog has this id.")


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    http_status = 409
    default_message = _("Not enough active points.")


class OutOfStock(LoyaltyError):
    code = "out_of_stock"
    http_status = 409
    default_message = _("This reward is out of stock.")


class RewardUnavailable(LoyaltyError):
    """The reward is not offered to this member now; ``details.reason`` says why."""

    code = "reward_unavailable"
    http_status = 409
    default_message = _("This reward is not available to this member.")


class InvalidAdjustment(LoyaltyError):
    code = "invalid_adjustment"
    http_status = 400
    default_message = _("An adjustment needs a whole number of points other than 0 and a reason.")


class SweepstakeNotDrawable(LoyaltyError):
    code = "sweepstake_not_drawable"
    http_status = 409
    default_message = _("This sweepstake cannot be drawn now.")
