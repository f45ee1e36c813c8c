from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    default_message = _("No customer with this source_id.")


class UnknownCustomer(DomainError):
    """A request body names a customer the shop has not pushed yet."""

    code = "customer_not_found"
    http_status = 422
    default_message = _("The customer named in the request does not exist; upsert it first.")


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No order with this source_id.")


class CartNotFound(NotFound):
    code = "cart_not_found"
    default_message = _("No cart with this source_id.")


class CurrencyNotSupported(DomainError):
    code = "currency_not_supported"
    default_message = _("This installation works in another currency.")


class InvalidStatusTransition(DomainError):
    code = "invalid_status_transition"
    http_status = 409
    default_message = _("The order cannot move to this status.")


class OrderLocked(DomainError):
    code = "order_locked"
    http_status = 409
    default_message = _("Items and amounts of an order can change only while it is 'created'.")


class TrackingConsentRequired(DomainError):
    code = "tracking_consent_required"
    default_message = _(
        "The customer has not consented to tracking; behavioural events are not stored."
    )


class DiscountExceedsOrder(DomainError):
    code = "discount_exceeds_order"
    default_message = _("The discount is larger than the items and shipping together.")
