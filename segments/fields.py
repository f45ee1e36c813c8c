"""The field registry of the rule language, and the fields every installation has.

A field turns one condition ``{"field": ..., "op": ..., "value": ...}`` into a ``Q`` on
``Customer``. Other apps add theirs with ``register_field`` (a fixed name such as
``loyalty.points``) or ``register_field_family`` (a prefix such as ``metadata.<key>``).

Semantics shared by every built-in field, and kept by the oracle of the property test:

- A condition is two-valued: it never evaluates to SQL NULL, so ``not`` is an exact complement.
- A value that is not set (NULL column, blank string, missing or JSON-null metadata key)
  satisfies no comparison; only ``is_not_set`` selects it.
- ``ne`` and ``not_in`` are the negations of ``eq`` and ``in``: they *include* customers whose
  value is not set, exactly as ``{"not": {... "op": "eq" ...}}`` would.
- String comparisons are case-insensitive (both sides go through SQL ``LOWER``, which folds
  ASCII everywhere and more on PostgreSQL). Country codes are stored upper case and compared
  exactly after upper-casing the rule's value. Event property filters are exact JSON equality.
- ``between`` includes both ends. "more than N days ago" is strictly before ``now - N days``;
  "less than N days ago" is strictly after it; "within D days" windows of order and event
  history include their first instant (``>= now - D days``).
- ``orders.product`` / ``orders.category`` count paid orders containing the product or
  category (an order with three of them counts once); ``events.count`` counts event rows.
- Birthdays and sign-up anniversaries use each customer's local date in their ``timezone``
  (see ``per_local_today``); Feb 29 is celebrated on Feb 28 in common years.
"""

import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from django.db.models import Case as CaseWhen
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform, compile_json_path
from django.db.models.functions import (
    ASin,
    Cast,
    Coalesce,
    Cos,
    ExtractDay,
    ExtractMonth,
    Least,
    Lower,
    Power,
    Radians,
    Sin,
    Sqrt,
)
from django.db.models.lookups import (
    Contains,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.db.utils import NotSupportedError

from customers.models import Cart, Category, Consent, Event, Product, Purchase
from segments.errors import InvalidRules

# Expressions that are always true / always false. An empty Q() would vanish inside an OR
# and turn "match no one" into "match everyone".
MATCH_ALL = Q(pk__isnull=False)
MATCH_NONE = Q(pk__in=[])

MISSING = object()
MAX_LIST = 500
MAX_STRING = 255
MAX_DAYS = 36_500
EARTH_RADIUS_KM = 6371.0088
KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")

NO_VALUE_OPS = frozenset({"is_set", "is_not_set", "today", "this_month"})
COMPARISON_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
STRING_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set")
CODE_OPS = ("eq", "ne", "in", "not_in", "is_set", "is_not_set")
DATETIME_OPS = ("gt", "gte", "lt", "lte", "between", "more_than_days_ago", "less_than_days_ago")
SET_OPS = ("is_set", "is_not_set")
LOOKUPS = {
    "eq": Exact,
    "in": In,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "lt": LessThan,
    "lte": LessThanOrEqual,
    "contains": Contains,
    "starts_with": StartsWith,
}


class ValueRejected(Exception):
    """Raised by a field's ``clean``; ``subpath`` points inside the value (``.min_count``)."""

    def __init__(self, message: str, subpath: str = ""):
        self.message = message
        self.subpath = subpath
        super().__init__(message)


@dataclass
class Context:
    """What compiling needs besides the condition: the clock, and the segments being expanded.

    ``strict`` is set while validating: a reference to a missing segment is refused instead
    of matching no one. ``budget`` counts conditions across nested segments.
    """

    now: dt.datetime
    segments: tuple[int, ...] = ()
    strict: bool = False
    budget: list[int] = field(default_factory=lambda: [0])
    # Segments read ahead for ``segment.member`` (by id), shared by nested contexts; None
    # reads them as they are met.
    loaded: dict | None = None


@dataclass(frozen=True)
class Field:
    """One field of the rule language.

    ``clean(op, value)`` returns the normalised value or raises ``ValueRejected``;
    ``compile(op, cleaned_value, context)`` returns a two-valued ``Q`` on ``Customer``.
    """

    name: str
    value_type: str
    operators: tuple[str, ...]
    clean: Callable[[str, Any], Any]
    compile: Callable[[str, Any, Context], Q]
    label: str = ""


_fields: dict[str, Field] = {}
_families: dict[str, Callable[[str], Field]] = {}


def register_field(f: Field) -> Field:
    """Add a field to the language; raises ValueError when the name is taken."""
    if f.name in _fields or f.name.split(".", 1)[0] in _families:
        raise ValueError(f"segment field {f.name!r} is already registered")
    _fields[f.name] = f
    return f


def register_field_family(prefix: str, build: Callable[[str], Field]) -> None:
    """Add fields named ``<prefix>.<key>``, built per key; raises ValueError when taken."""
    if prefix in _families:
        raise ValueError(f"segment field family {prefix!r} is already registered")
    _families[prefix] = build


def get_field(name: str) -> Field | None:
    """The field for a condition's ``field`` name, or None when the language has no such field."""
    if name in _fields:
        return _fields[name]
    prefix, dot, key = name.partition(".")
    if dot and prefix in _families and KEY_PATTERN.fullmatch(key):
        return _family_field(prefix, key)
    return None


@lru_cache(maxsize=1024)
def _family_field(prefix: str, key: str) -> Field:
    return _families[prefix](key)


def registered_fields() -> list[Field]:
    """The fixed-name fields, in registration order (for the builder)."""
    return list(_fields.values())


def registered_families() -> list[str]:
    """The prefixes of field families (``metadata`` for ``metadata.<key>``), for the builder."""
    return list(_families)


def known_operators() -> set[str]:
    """Every operator some field accepts: tells a typo from an operator the field refuses."""
    ops = {op for f in _fields.values() for op in f.operators}
    for build in _families.values():
        ops.update(build("key").operators)
    return ops


# --- values --------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A rule value as JSON, cut short, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_number(value: Any) -> bool:
    """A finite JSON number (not a boolean) small enough to compare exactly as a float."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e15
    )


def clean_string(value: Any) -> str:
    """A non-empty string without NUL. Raises ValueRejected."""
    if not isinstance(value, str) or not value or len(value) > MAX_STRING or "\x00" in value:
        raise ValueRejected(
            f"expected a non-empty string of at most {MAX_STRING} characters, got {show(value)}"
        )
    return value


def clean_number(value: Any) -> float | int:
    """Raises ValueRejected unless ``is_number``."""
    if not is_number(value):
        raise ValueRejected(f"expected a number, got {show(value)}")
    return value


def clean_integer(value: Any) -> int:
    """A whole number. Raises ValueRejected."""
    if not is_number(value) or not isinstance(value, int):
        raise ValueRejected(f"expected a whole number, got {show(value)}")
    return value


def clean_boolean(value: Any) -> bool:
    """true or false. Raises ValueRejected."""
    if not isinstance(value, bool):
        raise ValueRejected(f"expected true or false, got {show(value)}")
    return value


def clean_country(value: Any) -> str:
    """A two-letter country code, upper-cased. Raises ValueRejected."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueRejected(f"expected a two-letter country code, got {show(value)}")
    return value.upper()


def clean_datetime(value: Any) -> dt.datetime:
    """An ISO 8601 date-time with an offset, or a date (its midnight, UTC)."""
    message = f"expected an ISO 8601 date or date-time with offset, got {show(value)}"
    if not isinstance(value, str) or len(value) > 40:
        raise ValueRejected(message)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueRejected(message) from None
    if parsed.tzinfo is None:
        raise ValueRejected(message)
    return parsed


def clean_count(value: Any, *, low: int, high: int) -> int:
    """A whole number within [low, high]. Raises ValueRejected."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueRejected(f"expected a whole number from {low} to {high}, got {show(value)}")
    return value


def clean_days(value: Any) -> int:
    """A number of days for the relative-date operators. Raises ValueRejected."""
    return clean_count(value, low=0, high=MAX_DAYS)


def clean_list(value: Any, item: Callable[[Any], Any]) -> list[Any]:
    """A bounded non-empty list of ``item`` values. Raises ValueRejected at the bad element."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise ValueRejected(f"expected a list of 1 to {MAX_LIST} values, got {show(value)}")
    cleaned = []
    for i, element in enumerate(value):
        try:
            cleaned.append(item(element))
        except ValueRejected as e:
            raise ValueRejected(e.message, f"[{i}]{e.subpath}") from None
    return cleaned


def clean_between(value: Any, item: Callable[[Any], Any]) -> tuple[Any, Any]:
    """[low, high] with low <= high. Raises ValueRejected."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueRejected(f"expected [low, high], got {show(value)}")
    low, high = clean_list(value, item)
    if low > high:
        raise ValueRejected(f"expected [low, high] with low <= high, got {show(value)}")
    return low, high


def clean_object(value: Any, spec: dict[str, tuple[bool, Callable[[Any], Any]]]) -> dict:
    """A JSON object with the keys of ``spec`` (name -> (required, cleaner)) and no others."""
    if not isinstance(value, dict):
        raise ValueRejected(f"expected an object with {', '.join(spec)}, got {show(value)}")
    for key in value:
        if key not in spec:
            raise ValueRejected(f"unexpected key {key!r} (expected: {', '.join(spec)})")
    cleaned = {}
    for key, (required, cleaner) in spec.items():
        if key not in value:
            if required:
                raise ValueRejected(f"{key!r} is required", f".{key}")
            continue
        try:
            cleaned[key] = cleaner(value[key])
        except ValueRejected as e:
            raise ValueRejected(e.message, f".{key}{e.subpath}") from None
    return cleaned


def scalar_cleaner(scalar: Callable[[Any], Any]) -> Callable[[str, Any], Any]:
    """Clean the value of a comparison operator whose operands are ``scalar`` values."""

    def clean(op: str, value: Any) -> Any:
        if op in ("in", "not_in"):
            return clean_list(value, scalar)
        if op == "between":
            return clean_between(value, scalar)
        if op in ("more_than_days_ago", "less_than_days_ago"):
            return clean_days(value)
        return scalar(value)

    return clean


# --- building blocks -----------------------------------------------------------------------


def compare(lhs: Any, op: str, value: Any) -> Q:
    """``lhs <op> value`` for the comparison operators, on any expression."""
    if op == "between":
        return Q(GreaterThanOrEqual(lhs, value[0])) & Q(LessThanOrEqual(lhs, value[1]))
    if op in ("ne", "not_in"):
        return ~compare(lhs, {"ne": "eq", "not_in": "in"}[op], value)
    return Q(LOOKUPS[op](lhs, value))


def relative(op: str, days: int, now: dt.datetime) -> tuple[str, dt.datetime]:
    """The plain comparison a relative-date operator stands for."""
    cutoff = now - dt.timedelta(days=days)
    return ("lt" if op == "more_than_days_ago" else "gt"), cutoff


class JSONKind(Func):
    """The JSON type of ``column[key]`` as PostgreSQL names it (number, string, boolean,
    null, array, object), or NULL when the key is missing.

    Comparisons are typed: a number never equals the string "5", and a cast of a string to
    a number would fail on PostgreSQL, so every typed comparison is guarded by this kind.
    """

    output_field = CharField()

    def __init__(self, column: str, key: str):
        super().__init__(F(column))
        self.key = key

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        path = compile_json_path([self.key])
        sql = (
            f"CASE JSON_TYPE({column}, %s) WHEN 'integer' THEN 'number' "
            "WHEN 'real' THEN 'number' WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' "
            f"WHEN 'false' THEN 'boolean' ELSE JSON_TYPE({column}, %s) END"
        )
        return sql, (*params, path, *params, path)

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return f"JSONB_TYPEOF({column} -> %s)", (*params, self.key)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("Segment rules on JSON need SQLite or PostgreSQL.")


def json_kind(column: str, key: str) -> Coalesce:
    """``JSONKind`` with "missing" for an absent key, so that guards stay two-valued."""
    return Coalesce(JSONKind(column, key), Value("missing"), output_field=CharField())


def json_equals(column: str, key: str, value: str | float | bool) -> Q:
    """``column[key] == value`` as JSON, of the same JSON type."""
    if isinstance(value, bool):
        kind = "boolean"
    else:
        kind = "string" if isinstance(value, str) else "number"
    exact = KeyTransform(key, column).get_lookup("exact")
    # A typed right-hand side: the lookup cannot infer it from an unresolved column.
    rhs = Value(value, output_field=JSONField())
    return Q(Exact(json_kind(column, key), kind)) & Q(exact(KeyTransform(key, column), rhs))


# --- customer attributes and stats ---------------------------------------------------------


def _string_field(name: str, column: str, label: str = "") -> Field:
    """A non-null text column; blank means not set."""

    def compile(op: str, value: Any, ctx: Context) -> Q:
        if op == "is_set":
            return ~Q(**{column: ""})
        if op == "is_not_set":
            return Q(**{column: ""})
        lowered = [v.lower() for v in value] if isinstance(value, list) else value.lower()
        return compare(Lower(F(column)), op, lowered)

    return Field(name, "string", STRING_OPS, scalar_cleaner(clean_string), compile, label)


def _country_field(name: str, column: str, label: str = "") -> Field:
    def compile(op: str, value: Any, ctx: Context) -> Q:
        if op == "is_set":
            return ~Q(**{column: ""})
        if op == "is_not_set":
            return Q(**{column: ""})
        return compare(F(column), op, value)

    return Field(name, "country", CODE_OPS, scalar_cleaner(clean_country), compile, label)


def _number_field(name: str, column: str, value_type: str, label: str = "") -> Field:
    """A non-null integer column: counts and money in minor units."""

    def compile(op: str, value: Any, ctx: Context) -> Q:
        return compare(F(column), op, value)

    return Field(name, value_type, COMPARISON_OPS, scalar_cleaner(clean_integer), compile, label)


def _datetime_field(name: str, column: str, *, nullable: bool, label: str = "") -> Field:
    def compile(op: str, value: Any, ctx: Context) -> Q:
        is_set = Q(**{f"{column}__isnull": False})
        if op == "is_set":
            return is_set
        if op == "is_not_set":
            return ~is_set
        if op in ("more_than_days_ago", "less_than_days_ago"):
            op, value = relative(op, value, ctx.now)
        # The explicit guard keeps the condition false (not NULL) when the column is NULL.
        return is_set & compare(F(column), op, value) if nullable else compare(F(column), op, value)

    ops = DATETIME_OPS + (SET_OPS if nullable else ())
    return Field(name, "datetime", ops, scalar_cleaner(clean_datetime), compile, label)


# --- metadata.<key> ------------------------------------------------------------------------

METADATA_OPS = (*COMPARISON_OPS, "contains", "starts_with", *SET_OPS)


def _clean_metadata_value(op: str, value: Any) -> tuple[str, Any]:
    """The metadata value with the JSON kind that decides how it is compared."""
    if op in ("gt", "gte", "lt", "lte"):
        return "number", clean_number(value)
    if op == "between":
        return "number", clean_between(value, clean_number)
    if op in ("contains", "starts_with"):
        return "string", clean_string(value)
    if op in ("in", "not_in"):
        if isinstance(value, list) and value and isinstance(value[0], str):
            return "string", clean_list(value, clean_string)
        if isinstance(value, list) and value and is_number(value[0]):
            return "number", clean_list(value, clean_number)
        raise ValueRejected(f"expected a list of strings or a list of numbers, got {show(value)}")
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, str):
        return "string", clean_string(value)
    if is_number(value):
        return "number", value
    raise ValueRejected(f"expected a string, a number or true/false, got {show(value)}")


def _metadata_field(key: str) -> Field:
    def clean(op: str, value: Any) -> Any:
        return _clean_metadata_value(op, value)

    def compile(op: str, cleaned: tuple[str, Any], ctx: Context) -> Q:
        kind_expr = json_kind("metadata", key)
        if op in SET_OPS:
            is_set = ~Q(In(kind_expr, ["missing", "null"]))
            return is_set if op == "is_set" else ~is_set
        kind, value = cleaned
        if op in ("ne", "not_in"):
            return ~compile({"ne": "eq", "not_in": "in"}[op], cleaned, ctx)
        if kind == "boolean":
            return json_equals("metadata", key, value)
        is_kind = Q(Exact(kind_expr, kind))
        text = KeyTextTransform(key, "metadata")
        if kind == "number":
            # CASE, not AND: PostgreSQL may evaluate the cast before a sibling guard.
            operand = CaseWhen(
                When(is_kind, then=Cast(text, FloatField())), output_field=FloatField()
            )
            value = [float(v) for v in value] if isinstance(value, list | tuple) else value
        else:
            operand = Lower(CaseWhen(When(is_kind, then=text), output_field=CharField()))
            value = [v.lower() for v in value] if isinstance(value, list) else value.lower()
        return is_kind & compare(operand, op, value)

    return Field(f"metadata.{key}", "metadata", METADATA_OPS, clean, compile)


# --- consents ------------------------------------------------------------------------------


def _consent_field(purpose: str) -> Field:
    def clean(op: str, value: Any) -> bool:
        return clean_boolean(value)

    def compile(op: str, value: bool, ctx: Context) -> Q:
        granted = Q(
            Exists(Consent.objects.filter(customer=OuterRef("pk"), purpose=purpose, granted=True))
        )
        return granted if value == (op == "eq") else ~granted

    return Field(f"consent.{purpose}", "boolean", ("eq", "ne"), clean, compile)


# --- order history, behaviour, carts -------------------------------------------------------


def at_least(subquery, min_count: int, *, distinct: str | None = None) -> Q:
    """At least ``min_count`` rows in a correlated subquery (or distinct values of the field
    ``distinct`` in them): EXISTS when one row is enough."""
    if min_count == 1:
        return Q(Exists(subquery))
    # The subqueries given here join nothing, so each row is one row of their own table.
    counted = (
        subquery.order_by()
        .values("customer")
        .annotate(n=Count(distinct, distinct=True) if distinct else Count("pk"))
        .values("n")
    )
    count = Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
    return Q(GreaterThanOrEqual(count, min_count))


def _history_spec() -> dict[str, tuple[bool, Callable[[Any], Any]]]:
    return {
        "id": (True, clean_string),
        "min_count": (False, lambda v: clean_count(v, low=1, high=100_000)),
        "within_days": (False, lambda v: clean_count(v, low=1, high=MAX_DAYS)),
    }


def _orders_field(name: str, model: type[Product | Category], column: str) -> Field:
    """Bought a product / something in a category at least N times (N paid orders containing
    it, whatever the quantities) in the last D days (orders placed at or after now - D days).
    A line counts in the category its product had when it was bought."""

    def clean(op: str, value: Any) -> dict:
        return clean_object(value, _history_spec())

    def compile(op: str, spec: dict, ctx: Context) -> Q:
        # The purchase history holds a row per paid order and product (with the line's
        # category), so each customer's check is one index-only scan of (customer,
        # product|category, ordered_at, order), counting distinct orders. The id is looked
        # up once per query (a scalar subquery).
        wanted = Subquery(model.objects.filter(source_id=spec["id"]).values("pk")[:1])
        purchases = Purchase.objects.filter(customer=OuterRef("pk"), **{column: wanted})
        if "within_days" in spec:
            since = ctx.now - dt.timedelta(days=spec["within_days"])
            purchases = purchases.filter(ordered_at__gte=since)
        return at_least(purchases, spec.get("min_count", 1), distinct="order")

    return Field(name, "order_history", ("matches",), clean, compile)


def _clean_properties(value: Any) -> dict[str, str | float]:
    if not isinstance(value, dict) or len(value) > 10:
        raise ValueRejected(f"expected an object of at most 10 properties, got {show(value)}")
    for key, prop in value.items():
        if not KEY_PATTERN.fullmatch(key):
            raise ValueRejected(f"expected a property name like 'category', got {show(key)}")
        if not (isinstance(prop, str) and prop) and not is_number(prop):
            raise ValueRejected(f"expected a string or a number, got {show(prop)}", f".{key}")
    return value


def _clean_events(op: str, value: Any) -> dict:
    return clean_object(
        value,
        {
            "name": (True, clean_string),
            "min_count": (False, lambda v: clean_count(v, low=1, high=100_000)),
            "within_days": (False, lambda v: clean_count(v, low=1, high=MAX_DAYS)),
            "properties": (False, _clean_properties),
        },
    )


def _compile_events(op: str, spec: dict, ctx: Context) -> Q:
    """Event ``name`` at least N times in the last D days (occurred at or after now - D days),
    each with the given properties (exact JSON equality)."""
    events = Event.objects.filter(customer=OuterRef("pk"), name=spec["name"])
    if "within_days" in spec:
        events = events.filter(occurred_at__gte=ctx.now - dt.timedelta(days=spec["within_days"]))
    for key, prop in spec.get("properties", {}).items():
        events = events.filter(json_equals("properties", key, prop))
    return at_least(events, spec.get("min_count", 1))


def _active_carts():
    return Cart.objects.filter(customer=OuterRef("pk"), status=Cart.Status.ACTIVE)


def _clean_abandoned(op: str, value: Any) -> dict:
    return clean_object(value, {"idle_hours": (True, lambda v: clean_count(v, low=1, high=8760))})


def _compile_abandoned(op: str, spec: dict, ctx: Context) -> Q:
    """An active, non-empty cart untouched for more than ``idle_hours``."""
    idle_since = ctx.now - dt.timedelta(hours=spec["idle_hours"])
    return Q(Exists(_active_carts().filter(items_count__gt=0, last_activity_at__lt=idle_since)))


def _compile_cart_value(op: str, value: Any, ctx: Context) -> Q:
    """Some active cart's items amount satisfies the comparison."""
    if op in ("ne", "not_in"):
        return ~_compile_cart_value({"ne": "eq", "not_in": "in"}[op], value, ctx)
    return Q(Exists(_active_carts().filter(compare(F("items_amount"), op, value))))


def _cart_contains_field(name: str, lookup: str) -> Field:
    def compile(op: str, value: Any, ctx: Context) -> Q:
        ids = value if isinstance(value, list) else [value]
        contains = Q(Exists(_active_carts().filter(**{f"{lookup}__in": ids})))
        return ~contains if op in ("ne", "not_in") else contains

    return Field(
        name, "string", ("eq", "ne", "in", "not_in"), scalar_cleaner(clean_string), compile
    )


# --- dates: birthdays and sign-up anniversaries --------------------------------------------


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@lru_cache(maxsize=4)
def _zones_by_local_date(minute: dt.datetime) -> dict[dt.date, frozenset[str]]:
    # Local midnights fall on whole minutes, so the grouping holds for the whole minute.
    groups: dict[dt.date, set[str]] = {}
    for name in _zone_names():
        groups.setdefault(minute.astimezone(zoneinfo.ZoneInfo(name)).date(), set()).add(name)
    return {day: frozenset(names) for day, names in groups.items()}


def local_today(now: dt.datetime, tz_name: str) -> dt.date:
    """The customer's date at ``now``; an unknown time zone counts as UTC."""
    tz = zoneinfo.ZoneInfo(tz_name) if tz_name in _zone_names() else dt.UTC
    return now.astimezone(tz).date()


def per_local_today(now: dt.datetime, condition: Callable[[dt.date], Q]) -> Q:
    """``condition(today)`` where ``today`` is each customer's own date at ``now``.

    At any instant the time zones of the world span at most three dates. Customers are split
    by their ``timezone`` column into those groups (unknown zones fall with UTC), so "today"
    is the customer's local today, not the server's.
    """
    now = now.astimezone(dt.UTC)
    groups = _zones_by_local_date(now.replace(second=0, microsecond=0))
    utc_today = now.date()
    others = sorted(name for day, names in groups.items() if day != utc_today for name in names)
    # Without time zone data every customer still gets the UTC date.
    groups = {utc_today: frozenset(), **groups}
    parts = []
    for day, names in sorted(groups.items()):
        if day == utc_today:
            parts.append(condition(day) & ~Q(timezone__in=others))
        else:
            parts.append(condition(day) & Q(timezone__in=sorted(names)))
    result = parts[0]
    for part in parts[1:]:
        result |= part
    return result


def month_days(day: dt.date) -> list[tuple[int, int]]:
    """(month, day) pairs celebrated on ``day``: Feb 29 is celebrated on Feb 28 in common
    years."""
    pairs = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not _is_leap(day.year):
        pairs.append((2, 29))
    return pairs


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _clean_date_op(op: str, value: Any) -> Any:
    if op == "in_days":
        return clean_count(value, low=0, high=366)
    if op == "in_month":
        return clean_count(value, low=1, high=12)
    return None


def _compile_birthday(op: str, value: Any, ctx: Context) -> Q:
    """Birthday today / exactly N days from today / this month (the customer's local date),
    or in month M."""
    if op == "is_set":
        return Q(birthday_mmdd__isnull=False)
    if op == "is_not_set":
        return Q(birthday_mmdd__isnull=True)
    if op == "in_month":
        return Q(birthday_mmdd__gte=value * 100 + 1, birthday_mmdd__lte=value * 100 + 31)
    if op == "this_month":
        return per_local_today(
            ctx.now,
            lambda today: Q(
                birthday_mmdd__gte=today.month * 100 + 1, birthday_mmdd__lte=today.month * 100 + 31
            ),
        )
    offset = dt.timedelta(days=value or 0)
    return per_local_today(
        ctx.now,
        lambda today: Q(birthday_mmdd__in=[m * 100 + d for m, d in month_days(today + offset)]),
    )


def _compile_anniversary(op: str, value: Any, ctx: Context) -> Q:
    """Sign-up anniversary (a whole number of years, at least one, after the UTC sign-up
    date) today or exactly N days from today, in the customer's local date."""
    offset = dt.timedelta(days=value or 0)
    month = ExtractMonth("created_at", tzinfo=dt.UTC)
    day_of_month = ExtractDay("created_at", tzinfo=dt.UTC)

    def on(today: dt.date) -> Q:
        target = today + offset
        same_day = Q(pk__in=[])
        for m, d in month_days(target):
            same_day |= Q(Exact(month, m)) & Q(Exact(day_of_month, d))
        start_of_year = dt.datetime(target.year, 1, 1, tzinfo=dt.UTC)
        return same_day & Q(created_at__lt=start_of_year)

    return per_local_today(ctx.now, on)


# --- location ------------------------------------------------------------------------------


def _clean_within_km(op: str, value: Any) -> dict:
    def ranged(low: float, high: float) -> Callable[[Any], float]:
        def clean(v: Any) -> float:
            if not is_number(v) or not low <= v <= high:
                raise ValueRejected(f"expected a number from {low:g} to {high:g}, got {show(v)}")
            return float(v)

        return clean

    return clean_object(
        value,
        {
            "lat": (True, ranged(-90, 90)),
            "lon": (True, ranged(-180, 180)),
            "km": (True, ranged(0, 20_016)),
        },
    )


def _compile_within_km(op: str, spec: dict, ctx: Context) -> Q:
    """Within ``km`` of a point (great-circle distance): a bounding box the indexes can use,
    then the exact haversine distance, both with portable database functions."""
    lat, lon, km = spec["lat"], spec["lon"], spec["km"]
    dlat = math.degrees(km / EARTH_RADIUS_KM)
    box = Q(latitude__gte=lat - dlat, latitude__lte=lat + dlat, longitude__isnull=False)
    cos_lat = math.cos(math.radians(lat))
    if abs(lat) + dlat < 90 and cos_lat > 0:
        # Widest at the latitude nearest the pole within the box.
        dlon = math.degrees(km / (EARTH_RADIUS_KM * math.cos(math.radians(abs(lat) + dlat))))
        if dlon < 180:
            west, east = lon - dlon, lon + dlon
            if west < -180:
                box &= Q(longitude__gte=west + 360) | Q(longitude__lte=east)
            elif east > 180:
                box &= Q(longitude__gte=west) | Q(longitude__lte=east - 360)
            else:
                box &= Q(longitude__gte=west, longitude__lte=east)
    phi1, lambda1 = Radians(F("latitude")), Radians(F("longitude"))
    phi2, lambda2 = math.radians(lat), math.radians(lon)
    a = Power(Sin((phi1 - Value(phi2)) / 2), 2) + Cos(phi1) * Value(math.cos(phi2)) * Power(
        Sin((lambda1 - Value(lambda2)) / 2), 2
    )
    # Rounding can push sqrt(a) a hair above 1, outside the domain of asin.
    distance = 2 * EARTH_RADIUS_KM * ASin(Least(Sqrt(a), Value(1.0)))
    return box & Q(LessThanOrEqual(distance, km))


# --- membership of another segment ---------------------------------------------------------

MAX_SEGMENT_NESTING = 5


def _clean_segment_ids(op: str, value: Any) -> list[int]:
    def segment_id(v: Any) -> int:
        return clean_count(v, low=1, high=2**63 - 1)

    return clean_list(value, segment_id) if op in ("in", "not_in") else [segment_id(value)]


def _compile_segment_member(op: str, ids: list[int], ctx: Context) -> Q:
    """Member of (any of) the segments: static ones by their member list, dynamic ones by
    their own rules, expanded in place. Raises ValueRejected on a cycle, on nesting deeper
    than MAX_SEGMENT_NESTING, and (when validating) on a missing segment."""
    from segments.models import Segment, SegmentMember
    from segments.rules import compile_tree

    if ctx.loaded is not None:
        missing = [i for i in ids if i not in ctx.loaded]
        if missing:
            ctx.loaded.update({s.pk: s for s in Segment.objects.filter(pk__in=missing)})
            ctx.loaded.update({i: None for i in missing if i not in ctx.loaded})
        found = {i: ctx.loaded[i] for i in ids if ctx.loaded[i] is not None}
    else:
        found = {s.pk: s for s in Segment.objects.filter(pk__in=ids)}
    member = Q(pk__in=[])
    for segment_id in ids:
        segment = found.get(segment_id)
        if segment is None:
            if ctx.strict:
                raise ValueRejected(f"no segment with id {segment_id}")
            continue
        if segment.kind == Segment.Kind.STATIC:
            member |= Q(
                Exists(SegmentMember.objects.filter(segment=segment, customer=OuterRef("pk")))
            )
            continue
        if segment_id in ctx.segments:
            chain = " -> ".join(str(s) for s in (*ctx.segments, segment_id))
            raise ValueRejected(f"segment {segment_id} refers back to itself ({chain})")
        if len(ctx.segments) >= MAX_SEGMENT_NESTING:
            raise ValueRejected(f"segments are nested deeper than {MAX_SEGMENT_NESTING} levels")
        nested = Context(ctx.now, (*ctx.segments, segment_id), ctx.strict, ctx.budget, ctx.loaded)
        try:
            member |= compile_tree(segment.rules, nested)
        except InvalidRules as e:
            raise ValueRejected(f"segment {segment_id}: {e.message}") from None
    return ~member if op in ("ne", "not_in") else member


# --- the built-in fields -------------------------------------------------------------------


def _register_builtins(fields: Iterable[Field]) -> None:
    for f in fields:
        register_field(f)


_register_builtins(
    [
        _string_field("first_name", "first_name"),
        _string_field("last_name", "last_name"),
        _string_field("email", "email"),
        _string_field("phone", "phone"),
        _string_field("language", "language"),
        _country_field("country", "country"),
        _string_field("city", "city"),
        _string_field("timezone", "timezone"),
        _datetime_field("created_at", "created_at", nullable=False),
        _number_field("orders_count", "orders_count", "integer"),
        _number_field("total_spent", "total_spent", "money"),
        _number_field("average_order_value", "average_order_value", "money"),
        _datetime_field("first_order_at", "first_order_at", nullable=True),
        _datetime_field("last_order_at", "last_order_at", nullable=True),
        *(_consent_field(purpose) for purpose in Consent.Purpose.values),
        _orders_field("orders.product", Product, "product_id"),
        _orders_field("orders.category", Category, "category_id"),
        Field("events.count", "event_history", ("matches",), _clean_events, _compile_events),
        Field("cart.abandoned", "cart", ("matches",), _clean_abandoned, _compile_abandoned),
        Field(
            "cart.value",
            "money",
            ("eq", "ne", "gt", "gte", "lt", "lte", "between"),
            scalar_cleaner(clean_integer),
            _compile_cart_value,
        ),
        _cart_contains_field("cart.contains_product", "items__product__source_id"),
        _cart_contains_field("cart.contains_category", "items__product__category__source_id"),
        Field(
            "birthday",
            "birthday",
            ("today", "in_days", "in_month", "this_month", *SET_OPS),
            _clean_date_op,
            _compile_birthday,
        ),
        Field(
            "signup_anniversary",
            "anniversary",
            ("today", "in_days"),
            _clean_date_op,
            _compile_anniversary,
        ),
        Field("location.within_km", "location", ("matches",), _clean_within_km, _compile_within_km),
        Field(
            "segment.member",
            "segment",
            ("eq", "ne", "in", "not_in"),
            _clean_segment_ids,
            _compile_segment_member,
        ),
    ]
)
register_field_family("metadata", _metadata_field)
