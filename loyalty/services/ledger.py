"""The points ledger: membership, earning, activation, spending, reversal, expiry, adjustment.

Every write locks the member's row first (``SELECT ... FOR UPDATE``, or the guarded
``UPDATE`` of spending), so all movements of one member's points, and of their lots, are
serialised; then it adds immutable ``PointsEntry`` rows and moves the balances with ``F()``.
Spending is one guarded ``UPDATE ... WHERE points_active >= n``: two concurrent spends of the
last points cannot both succeed, and the balance never goes below zero (a check constraint
holds it too).
"""

import datetime as dt
import secrets
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from customers.models import Customer, Order
from loyalty.errors import InsufficientPoints, InvalidAdjustment
from loyalty.models import EarningRule, Member, PointsEntry, PointsLot, Program
from promotions.errors import VoucherCodeTaken

# Unambiguous when read out or typed: no I, O, 0 or 1.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
MAX_ADJUSTMENT = 10**9
ROUNDINGS = {
    Program.Rounding.DOWN: ROUND_FLOOR,
    Program.Rounding.HALF_UP: ROUND_HALF_UP,
    Program.Rounding.UP: ROUND_CEILING,
}


def round_points(program: Program, value: Decimal) -> int:
    """Whole points by the programme's rounding."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUNDINGS[program.rounding]))


def expiry_for(program: Program, earned_at: dt.datetime) -> dt.datetime | None:
    """When points earned at ``earned_at`` expire: N months later (rolling), or at the end
    of the calendar period of N months they were earned in (fixed; UTC), or never."""
    if program.expiry == Program.Expiry.ROLLING:
        return earned_at + relativedelta(months=program.expiry_months)
    if program.expiry == Program.Expiry.FIXED:
        utc = earned_at.astimezone(dt.UTC)
        months = program.expiry_months
        start_month = ((utc.month - 1) // months) * months + 1
        start = dt.datetime(utc.year, 1, 1, tzinfo=dt.UTC) + relativedelta(months=start_month - 1)
        return start + relativedelta(months=months)
    return None


def new_referral_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def active_programs() -> list[Program]:
    return list(Program.objects.filter(active=True).order_by("pk"))


def ensure_member(
    *, program: Program, customer: Customer, now: dt.datetime | None = None
) -> Member:
    """The customer's membership of the programme, made on first need with a referral code
    and the entry tier (the one whose threshold is 0)."""
    member = Member.objects.filter(program=program, customer=customer).first()
    if member is not None:
        return member
    from loyalty.services import referrals, tiers

    now = now or timezone.now()
    entry_tier = program.tiers.filter(threshold=0).first()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                member = Member.objects.create(
                    program=program,
                    customer=customer,
                    referral_code=new_referral_code(),
                    joined_at=now,
                    tier=entry_tier,
                    tier_since=now if entry_tier else None,
                    tier_review_at=tiers.next_review(program, now) if entry_tier else None,
                )
                referrals.issue_referral_voucher(member=member)
                return member
        except (IntegrityError, VoucherCodeTaken):
            # Either a concurrent first earning made the member, or the code was taken.
            member = Member.objects.filter(program=program, customer=customer).first()
            if member is not None:
                return member
    raise RuntimeError("could not draw a free referral code")


def lock_member(member_id: int) -> Member:
    return (
        Member.objects.select_for_update(of=("self",))
        .select_related("program", "tier")
        .get(pk=member_id)
    )


def customer_day(timezone_name: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The bounds of the calendar day ``now`` falls in where the customer lives (their
    ``timezone``; UTC when it is unknown): what "a day" of the daily caps means to them."""
    try:
        zone = ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    start = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    # Wall-clock arithmetic: the next midnight, so a day with a DST change lasts 23 or 25 hours.
    return start, start + dt.timedelta(days=1)


def _member_day(member: Member, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    name = Customer.objects.filter(pk=member.customer_id).values_list("timezone", flat=True)
    return customer_day(name.first() or "UTC", now)


def _earned_today(
    member: Member, day: tuple[dt.datetime, dt.datetime], rule: EarningRule | None = None
):
    start, end = day
    entries = PointsEntry.objects.filter(
        member=member, kind=PointsEntry.Kind.EARN, created_at__gte=start, created_at__lt=end
    )
    if rule is not None:
        return entries.filter(rule=rule).count()
    return entries.aggregate(n=Sum("points"))["n"] or 0


@transaction.atomic(savepoint=False)
def earn(
    *,
    member: Member,
    points: int,
    rule: EarningRule | None = None,
    order: Order | None = None,
    pending_until: dt.datetime | None = None,
    dedupe_key: str | None = None,
    reason: str = "",
    rule_daily_limit: int | None = None,
    now: dt.datetime | None = None,
) -> PointsEntry | None:
    """Add earned points: pending until ``pending_until`` when given, else active at once.

    The programme's daily cap trims the points; a rule's ``rule_daily_limit`` (awards per
    member per day) and an already used ``dedupe_key`` make it give nothing. Days are the
    customer's own (their timezone), not UTC's. Returns the entry, or None when nothing was
    earned."""
    now = now or timezone.now()
    member = lock_member(member.pk)
    program = member.program
    if dedupe_key and PointsEntry.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    capped = rule_daily_limit is not None or program.max_points_per_day is not None
    day = _member_day(member, now) if capped else None
    if rule_daily_limit is not None and _earned_today(member, day, rule) >= rule_daily_limit:
        return None
    if program.max_points_per_day is not None:
        points = min(points, max(program.max_points_per_day - _earned_today(member, day), 0))
    if points <= 0:
        return None
    pending = pending_until is not None and pending_until > now
    balance = PointsEntry.Balance.PENDING if pending else PointsEntry.Balance.ACTIVE
    expires_at = expiry_for(program, now)
    entry = PointsEntry.objects.create(
        member=member,
        kind=PointsEntry.Kind.EARN,
        balance=balance,
        points=points,
        rule=rule,
        order=order,
        reason=reason[:255],
        dedupe_key=dedupe_key,
        expires_at=expires_at,
        created_at=now,
    )
    PointsLot.objects.create(
        member=member,
        entry=entry,
        order=order,
        status=PointsLot.Status.PENDING if pending else PointsLot.Status.ACTIVE,
        points=points,
        remaining=points,
        earned_at=now,
        activates_at=pending_until if pending else None,
        expires_at=expires_at,
    )
    field = "points_pending" if pending else "points_active"
    Member.objects.filter(pk=member.pk).update(**{field: F(field) + points})
    from loyalty.services.tiers import upgrade_locked_member

    upgrade_locked_member(member, now)
    return entry


def _consume_fifo(member: Member, points: int) -> None:
    """Take ``points`` from the member's active lots, oldest first (the member is locked)."""
    left = points
    lots = (
        PointsLot.objects.select_for_update()
        .filter(member=member, status=PointsLot.Status.ACTIVE, remaining__gt=0)
        .order_by("earned_at", "pk")
    )
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        if lot.remaining == 0:
            lot.status = PointsLot.Status.USED
        lot.save(update_fields=["remaining", "status"])
        left -= take


def spend(
    *,
    member: Member,
    points: int,
    reason: str = "",
    reward_redemption=None,
    kind: str = PointsEntry.Kind.REDEEM,
    by: str = "",
    now=None,
) -> PointsEntry:
    """Take active points in one guarded UPDATE, then from the oldest lots. Must run inside
    the caller's transaction. Raises InsufficientPoints."""
    now = now or timezone.now()
    taken = Member.objects.filter(pk=member.pk, points_active__gte=points).update(
        points_active=F("points_active") - points
    )
    if taken != 1:
        have = Member.objects.filter(pk=member.pk).values_list("points_active", flat=True).first()
        raise InsufficientPoints(details={"needed": points, "active": have or 0})
    _consume_fifo(member, points)
    return PointsEntry.objects.create(
        member=member,
        kind=kind,
        balance=PointsEntry.Balance.ACTIVE,
        points=-points,
        reward_redemption=reward_redemption,
        reason=reason[:255],
        created_by=by[:150],
        created_at=now,
    )


@transaction.atomic
def adjust(
    *, member: Member, points: int, reason: str, by: str = "", now: dt.datetime | None = None
) -> PointsEntry:
    """A manual correction of the active balance, with the reason and who made it. A
    deduction takes the oldest points first. Raises InvalidAdjustment, InsufficientPoints."""
    reason = (reason or "").strip()
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or not reason:
        raise InvalidAdjustment(details={"points": points, "reason": reason})
    if abs(points) > MAX_ADJUSTMENT:
        raise InvalidAdjustment(details={"points": points, "max": MAX_ADJUSTMENT})
    now = now or timezone.now()
    member = lock_member(member.pk)
    if points < 0:
        return spend(
            member=member,
            points=-points,
            reason=reason,
            kind=PointsEntry.Kind.ADJUST,
            by=by,
            now=now,
        )
    expires_at = expiry_for(member.program, now)
    entry = PointsEntry.objects.create(
        member=member,
        kind=PointsEntry.Kind.ADJUST,
        balance=PointsEntry.Balance.ACTIVE,
        points=points,
        reason=reason[:255],
        created_by=by[:150],
        expires_at=expires_at,
        created_at=now,
    )
    PointsLot.objects.create(
        member=member,
        entry=entry,
        status=PointsLot.Status.ACTIVE,
        points=points,
        remaining=points,
        earned_at=now,
        expires_at=expires_at,
    )
    Member.objects.filter(pk=member.pk).update(points_active=F("points_active") + points)
    return entry


def activate_due_points(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Make pending points whose pending period is over active (orders still paid: a refund
    or cancellation reverses them first). Returns how many lots became active."""
    now = now or timezone.now()
    due = list(
        PointsLot.objects.filter(status=PointsLot.Status.PENDING, activates_at__lte=now)
        .order_by("activates_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    activated = 0
    for lot_id in due:
        activated += _activate_lot(lot_id, now)
    return activated


@transaction.atomic
def _activate_lot(lot_id: int, now: dt.datetime) -> int:
    member_id = PointsLot.objects.filter(pk=lot_id).values_list("member_id", flat=True).first()
    if member_id is None:
        return 0
    member = lock_member(member_id)
    lot = PointsLot.objects.select_for_update().get(pk=lot_id)
    if lot.status != PointsLot.Status.PENDING:
        return 0
    lot.status = PointsLot.Status.ACTIVE
    lot.save(update_fields=["status"])
    PointsEntry.objects.create(
        member=member,
        kind=PointsEntry.Kind.ACTIVATE,
        balance=PointsEntry.Balance.ACTIVE,
        points=lot.points,
        rule_id=lot.entry.rule_id,
        order_id=lot.order_id,
        expires_at=lot.expires_at,
        created_at=now,
    )
    Member.objects.filter(pk=member.pk).update(
        points_pending=F("points_pending") - lot.points,
        points_active=F("points_active") + lot.points,
    )
    return 1


@transaction.atomic
def reverse_order_points(*, order: Order, now: dt.datetime | None = None) -> int:
    """Take back what an order earned, when it is refunded or cancelled: pending points are
    cancelled; active ones are taken from the balance (its own lot first, then the oldest),
    never below zero. Returns the points taken back."""
    now = now or timezone.now()
    total = 0
    member_ids = sorted(
        set(
            PointsLot.objects.filter(order=order)
            .exclude(status=PointsLot.Status.REVERSED)
            .values_list("member_id", flat=True)
        )
    )
    for member_id in member_ids:
        member = lock_member(member_id)
        lots = PointsLot.objects.select_for_update().filter(member=member, order=order)
        for lot in lots:
            if lot.status == PointsLot.Status.REVERSED:
                continue  # a second refund or cancellation of the same order
            if lot.status == PointsLot.Status.PENDING:
                taken, balance = lot.points, PointsEntry.Balance.PENDING
                Member.objects.filter(pk=member.pk).update(
                    points_pending=F("points_pending") - taken
                )
            else:
                active = Member.objects.filter(pk=member.pk).values_list(
                    "points_active", flat=True
                )[0]
                taken, balance = min(lot.points, active), PointsEntry.Balance.ACTIVE
                own = min(lot.remaining, taken)
                lot.remaining -= own
                lot.save(update_fields=["remaining"])
                if taken > own:
                    _consume_fifo(member, taken - own)
                Member.objects.filter(pk=member.pk).update(points_active=F("points_active") - taken)
            lot.refresh_from_db()
            lot.status = PointsLot.Status.REVERSED
            lot.remaining = 0
            lot.save(update_fields=["status", "remaining"])
            PointsEntry.objects.create(
                member=member,
                kind=PointsEntry.Kind.REVERSAL,
                balance=balance,
                points=-taken,
                rule_id=lot.entry.rule_id,
                order=order,
                reason=f"order {order.status}",
                dedupe_key=f"reversal:lot:{lot.pk}",
                created_at=now,
            )
            total += taken
    return total


def expire_due_points(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Expire what is left of lots past their expiry, oldest first, one member per
    transaction. Returns the points expired."""
    now = now or timezone.now()
    member_ids = list(
        PointsLot.objects.filter(
            status=PointsLot.Status.ACTIVE, remaining__gt=0, expires_at__lte=now
        )
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()[:limit]
    )
    return sum(_expire_member(member_id, now) for member_id in member_ids)


@transaction.atomic
def _expire_member(member_id: int, now: dt.datetime) -> int:
    member = lock_member(member_id)
    lots = (
        PointsLot.objects.select_for_update()
        .filter(member=member, status=PointsLot.Status.ACTIVE, remaining__gt=0, expires_at__lte=now)
        .order_by("earned_at", "pk")
    )
    expired = 0
    for lot in lots:
        points = lot.remaining
        lot.remaining = 0
        lot.status = PointsLot.Status.USED
        lot.save(update_fields=["remaining", "status"])
        PointsEntry.objects.create(
            member=member,
            kind=PointsEntry.Kind.EXPIRE,
            balance=PointsEntry.Balance.ACTIVE,
            points=-points,
            rule_id=lot.entry.rule_id,
            order_id=lot.order_id,
            reason=f"earned {lot.earned_at:%Y-%m-%d}",
            created_at=now,
        )
        expired += points
    if expired:
        Member.objects.filter(pk=member.pk).update(points_active=F("points_active") - expired)
    return expired
