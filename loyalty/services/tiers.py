"""Tiers: measured on points earned (or spend) in the qualifying period.

A member goes up as soon as they qualify (after each earning or paid order); a tier is then
kept for one qualifying period and re-evaluated when it ends (``review_tiers``, a periodic
task), where it can go down.
"""

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from customers.models import Order
from loyalty.models import Member, PointsEntry, Program, Tier, TierChange


def next_review(program: Program, now: dt.datetime) -> dt.datetime:
    return now + relativedelta(months=program.qualifying_months)


def qualifying_value(member: Member, *, now: dt.datetime) -> int:
    """Points earned (pending included, reversals deducted) or spend on paid orders, in the
    qualifying period ending now."""
    program = member.program
    since = now - relativedelta(months=program.qualifying_months)
    if program.tier_basis == Program.TierBasis.SPEND:
        return (
            Order.objects.filter(
                customer_id=member.customer_id,
                status=Order.Status.PAID,
                created_at__gte=since,
                created_at__lte=now,
            ).aggregate(n=Sum("total_amount"))["n"]
            or 0
        )
    if member.pk is None:  # not a member yet (a wallet read)
        return 0
    earned = (
        PointsEntry.objects.filter(
            member=member,
            kind__in=[PointsEntry.Kind.EARN, PointsEntry.Kind.REVERSAL],
            created_at__gte=since,
            created_at__lte=now,
        ).aggregate(n=Sum("points"))["n"]
        or 0
    )
    # A reversal in this period of points earned in the previous one counts against this one,
    # but never below nothing.
    return max(earned, 0)


def tier_for(program: Program, value: int) -> Tier | None:
    """The highest tier whose threshold the value reaches."""
    return program.tiers.filter(threshold__lte=value).order_by("-threshold").first()


def next_tier(member: Member) -> Tier | None:
    current = member.tier.threshold if member.tier else -1
    return member.program.tiers.filter(threshold__gt=current).order_by("threshold").first()


def _change(member: Member, tier: Tier | None, reason: str, now: dt.datetime) -> None:
    TierChange.objects.create(
        member=member, from_tier=member.tier, to_tier=tier, reason=reason, created_at=now
    )
    member.tier = tier
    member.tier_since = now
    member.tier_review_at = next_review(member.program, now)
    member.save(update_fields=["tier", "tier_since", "tier_review_at"])


@transaction.atomic(savepoint=False)
def upgrade_if_qualified(*, member_id: int, now: dt.datetime | None = None) -> bool:
    """Move the member up at once when they qualify for a higher tier. Returns True if so."""
    now = now or timezone.now()
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("program", "tier")
        .get(pk=member_id)
    )
    return upgrade_locked_member(member, now)


def upgrade_locked_member(member: Member, now: dt.datetime) -> bool:
    """``upgrade_if_qualified`` for a member the caller has locked (read with its tier)."""
    tier = tier_for(member.program, qualifying_value(member, now=now))
    if tier is None or (member.tier is not None and tier.threshold <= member.tier.threshold):
        return False
    _change(member, tier, "upgrade", now)
    return True


def review_tiers(*, now: dt.datetime | None = None, limit: int = 10000) -> dict[str, int]:
    """Re-evaluate the members whose tier period is over: they keep, gain or lose tiers by
    what they earned (or spent) in the last qualifying period. Returns counts."""
    now = now or timezone.now()
    due = list(
        Member.objects.filter(tier_review_at__lte=now, program__active=True)
        .order_by("tier_review_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"reviewed": 0, "down": 0, "up": 0}
    for member_id in due:
        moved = _review_member(member_id, now)
        counts["reviewed"] += 1
        if moved:
            counts[moved] += 1
    return counts


@transaction.atomic
def _review_member(member_id: int, now: dt.datetime) -> str | None:
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("program", "tier")
        .get(pk=member_id)
    )
    if member.tier_review_at is None or member.tier_review_at > now:
        return None
    tier = tier_for(member.program, qualifying_value(member, now=now))
    if tier == member.tier:
        member.tier_review_at = next_review(member.program, now)
        member.save(update_fields=["tier_review_at"])
        return None
    old = member.tier.threshold if member.tier else -1
    direction = "up" if tier is not None and tier.threshold > old else "down"
    _change(member, tier, "review", now)
    return direction
