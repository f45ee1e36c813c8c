"""The checkout body of the common case, read without the serializers.

Validations and redemptions are the hot path: DRF's nested serializers cost about 2 ms of
CPU for a 10-item cart, more than the engine itself. ``plain_checkout`` accepts only bodies
whose every value already has its exact final form (strings without surrounding spaces,
integers, booleans, known currency in capitals) and returns what ``CheckoutInSerializer``
would return for them. Anything else, including every invalid body, gives ``None``: the caller
then runs the serializer, which answers with its usual messages. A property test holds the
two to the same answers.
"""

from typing import Any

from customers.api.fields import MAX_AMOUNT
from customers.currencies import is_active_currency
from promotions.api.checkout_serializers import MAX_ITEMS, MAX_REQUESTED_CODES

_TOP = frozenset({"customer", "order", "codes", "apply_promotions"})
_ORDER = frozenset({"source_id", "currency", "shipping_amount", "items"})
_ITEM = frozenset({"product_id", "category", "quantity", "unit_price"})


def _text(value: Any, max_length: int, *, blank: bool = False) -> bool:
    return (
        type(value) is str
        and len(value) <= max_length
        and (blank or value != "")
        and value.isascii()
        and "\x00" not in value
        and value == value.strip()
    )


def _whole(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def plain_checkout(data: Any, *, order_source_required: bool = False) -> dict | None:
    """The validated checkout of a plain body, or None (run the serializer)."""
    if type(data) is not dict or not data.keys() <= _TOP or "order" not in data:
        return None
    out: dict[str, Any] = {}
    if "customer" in data:
        customer = data["customer"]
        if customer is None:
            out["customer"] = None
        elif (
            type(customer) is dict
            and customer.keys() == {"source_id"}
            and _text(customer["source_id"], 255)
        ):
            out["customer"] = {"source_id": customer["source_id"]}
        else:
            return None
    order = _order(data["order"], order_source_required)
    if order is None:
        return None
    out["order"] = order
    codes = data.get("codes", [])
    if type(codes) is not list or len(codes) > MAX_REQUESTED_CODES:
        return None
    if not all(_text(code, 64) for code in codes):
        return None
    if len({code.upper() for code in codes}) != len(codes):
        return None
    out["codes"] = list(codes)
    apply_promotions = data.get("apply_promotions", True)
    if type(apply_promotions) is not bool:
        return None
    out["apply_promotions"] = apply_promotions
    return out


def _order(order: Any, source_required: bool) -> dict | None:
    if type(order) is not dict or not order.keys() <= _ORDER:
        return None
    out: dict[str, Any] = {}
    if "source_id" in order:
        if not _text(order["source_id"], 255, blank=not source_required):
            return None
        out["source_id"] = order["source_id"]
    elif source_required:
        return None
    currency = order.get("currency")
    if not (_text(currency, 3) and len(currency) == 3 and currency.isupper()):
        return None
    if not is_active_currency(currency):
        return None
    out["currency"] = currency
    shipping = order.get("shipping_amount", 0)
    if not _whole(shipping, 0, MAX_AMOUNT):
        return None
    out["shipping_amount"] = shipping
    items = order.get("items")
    if type(items) is not list or len(items) > MAX_ITEMS:
        return None
    read = []
    for item in items:
        if type(item) is not dict or not item.keys() <= _ITEM:
            return None
        category = item.get("category", "")
        if not (
            _text(item.get("product_id"), 255)
            and _text(category, 255, blank=True)
            and _whole(item.get("quantity"), 1, 100_000)
            and _whole(item.get("unit_price"), 0, MAX_AMOUNT)
        ):
            return None
        read.append(
            {
                "product_id": item["product_id"],
                "category": category,
                "quantity": item["quantity"],
                "unit_price": item["unit_price"],
            }
        )
    out["items"] = read
    return out
