"""Read queries of the loyalty app, shared by the wallet API, the dashboard and tasks."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from customers.models import Customer
from loyalty.errors import MemberNotFound, NoProgram, RewardNotFound
from loyalty.models import (
    Charity,
    Member,
    PointsEntry,
    PointsLot,
    Program,
    Referral,
    Reward,
    RewardRedemption,
)
from loyalty.services import tiers
from loyalty.services.rewards import unavailable_reason
from promotions.models import Campaign, Voucher


def current_program() -> Program:
    """The active programme (the first one, when an installation runs several)."""
    program = Program.objects.filter(active=True).order_by("pk").first()
    if program is None:
        raise NoProgram()
    return program


def member_of(customer: Customer, program: Program) -> Member:
    member = (
        Member.objects.select_related("program", "tier", "customer")
        .filter(program=program, customer=customer)
        .first()
    )
    if member is None:
        raise MemberNotFound(details={"customer": customer.source_id})
    return member


def standing_of(customer: Customer, program: Program) -> Member:
    """The customer's membership; for a customer who is not a member yet, an unsaved one with
    zero balances and the entry tier they would join with. Reading never enrols: only writes
    (earning, adjusting, redeeming) make a membership."""
    member = (
        Member.objects.select_related("program", "tier", "customer")
        .filter(program=program, customer=customer)
        .first()
    )
    if member is not None:
        return member
    return Member(
        program=program,
        customer=customer,
        tier=program.tiers.filter(threshold=0).first(),
        referral_code="",
    )


def points_history(member: Member) -> QuerySet[PointsEntry]:
    if member.pk is None:
        return PointsEntry.objects.none()
    return member.entries.select_related("rule", "order").order_by("-created_at", "-pk")


def expiring_lots(*, within_days: int, now: dt.datetime | None = None) -> QuerySet[PointsLot]:
    """Active points that expire in the next ``within_days`` days (what triggers remind of)."""
    now = now or timezone.now()
    return PointsLot.objects.filter(
        status=PointsLot.Status.ACTIVE,
        remaining__gt=0,
        expires_at__gt=now,
        expires_at__lte=now + dt.timedelta(days=within_days),
    )


def members_with_points_expiring(
    *, within_days: int, now: dt.datetime | None = None
) -> QuerySet[Member]:
    """Members with points expiring in the next ``within_days`` days, annotated with
    ``expiring`` (the points)."""
    now = now or timezone.now()
    soon = Q(
        lots__status=PointsLot.Status.ACTIVE,
        lots__remaining__gt=0,
        lots__expires_at__gt=now,
        lots__expires_at__lte=now + dt.timedelta(days=within_days),
    )
    return (
        Member.objects.annotate(expiring=Sum("lots__remaining", filter=soon))
        .filter(expiring__gt=0)
        .select_related("customer", "program")
    )


def expiring_soon(member: Member, *, now: dt.datetime | None = None) -> list[dict]:
    """The member's points expiring within the programme's "soon", grouped by date."""
    if member.pk is None:
        return []
    lots = (
        expiring_lots(within_days=member.program.expiring_soon_days, now=now)
        .filter(member=member)
        .values("expires_at")
        .annotate(points=Sum("remaining"))
        .order_by("expires_at")
    )
    return [{"points": row["points"], "expires_at": row["expires_at"]} for row in lots]


@dataclass(frozen=True)
class CatalogItem:
    reward: Reward
    available: bool
    reason: str | None
    affordable: bool


def catalog_for(member: Member, *, now: dt.datetime | None = None) -> list[CatalogItem]:
    """The programme's active rewards this member can take now (tier, segments, dates,
    stock), each saying whether the member has the points."""
    from segments.selectors import segments_of_customer

    now = now or timezone.now()
    rewards = list(
        Reward.objects.filter(program=member.program, active=True)
        .filter(Q(starts_at__isnull=True) | Q(starts_at__lte=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .select_related("sweepstake", "charity", "campaign")
        .prefetch_related("tiers", "segments")
        .order_by("points_cost", "name")
    )
    wanted = {s.pk: s for r in rewards for s in r.segments.all()}
    segment_ids = {
        s.pk for s in segments_of_customer(member.customer, segments=list(wanted.values()))
    }
    items = []
    for reward in rewards:
        reason = unavailable_reason(reward, member, now=now, segment_ids=segment_ids)
        if reason is None:
            items.append(
                CatalogItem(reward, True, None, member.points_active >= reward.points_cost)
            )
    return items


def reward_of(program: Program, reward_id: int) -> Reward:
    reward = Reward.objects.filter(program=program, pk=reward_id).first()
    if reward is None:
        raise RewardNotFound(details={"reward": reward_id})
    return reward


def vouchers_of(customer: Customer, *, now: dt.datetime | None = None) -> QuerySet[Voucher]:
    """The customer's own codes that still work (not gift cards)."""
    now = now or timezone.now()
    return (
        Voucher.objects.filter(customer=customer, enabled=True, gift_balance__isnull=True)
        .exclude(campaign__status=Campaign.Status.ARCHIVED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .select_related("campaign")
        .order_by("-created_at", "-pk")
    )


def gift_cards_of(customer: Customer) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(customer=customer, enabled=True, gift_balance__isnull=False)
        .select_related("campaign")
        .order_by("-created_at", "-pk")
    )


def referral_results(member: Member) -> dict:
    if member.pk is None:
        return dict.fromkeys(Referral.Status.values, 0)
    counts = dict(
        member.referrals.values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Referral.Status.values}


def tier_progress(member: Member, *, now: dt.datetime | None = None) -> dict:
    """The member's standing: qualifying value, the next tier and what is missing for it."""
    now = now or timezone.now()
    value = tiers.qualifying_value(member, now=now)
    upcoming = tiers.next_tier(member)
    return {
        "basis": member.program.tier_basis,
        "qualifying_value": value,
        "next_tier": upcoming,
        "missing": max(upcoming.threshold - value, 0) if upcoming else 0,
        "progress": min(value / upcoming.threshold, 1.0) if upcoming and upcoming.threshold else 1,
    }


# --- the programme page ---------------------------------------------------------------------


def members_per_tier(program: Program) -> list[dict]:
    counts = dict(
        Member.objects.filter(program=program)
        .values("tier_id")
        .annotate(n=Count("pk"))
        .values_list("tier_id", "n")
    )
    rows = [{"tier": t.name, "members": counts.get(t.pk, 0)} for t in program.tiers.all()]
    if counts.get(None):
        rows.insert(0, {"tier": "—", "members": counts[None]})
    return rows


def points_per_week(program: Program, *, since: dt.datetime) -> list[dict]:
    """Points issued (earned and positive adjustments, net of reversals), redeemed and
    expired per week (weeks start on Monday, UTC)."""
    rows = (
        PointsEntry.objects.filter(member__program=program, created_at__gte=since)
        .exclude(kind=PointsEntry.Kind.ACTIVATE)
        .annotate(week=TruncWeek("created_at", tzinfo=dt.UTC))
        .values("week", "kind")
        .annotate(points=Sum("points"))
        .order_by("week")
    )
    weeks: dict[dt.date, dict] = {}
    start = (since - dt.timedelta(days=since.weekday())).date()
    today = timezone.now().date()
    day = start
    while day <= today:
        weeks[day] = {"week": day, "issued": 0, "redeemed": 0, "expired": 0}
        day += dt.timedelta(days=7)
    for row in rows:
        week = row["week"].date() if isinstance(row["week"], dt.datetime) else row["week"]
        bucket = weeks.setdefault(week, {"week": week, "issued": 0, "redeemed": 0, "expired": 0})
        kind, points = row["kind"], row["points"] or 0
        if kind in (PointsEntry.Kind.EARN, PointsEntry.Kind.REVERSAL) or (
            kind == PointsEntry.Kind.ADJUST and points > 0
        ):
            bucket["issued"] += points
        elif kind == PointsEntry.Kind.REDEEM:
            bucket["redeemed"] -= points
        elif kind == PointsEntry.Kind.EXPIRE:
            bucket["expired"] -= points
    return [weeks[w] for w in sorted(weeks)]


def top_rewards(program: Program, *, limit: int = 10) -> QuerySet[Reward]:
    return (
        Reward.objects.filter(program=program)
        .annotate(taken=Count("redemptions"), points_spent=Sum("redemptions__points"))
        .filter(taken__gt=0)
        .order_by("-taken", "name")[:limit]
    )


def charity_totals(program: Program) -> QuerySet[Charity]:
    """Donations per charity: how many and how much (minor units)."""
    donations = Q(donations__reward__program=program)
    return (
        Charity.objects.annotate(
            donations_count=Count("donations", filter=donations),
            donated=Sum("donations__amount", filter=donations),
        )
        .filter(donations_count__gt=0)
        .order_by("-donated", "name")
    )


def program_totals(program: Program) -> dict:
    agg = Member.objects.filter(program=program).aggregate(
        members=Count("pk"), active=Sum("points_active"), pending=Sum("points_pending")
    )
    return {
        "members": agg["members"],
        "points_active": agg["active"] or 0,
        "points_pending": agg["pending"] or 0,
        "redemptions": RewardRedemption.objects.filter(reward__program=program).count(),
    }
