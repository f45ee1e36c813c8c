"""Earning rules applied to what happens: paid orders, custom events, segments entered.

Each earning has a ``dedupe_key`` (the cause and the rule), so a signal delivered twice, a
task retried or an order pushed as paid again earns once.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.currencies import minor_unit_digits
from customers.models import Customer, Event, Order
from loyalty.models import EarningRule, Member, PointsEntry, Program, RuleTierValue
from loyalty.services import ledger, referrals, tiers


@dataclass(frozen=True)
class Line:
    product_id: str
    category_id: str
    amount: int  # minor units


def rules_in_force(program: Program, kind: str, now: dt.datetime):
    return (
        EarningRule.objects.filter(program=program, kind=kind, active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .order_by("pk")
    )


def _tier_value(rule: EarningRule, member: Member) -> RuleTierValue | None:
    if member.tier_id is None:
        return None
    return RuleTierValue.objects.filter(rule=rule, tier_id=member.tier_id).first()


def rule_points(rule: EarningRule, member: Member) -> Decimal:
    """A fixed-points rule's value for this member: the tier's own value, else the rule's,
    times the tier's multiplier (not rounded)."""
    value = _tier_value(rule, member)
    points = value.points if value and value.points is not None else rule.points
    return Decimal(points) * multiplier(member)


def multiplier(member: Member) -> Decimal:
    return member.tier.multiplier if member.tier_id else Decimal(1)


def line_multiplier(rule: EarningRule, line: Line) -> Decimal:
    """0 for excluded products and categories; else the product's, else the category's."""
    if line.product_id in rule.excluded_products or line.category_id in rule.excluded_categories:
        return Decimal(0)
    if line.product_id in rule.product_multipliers:
        return Decimal(str(rule.product_multipliers[line.product_id]))
    if line.category_id in rule.category_multipliers:
        return Decimal(str(rule.category_multipliers[line.category_id]))
    return Decimal(1)


def order_points(
    rule: EarningRule,
    *,
    lines: list[Line],
    discount_amount: int,
    currency: str,
    per_unit: Decimal,
    tier_multiplier: Decimal = Decimal(1),
) -> Decimal:
    """Points per whole currency unit paid for items (shipping earns nothing), each line
    weighted by its multiplier; an order discount lowers every line in proportion."""
    items = sum(line.amount for line in lines)
    if items <= 0:
        return Decimal(0)
    paid_share = Decimal(max(items - discount_amount, 0)) / Decimal(items)
    weighted = sum(Decimal(line.amount) * line_multiplier(rule, line) for line in lines)
    units = weighted * paid_share / (Decimal(10) ** minor_unit_digits(currency))
    return units * per_unit * tier_multiplier


def _order_lines(order: Order) -> list[Line]:
    return [
        Line(product_id=p or "", category_id=c or "", amount=a)
        for p, c, a in order.items.values_list(
            "product__source_id", "category__source_id", "amount"
        )
    ]


def earn_for_order(*, order_id: int, now: dt.datetime | None = None) -> int:
    """Points for a paid order under every order rule in force, pending for the programme's
    pending period; also records a referral made with the order. Returns the points."""
    now = now or timezone.now()
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None or order.status != Order.Status.PAID or order.customer.erased_at:
        return 0
    total = 0
    for program in ledger.active_programs():
        total += _earn_for_order_in(program, order, now)
    return total


@transaction.atomic(savepoint=False)
def _earn_for_order_in(program: Program, order: Order, now: dt.datetime) -> int:
    member = ledger.ensure_member(program=program, customer=order.customer, now=now)
    referrals.record_referral(member=member, order=order, now=now)
    if order.currency != program.currency:
        return 0
    paid_at = order.paid_at or now
    pending_until = paid_at + relativedelta(days=program.pending_days)
    lines = _order_lines(order)
    left = program.max_points_per_order
    total = 0
    for rule in rules_in_force(program, EarningRule.Kind.ORDER, paid_at):
        member = ledger.lock_member(member.pk)
        value = _tier_value(rule, member)
        per_unit = (
            value.points_per_unit
            if value and value.points_per_unit is not None
            else rule.points_per_unit
        )
        points = ledger.round_points(
            program,
            order_points(
                rule,
                lines=lines,
                discount_amount=order.discount_amount,
                currency=order.currency,
                per_unit=per_unit,
                tier_multiplier=multiplier(member),
            ),
        )
        if left is not None:
            points = min(points, left)
        if points <= 0:
            continue
        entry = ledger.earn(
            member=member,
            points=points,
            rule=rule,
            order=order,
            pending_until=pending_until,
            dedupe_key=f"order:{order.pk}:rule:{rule.pk}",
            reason=f"order {order.source_id}",
            now=now,
        )
        if entry is not None:
            total += entry.points
            if left is not None:
                left -= entry.points
    if program.tier_basis == Program.TierBasis.SPEND:
        tiers.upgrade_if_qualified(member_id=member.pk, now=now)
    return total


def earn_for_event(*, event_id: int, now: dt.datetime | None = None) -> int:
    """Points for a custom event under the event rules of its name, within their daily
    limits. Returns the points."""
    now = now or timezone.now()
    event = Event.objects.select_related("customer").filter(pk=event_id).first()
    if event is None or event.customer.erased_at:
        return 0
    total = 0
    for program in ledger.active_programs():
        rules = list(
            rules_in_force(program, EarningRule.Kind.EVENT, now).filter(event_name=event.name)
        )
        if not rules:
            continue
        member = ledger.ensure_member(program=program, customer=event.customer, now=now)
        for rule in rules:
            total += _earn_fixed(
                member,
                rule,
                dedupe_key=f"event:{event.pk}:rule:{rule.pk}",
                reason=event.name,
                rule_daily_limit=rule.daily_limit,
                now=now,
            )
    return total


def earn_for_segment_entered(
    *, segment_id: int, customer_ids: list[int], now: dt.datetime | None = None
) -> int:
    """Points for customers who entered a segment, once per rule and customer (leaving and
    entering again earns nothing more). Returns the points."""
    now = now or timezone.now()
    total = 0
    for program in ledger.active_programs():
        rules = list(
            rules_in_force(program, EarningRule.Kind.SEGMENT, now).filter(segment_id=segment_id)
        )
        if not rules:
            continue
        for customer in Customer.objects.filter(pk__in=customer_ids, erased_at__isnull=True):
            member = ledger.ensure_member(program=program, customer=customer, now=now)
            for rule in rules:
                total += _earn_fixed(
                    member,
                    rule,
                    dedupe_key=f"segment:{rule.pk}:customer:{customer.pk}",
                    reason=f"entered segment {segment_id}",
                    now=now,
                )
    return total


def earn_for_referral(*, member: Member, referral_id: int, now: dt.datetime) -> int:
    """The referrer's reward for a completed referral: every referral rule in force."""
    total = 0
    for rule in rules_in_force(member.program, EarningRule.Kind.REFERRAL, now):
        total += _earn_fixed(
            member,
            rule,
            dedupe_key=f"referral:{referral_id}:rule:{rule.pk}",
            reason="referral",
            now=now,
        )
    return total


def _earn_fixed(
    member: Member,
    rule: EarningRule,
    *,
    dedupe_key: str,
    reason: str,
    now: dt.datetime,
    rule_daily_limit: int | None = None,
) -> int:
    with transaction.atomic():
        member = ledger.lock_member(member.pk)
        points = ledger.round_points(member.program, rule_points(rule, member))
        entry = ledger.earn(
            member=member,
            points=points,
            rule=rule,
            dedupe_key=dedupe_key,
            reason=reason,
            rule_daily_limit=rule_daily_limit,
            now=now,
        )
    return entry.points if entry else 0


def order_was_earned(order: Order) -> bool:
    return PointsEntry.objects.filter(order=order, kind=PointsEntry.Kind.EARN).exists()
