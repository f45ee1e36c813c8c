"""Validation rules: the segment language plus conditions on the checkout itself.

A campaign's rule tree mixes customer conditions (every field of ``segments.fields``, compiled
to SQL by ``segments.rules``) with checkout conditions that read the request: the order
(``order.*``), the clock in the customer's time zone (``time.*``) and the customer's use of
the campaign (``history.*``). The order is not in the database, so checkout conditions are
decided first, in Python, from the request; each is replaced in the tree by a constant group
(``{"all": []}`` true, ``{"any": []}`` false). What is left is an ordinary segment tree that the
one segment compiler turns into SQL; a tree made of constants only is decided without SQL.
"""

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from segments.errors import InvalidRules
from segments.fields import (
    MISSING,
    ValueRejected,
    clean_count,
    clean_integer,
    clean_object,
    clean_string,
    scalar_cleaner,
    show,
)
from segments.rules import GROUP_KEYS, validate_rules

from .discounts import Item

TRUE = {"all": []}
FALSE = {"any": []}
MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class CheckoutFacts:
    """What checkout conditions read: the order, the customer's local time, and how often
    the customer has redeemed the campaign (in all and today)."""

    items: tuple[Item, ...] = ()
    currency: str = ""
    shipping_amount: int = 0
    local_now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    redemptions: int = 0
    redemptions_today: int = 0

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def items_count(self) -> int:
        return sum(item.quantity for item in self.items)


@dataclass(frozen=True)
class CheckoutField:
    name: str
    value_type: str
    operators: tuple[str, ...]
    clean: Callable[[str, Any], Any]
    read: Callable[[CheckoutFacts, Any], Any]
    label: str = ""


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "between": lambda a, b: b[0] <= a <= b[1],
}
NUMBER_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
CODE_OPS = ("eq", "ne", "in", "not_in")


def _clean_currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise ValueRejected(f"expected a three-letter currency code, got {show(value)}")
    return value.upper()


def _clean_weekday(value: Any) -> int:
    return clean_count(value, low=1, high=7)


def _clean_hour(value: Any) -> int:
    return clean_count(value, low=0, high=23)


def _strict_date(value: Any) -> dt.date:
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueRejected(f"expected a date like 2026-03-17, got {show(value)}")


def _non_negative(value: Any) -> int:
    number = clean_integer(value)
    if number < 0:
        raise ValueRejected(f"expected a whole number of at least 0, got {show(value)}")
    return number


def _clean_contains(op: str, value: Any) -> dict:
    return clean_object(
        value,
        {
            "id": (True, clean_string),
            "min_quantity": (False, lambda v: clean_count(v, low=1, high=MAX_QUANTITY)),
        },
    )


def _quantity_of(facts: CheckoutFacts, spec: dict, attribute: str) -> bool:
    held = sum(item.quantity for item in facts.items if getattr(item, attribute) == spec["id"])
    return held >= spec.get("min_quantity", 1)


def _comparison(name, value_type, scalar, read, ops=NUMBER_OPS, label="") -> CheckoutField:
    return CheckoutField(name, value_type, ops, scalar_cleaner(scalar), read, label)


CHECKOUT_FIELDS: dict[str, CheckoutField] = {
    f.name: f
    for f in (
        _comparison("order.amount", "money", _non_negative, lambda f, _: f.amount),
        _comparison("order.items_count", "integer", _non_negative, lambda f, _: f.items_count),
        _comparison("order.currency", "code", _clean_currency, lambda f, _: f.currency, CODE_OPS),
        CheckoutField(
            "order.product",
            "order_contains",
            ("matches",),
            _clean_contains,
            lambda f, spec: _quantity_of(f, spec, "product_id"),
        ),
        CheckoutField(
            "order.category",
            "order_contains",
            ("matches",),
            _clean_contains,
            lambda f, spec: _quantity_of(f, spec, "category"),
        ),
        _comparison(
            "time.weekday", "weekday", _clean_weekday, lambda f, _: f.local_now.isoweekday()
        ),
        _comparison("time.hour", "hour", _clean_hour, lambda f, _: f.local_now.hour),
        _comparison(
            "time.date",
            "date",
            _strict_date,
            lambda f, _: f.local_now.date(),
            ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
        ),
        _comparison("history.redemptions", "integer", _non_negative, lambda f, _: f.redemptions),
        _comparison(
            "history.redemptions_today",
            "integer",
            _non_negative,
            lambda f, _: f.redemptions_today,
        ),
    )
}


def _decide(f: CheckoutField, op: str, cleaned: Any, facts: CheckoutFacts) -> bool:
    if op == "matches":
        return bool(f.read(facts, cleaned))
    value = cleaned
    if op in ("in", "not_in"):
        value = set(cleaned)
    return _COMPARE[op](f.read(facts, cleaned), value)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def substitute(tree: Any, facts: CheckoutFacts | None, path: str = "") -> tuple[Any, bool]:
    """The tree with every checkout condition replaced by its outcome (a constant group), and
    whether any customer condition is left. ``facts`` None only checks the conditions.

    Raises InvalidRules at the bad checkout condition; customer conditions are left for the
    segment compiler to check.
    """
    if not isinstance(tree, dict):
        return tree, True
    for key in GROUP_KEYS:
        if key in tree and len(tree) == 1:
            if key == "not":
                inner, customer = substitute(tree["not"], facts, _join(path, "not"))
                return {"not": inner}, customer
            items = tree[key]
            if not isinstance(items, list):
                return tree, True
            out, customer = [], False
            for i, item in enumerate(items):
                child, needs = substitute(item, facts, _join(path, f"{key}[{i}]"))
                out.append(child)
                customer |= needs
            return {key: out}, customer
    name = tree.get("field")
    checkout = CHECKOUT_FIELDS.get(name) if isinstance(name, str) else None
    if checkout is None:
        return tree, True
    for key in tree:
        if key not in ("field", "op", "value"):
            raise InvalidRules(f"unexpected key {key!r} in a condition", path=path)
    op = tree.get("op")
    if op not in checkout.operators:
        allowed = ", ".join(checkout.operators)
        raise InvalidRules(
            f"operator {show(op)} is not allowed for field {name!r} (allowed: {allowed})",
            path=path,
        )
    value = tree.get("value", MISSING)
    if value is MISSING:
        raise InvalidRules(f"operator {op!r} needs a value", path=_join(path, "value"))
    try:
        cleaned = checkout.clean(op, value)
    except ValueRejected as e:
        raise InvalidRules(e.message, path=_join(path, "value") + e.subpath) from None
    if facts is None:
        return dict(TRUE), False
    return (dict(TRUE) if _decide(checkout, op, cleaned, facts) else dict(FALSE)), False


def fold(tree: Any) -> bool | None:
    """The value of a tree of constant groups, or None when it holds a customer condition."""
    if not isinstance(tree, dict) or len(tree) != 1:
        return None
    if "not" in tree:
        inner = fold(tree["not"])
        return None if inner is None else not inner
    for key, combine in (("all", all), ("any", any)):
        if key in tree:
            values = [fold(child) for child in tree[key]]
            if (key == "all" and False in values) or (key == "any" and True in values):
                return key == "any"
            if None in values:
                return None
            return combine(values)
    return None


def validate_campaign_rules(tree: Any) -> bool:
    """Refuse a rule tree that cannot be evaluated; returns whether it reads the customer.

    Raises InvalidRules with the path of the bad node.
    """
    substituted, customer = substitute(tree, None)
    validate_rules(substituted)
    return customer and fold(substituted) is None


def reads_customer(tree: Any) -> bool:
    """Whether a (valid) tree holds a customer condition."""
    return substitute(tree, None)[1]


def checkout_field_catalog() -> list[dict[str, Any]]:
    """The checkout fields, for docs and the API."""
    return [
        {"field": f.name, "type": f.value_type, "operators": list(f.operators)}
        for f in CHECKOUT_FIELDS.values()
    ]
