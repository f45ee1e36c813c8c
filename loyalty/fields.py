"""Loyalty fields of the segment rule language (segments, validation rules, triggers).

- ``loyalty.points``: the active balance in the active programme;
- ``loyalty.tier``: the tier's name (case-insensitive);
- ``loyalty.points_expiring``: ``{"within_days": 30, "min_points": 1}``, points expiring soon.

A customer who is not a member has no value: no comparison holds for them, only
``is_not_set``; ``ne`` and ``not_in`` are the exact negations of ``eq`` and ``in``.
"""

import datetime as dt
from typing import Any

from django.db.models import Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import GreaterThanOrEqual

from segments.fields import (
    COMPARISON_OPS,
    SET_OPS,
    STRING_OPS,
    Context,
    Field,
    clean_count,
    clean_integer,
    clean_object,
    clean_string,
    compare,
    get_field,
    register_field,
    scalar_cleaner,
)


def _members():
    from loyalty.models import Member

    return Member.objects.filter(customer=OuterRef("pk"), program__active=True)


def _membership(condition: Q | None = None) -> Q:
    members = _members()
    if condition is not None:
        members = members.filter(condition)
    return Q(Exists(members))


def _compile_points(op: str, value: Any, ctx: Context) -> Q:
    if op in SET_OPS:
        return _membership() if op == "is_set" else ~_membership()
    if op in ("ne", "not_in"):
        return ~_compile_points({"ne": "eq", "not_in": "in"}[op], value, ctx)
    return _membership(compare(F("points_active"), op, value))


def _compile_tier(op: str, value: Any, ctx: Context) -> Q:
    has_tier = Q(tier__isnull=False)
    if op in SET_OPS:
        return _membership(has_tier) if op == "is_set" else ~_membership(has_tier)
    if op in ("ne", "not_in"):
        return ~_compile_tier({"ne": "eq", "not_in": "in"}[op], value, ctx)
    name = Lower("tier__name")
    if op == "in":
        return _membership(has_tier & compare(name, "in", [v.lower() for v in value]))
    return _membership(has_tier & compare(name, op, value.lower()))


def _clean_expiring(op: str, value: Any) -> dict:
    return clean_object(
        value,
        {
            "within_days": (True, lambda v: clean_count(v, low=1, high=3650)),
            "min_points": (False, lambda v: clean_count(v, low=1, high=10**12)),
        },
    )


def _compile_expiring(op: str, spec: dict, ctx: Context) -> Q:
    from loyalty.models import PointsLot

    soon = PointsLot.objects.filter(
        member__customer=OuterRef("pk"),
        member__program__active=True,
        status=PointsLot.Status.ACTIVE,
        remaining__gt=0,
        expires_at__gt=ctx.now,
        expires_at__lte=ctx.now + dt.timedelta(days=spec["within_days"]),
    )
    minimum = spec.get("min_points", 1)
    if minimum <= 1:
        return Q(Exists(soon))
    total = soon.order_by().values("member__customer").annotate(n=Sum("remaining")).values("n")[:1]
    return Q(
        GreaterThanOrEqual(
            Coalesce(Subquery(total, output_field=IntegerField()), Value(0)), minimum
        )
    )


FIELDS = (
    Field(
        "loyalty.points",
        "integer",
        (*COMPARISON_OPS, *SET_OPS),
        scalar_cleaner(clean_integer),
        _compile_points,
        "Loyalty points (active)",
    ),
    Field(
        "loyalty.tier",
        "string",
        tuple(op for op in STRING_OPS if op not in ("contains", "starts_with")),
        scalar_cleaner(clean_string),
        _compile_tier,
        "Loyalty tier",
    ),
    Field(
        "loyalty.points_expiring",
        "loyalty_expiring",
        ("matches",),
        _clean_expiring,
        _compile_expiring,
        "Loyalty points expiring soon",
    ),
)


def register_loyalty_fields() -> None:
    for field in FIELDS:
        if get_field(field.name) is None:
            register_field(field)
