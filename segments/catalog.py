"""What the segment builder needs to know about the rule language, and rules read aloud.

``builder_catalog()`` turns the field registry into JSON for ``static/js/segment_builder.js``:
each field with its label, group, value type and, per operator, the shape of the value the
builder asks for (``{"kind": "text"}``, ``{"kind": "between", "item": ...}``, an object of
named inputs for order history...). The script holds no text of its own: labels and button
captions are translated here. ``describe_rules()`` renders a stored tree as readable text for
the detail page.
"""

import calendar
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.utils.translation import get_language, gettext, pgettext_lazy, to_locale
from django.utils.translation import gettext_lazy as _

from customers.currencies import minor_unit_digits
from segments.fields import NO_VALUE_OPS, get_field, registered_families, registered_fields

OPERATOR_LABELS = {
    "eq": _("is"),
    "ne": _("is not"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "between": _("is between"),
    "contains": _("contains"),
    "starts_with": _("starts with"),
    "is_set": _("is set"),
    "is_not_set": _("is not set"),
    "more_than_days_ago": _("more than … days ago"),
    "less_than_days_ago": _("less than … days ago"),
    "today": _("is today"),
    "in_days": _("is in … days"),
    "in_month": _("is in month"),
    "matches": pgettext_lazy("segment condition", "matches"),
}

GROUP_LABELS = {
    "all": _("All of"),
    "any": _("Any of"),
    "not": _("Not"),
}

# Sections of the field picker, in display order; fields of other apps fall into "other".
SECTIONS = {
    "profile": _("Profile"),
    "stats": _("Order stats"),
    "history": _("Order history"),
    "behaviour": _("Behaviour"),
    "cart": _("Cart"),
    "dates": _("Dates"),
    "location": _("Location"),
    "consent": _("Consents"),
    "segment": _("Segments"),
    "metadata": _("Custom attributes"),
    "other": _("Other"),
}

FIELD_LABELS = {
    "first_name": ("profile", _("First name")),
    "last_name": ("profile", _("Last name")),
    "email": ("profile", _("E-mail")),
    "phone": ("profile", _("Phone")),
    "language": ("profile", _("Language")),
    "timezone": ("profile", _("Time zone")),
    "created_at": ("profile", _("Signed up")),
    "country": ("location", _("Country")),
    "city": ("location", _("City")),
    "location.within_km": ("location", _("Distance from a point")),
    "orders_count": ("stats", _("Paid orders")),
    "total_spent": ("stats", _("Total spent")),
    "average_order_value": ("stats", _("Average order value")),
    "first_order_at": ("stats", _("First order")),
    "last_order_at": ("stats", _("Last order")),
    "orders.product": ("history", _("Bought product")),
    "orders.category": ("history", _("Bought in category")),
    "events.count": ("behaviour", _("Event")),
    "cart.abandoned": ("cart", _("Abandoned cart")),
    "cart.value": ("cart", _("Cart value")),
    "cart.contains_product": ("cart", _("Cart contains product")),
    "cart.contains_category": ("cart", _("Cart contains category")),
    "birthday": ("dates", _("Birthday")),
    "signup_anniversary": ("dates", _("Sign-up anniversary")),
    "segment.member": ("segment", _("Member of segment")),
    "consent.email": ("consent", _("Consent: e-mail")),
    "consent.sms": ("consent", _("Consent: SMS")),
    "consent.push": ("consent", _("Consent: push notifications")),
    "consent.tracking": ("consent", _("Consent: behaviour tracking")),
}

# Labels of the field families we ship; families other apps register get a plain label.
FAMILIES = {
    "metadata": ("metadata", _("Custom attribute")),
}

TEXT = {
    "add_condition": _("Add condition"),
    "add_group": _("Add group"),
    "remove": _("Remove"),
    "remove_condition": _("Remove this condition"),
    "remove_group": _("Remove this group"),
    "field": _("Field"),
    "operator": _("Operator"),
    "value": _("Value"),
    "group_kind": _("Group"),
    "key": _("Attribute name"),
    "key_placeholder": _("e.g. plan"),
    "from": _("from"),
    "to": _("to"),
    "and": _("and"),
    "list_hint": _("Separate values with commas"),
    "yes": _("Yes"),
    "no": _("No"),
    "text": _("Text"),
    "number": _("Number"),
    "boolean": _("Yes/No"),
    "value_type": _("Type"),
    "empty_group": _(
        "No conditions yet: an empty “all of” group matches everyone, an empty “any of” "
        "group no one."
    ),
    "empty_not": _("Add the condition or group to negate."),
    "unsupported": _("This condition cannot be edited here; change it in the JSON view."),
    "json_invalid": _("The JSON is not valid: "),
    "matching": _("customers match"),
    "matching_one": _("customer matches"),
    "previewing": _("Counting…"),
    "preview_failed": _("The preview could not be loaded."),
    "no_sample": _("No customer matches these rules."),
    "days": _("days"),
    "hours": _("hours"),
    "choose_segment": _("Choose a segment"),
}


def _money_shape() -> dict[str, Any]:
    currency = settings.OFFERWISE_CURRENCY
    return {"kind": "money", "currency": currency, "digits": minor_unit_digits(currency)}


def _integer(low: int | None = None, high: int | None = None, unit: str = "") -> dict:
    shape: dict[str, Any] = {"kind": "integer"}
    if low is not None:
        shape["min"] = low
    if high is not None:
        shape["max"] = high
    if unit:
        shape["unit"] = unit
    return shape


def _key(key: str, label, value: dict, *, required: bool) -> dict:
    return {"key": key, "label": label, "required": required, "value": value}


def _history_keys(id_label) -> list[dict]:
    return [
        _key("id", id_label, {"kind": "text"}, required=True),
        _key("min_count", _("at least (times)"), _integer(1, 100_000), required=False),
        _key("within_days", _("in the last (days)"), _integer(1, 36_500), required=False),
    ]


def value_shape(value_type: str, op: str) -> dict[str, Any]:
    """The value a condition of this type and operator takes, as the builder asks for it."""
    if op in NO_VALUE_OPS:
        return {"kind": "none"}
    scalar: dict[str, Any]
    if value_type == "string":
        scalar = {"kind": "text"}
    elif value_type == "country":
        scalar = {"kind": "country"}
    elif value_type == "integer":
        scalar = _integer()
    elif value_type == "money":
        scalar = _money_shape()
    elif value_type == "boolean":
        return {"kind": "boolean"}
    elif value_type == "datetime":
        if op in ("more_than_days_ago", "less_than_days_ago"):
            return _integer(0, 36_500, unit="days")
        scalar = {"kind": "date"}
    elif value_type == "metadata":
        if op in ("gt", "gte", "lt", "lte"):
            return {"kind": "number"}
        if op == "between":
            return {"kind": "between", "item": {"kind": "number"}}
        if op in ("contains", "starts_with"):
            return {"kind": "text"}
        if op in ("in", "not_in"):
            return {"kind": "list", "item": {"kind": "scalar"}}
        return {"kind": "scalar"}
    elif value_type in ("birthday", "anniversary"):
        if op == "in_month":
            return {"kind": "month"}
        return _integer(0, 366, unit="days")
    elif value_type == "order_history":
        return {"kind": "object", "keys": _history_keys(_("Product or category id"))}
    elif value_type == "event_history":
        return {
            "kind": "object",
            "keys": [
                _key("name", _("Event name"), {"kind": "text"}, required=True),
                *_history_keys("")[1:],
                _key("properties", _("with properties"), {"kind": "properties"}, required=False),
            ],
        }
    elif value_type == "cart":
        return {
            "kind": "object",
            "keys": [
                _key(
                    "idle_hours",
                    _("idle for more than (hours)"),
                    _integer(1, 8760),
                    required=True,
                )
            ],
        }
    elif value_type == "location":
        return {
            "kind": "object",
            "keys": [
                _key("lat", _("latitude"), {"kind": "number"}, required=True),
                _key("lon", _("longitude"), {"kind": "number"}, required=True),
                _key("km", _("within (km)"), {"kind": "number"}, required=True),
            ],
        }
    elif value_type == "segment":
        return {"kind": "segments"} if op in ("in", "not_in") else {"kind": "segment"}
    else:
        # A field of another app that the builder does not know yet: a JSON value.
        return {"kind": "json"}
    if op in ("in", "not_in"):
        return {"kind": "list", "item": scalar}
    if op == "between":
        return {"kind": "between", "item": scalar}
    return scalar


def _operators(value_type: str, operators: Iterable[str]) -> list[dict]:
    return [
        {"op": op, "label": str(OPERATOR_LABELS.get(op, op)), "value": value_shape(value_type, op)}
        for op in operators
    ]


def builder_catalog(*, segments: Iterable[tuple[int, str]] = ()) -> dict[str, Any]:
    """The JSON the builder script reads: fields, families, groups, segments and its text."""
    fields = []
    for f in registered_fields():
        section, label = FIELD_LABELS.get(f.name, ("other", f.label or f.name))
        fields.append(
            {
                "name": f.name,
                "label": str(label),
                "section": section,
                "value_type": f.value_type,
                "operators": _operators(f.value_type, f.operators),
            }
        )
    families = []
    for prefix in registered_families():
        section, label = FAMILIES.get(prefix, ("other", prefix))
        probe = get_field(f"{prefix}.key")
        if probe is None:
            continue
        families.append(
            {
                "prefix": prefix,
                "label": str(label),
                "section": section,
                "value_type": probe.value_type,
                "operators": _operators(probe.value_type, probe.operators),
            }
        )
    return {
        "fields": fields,
        "families": families,
        "sections": {key: str(label) for key, label in SECTIONS.items()},
        "groups": {key: str(label) for key, label in GROUP_LABELS.items()},
        "segments": [{"id": pk, "name": name} for pk, name in segments],
        "months": [calendar.month_name[m] for m in range(1, 13)],
        "text": {key: str(value) for key, value in TEXT.items()},
    }


# --- rules read aloud ----------------------------------------------------------------------


def _locale() -> Locale:
    try:
        return Locale.parse(to_locale(get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _field_label(name: str) -> str:
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name][1])
    prefix, dot, key = name.partition(".")
    if dot and prefix in FAMILIES:
        return f"{FAMILIES[prefix][1]} “{key}”"
    return name


class _Reader:
    """Formats values of one tree; segment names are looked up once per tree."""

    def __init__(self, segment_names: dict[int, str]):
        self.segment_names = segment_names
        self.locale = _locale()
        self.currency = settings.OFFERWISE_CURRENCY
        self.digits = minor_unit_digits(self.currency)

    def scalar(self, value_type: str, value: Any) -> str:
        if isinstance(value, bool):
            return gettext("yes") if value else gettext("no")
        if value_type == "money" and isinstance(value, int):
            return format_currency(
                Decimal(value).scaleb(-self.digits), self.currency, locale=self.locale
            )
        if isinstance(value, int | float):
            return format_decimal(value, locale=self.locale)
        if value_type == "country" and isinstance(value, str):
            return value.upper()
        if isinstance(value, str):
            return value
        return str(value)

    def segment(self, value: Any) -> str:
        ids = value if isinstance(value, list) else [value]
        names = [self.segment_names.get(i, f"#{i}") for i in ids]
        return ", ".join(f"“{name}”" for name in names)

    def history(self, spec: dict, thing: str) -> str:
        parts = [thing]
        if spec.get("min_count", 1) != 1:
            parts.append(gettext("at least %(n)s times") % {"n": spec["min_count"]})
        if "within_days" in spec:
            parts.append(gettext("in the last %(n)s days") % {"n": spec["within_days"]})
        return " ".join(parts)

    def condition(self, node: dict) -> str:
        name = str(node.get("field", ""))
        op = str(node.get("op", ""))
        value = node.get("value")
        field = get_field(name)
        value_type = field.value_type if field else ""
        label = _field_label(name)
        if name in ("orders.product", "orders.category") and isinstance(value, dict):
            what = (
                gettext("bought product %(id)s")
                if name == "orders.product"
                else gettext("bought in category %(id)s")
            )
            return self.history(value, what % {"id": value.get("id")})
        if name == "events.count" and isinstance(value, dict):
            text = self.history(value, gettext("event %(name)s") % {"name": value.get("name")})
            props = value.get("properties") or {}
            if props:
                shown = ", ".join(f"{k} = {v}" for k, v in props.items())
                text += " " + gettext("with %(properties)s") % {"properties": shown}
            return text
        if name == "cart.abandoned" and isinstance(value, dict):
            return gettext("has a cart idle for more than %(n)s hours") % {
                "n": value.get("idle_hours")
            }
        if name == "location.within_km" and isinstance(value, dict):
            return gettext("within %(km)s km of %(lat)s, %(lon)s") % {
                "km": self.scalar("", value.get("km")),
                "lat": value.get("lat"),
                "lon": value.get("lon"),
            }
        if name == "segment.member":
            verb = {
                "eq": gettext("member of %(s)s"),
                "ne": gettext("not a member of %(s)s"),
                "in": gettext("member of any of %(s)s"),
                "not_in": gettext("member of none of %(s)s"),
            }.get(op, "%(s)s")
            return verb % {"s": self.segment(value)}
        if name.startswith("consent.") and isinstance(value, bool):
            granted = value == (op == "eq")
            return f"{label} " + (gettext("granted") if granted else gettext("not granted"))
        if op == "in_month" and isinstance(value, int) and 1 <= value <= 12:
            return f"{label} " + gettext("is in %(month)s") % {"month": calendar.month_name[value]}
        if op == "in_days":
            return f"{label} " + gettext("is in %(n)s days") % {"n": value}
        if op == "more_than_days_ago":
            return f"{label} " + gettext("more than %(n)s days ago") % {"n": value}
        if op == "less_than_days_ago":
            return f"{label} " + gettext("less than %(n)s days ago") % {"n": value}
        op_label = str(OPERATOR_LABELS.get(op, op))
        if op in NO_VALUE_OPS:
            return f"{label} {op_label}"
        if op == "between" and isinstance(value, list) and len(value) == 2:
            low, high = (self.scalar(value_type, v) for v in value)
            return f"{label} " + gettext("is between %(low)s and %(high)s") % {
                "low": low,
                "high": high,
            }
        if isinstance(value, list):
            shown = ", ".join(self.scalar(value_type, v) for v in value)
        else:
            shown = self.scalar(value_type, value)
        return f"{label} {op_label} {shown}"

    def node(self, node: Any) -> dict:
        if isinstance(node, dict):
            for key in ("all", "any"):
                if key in node and isinstance(node[key], list):
                    children = [self.node(child) for child in node[key]]
                    return {"group": key, "label": str(GROUP_LABELS[key]), "children": children}
            if "not" in node:
                return {
                    "group": "not",
                    "label": str(GROUP_LABELS["not"]),
                    "children": [self.node(node["not"])],
                }
            if "field" in node:
                return {"text": self.condition(node)}
        return {"text": str(node)}


def _segment_ids(tree: Any) -> set[int]:
    found: set[int] = set()
    if isinstance(tree, dict):
        if tree.get("field") == "segment.member":
            value = tree.get("value")
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, int):
                    found.add(v)
        for child in tree.values():
            found |= _segment_ids(child)
    elif isinstance(tree, list):
        for child in tree:
            found |= _segment_ids(child)
    return found


def describe_rules(tree: Any) -> dict:
    """The tree as nested ``{"group", "label", "children"}`` / ``{"text"}`` nodes."""
    from segments.models import Segment

    ids = _segment_ids(tree)
    names = dict(Segment.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    return _Reader(names).node(tree)


def rules_text(described: dict) -> str:
    """One line: ``all of: Country is IE; Paid orders ≥ 10``."""
    if "text" in described:
        return described["text"]
    inner = "; ".join(
        f"({rules_text(c)})" if "group" in c and len(described["children"]) > 1 else rules_text(c)
        for c in described["children"]
    )
    return f"{described['label'].lower()}: {inner}"
