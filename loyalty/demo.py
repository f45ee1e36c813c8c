"""The demo shop's loyalty programme: "Offerwise Stars", three tiers, earning rules, a catalog
with each reward type, a referral programme, and members whose history is replayed.

Loading is idempotent: the programme and its parts are found by name and never made twice;
members are made only while the programme has none (a reset of the demo shop removes them
with the demo customers). The history goes through the services, on the clock of each order:
order points, tiers going up, pending points activated, referrals rewarded, points expired,
rewards redeemed, so the programme page shows real figures.
"""

import contextlib
import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from config.errors import DomainError
from customers.demo import CUSTOMER_PREFIX
from customers.models import Customer, Event, Order
from loyalty.models import (
    Charity,
    EarningRule,
    Member,
    Program,
    ReferralProgram,
    ReferralTierLimit,
    Reward,
    RuleTierValue,
    Sweepstake,
    Tier,
)
from loyalty.services import earning, ledger, referrals, rewards, tiers
from promotions import services as promotion_services
from promotions.errors import CampaignNotReady
from promotions.models import Campaign
from segments.models import Segment

PROGRAM = "Offerwise Stars"
MEMBERS = 16
REFERRED = 4
SEED = 7

TIERS = (("Basic", 0, "1.00"), ("Silver", 1000, "1.25"), ("Gold", 3000, "1.50"))


def _campaign(name: str, values: dict, discount: dict, rules=None) -> Campaign:
    campaign = Campaign.objects.filter(name=name).first()
    if campaign is None:
        campaign = promotion_services.save_campaign(
            values={"name": name, "metadata": {"demo": True}, **values},
            discount=discount,
            rules=rules or [],
        )
    return campaign


def _activate(campaign: Campaign) -> None:
    # One that cannot go live stays a draft; its readiness page in the admin says why.
    if campaign.status == Campaign.Status.DRAFT:
        with contextlib.suppress(CampaignNotReady):
            promotion_services.activate_campaign(campaign=campaign)


def _program(now: dt.datetime) -> Program:
    program, _ = Program.objects.get_or_create(
        name=PROGRAM,
        defaults={
            "points_name": "Stars",
            "pending_days": 14,
            "expiry": Program.Expiry.ROLLING,
            "expiry_months": 12,
            "max_points_per_order": 5000,
            "max_points_per_day": 10000,
            "qualifying_months": 12,
            "created_at": now - dt.timedelta(days=400),
        },
    )
    for name, threshold, multiplier in TIERS:
        Tier.objects.get_or_create(
            program=program,
            name=name,
            defaults={"threshold": threshold, "multiplier": Decimal(multiplier)},
        )
    return program


def _rules(program: Program) -> None:
    tier = {t.name: t for t in program.tiers.all()}

    def rule(name: str, **values) -> EarningRule:
        made, _ = EarningRule.objects.get_or_create(program=program, name=name, defaults=values)
        return made

    rule(
        "A star per dollar",
        kind=EarningRule.Kind.ORDER,
        points_per_unit=Decimal("1"),
        category_multipliers={"shoes": "2", "beauty": "1.5"},
        excluded_categories=["computers"],
    )
    rule(
        "Review written",
        kind=EarningRule.Kind.EVENT,
        event_name="review_written",
        points=50,
        daily_limit=1,
    )
    rule(
        "Shared on social media",
        kind=EarningRule.Kind.EVENT,
        event_name="social_share",
        points=20,
        daily_limit=3,
    )
    regulars = Segment.objects.filter(name="At least 10 orders").first()
    if regulars is not None:
        rule("Became a regular", kind=EarningRule.Kind.SEGMENT, segment=regulars, points=200)
    referral = rule("Brought a friend", kind=EarningRule.Kind.REFERRAL, points=10)
    RuleTierValue.objects.get_or_create(rule=referral, tier=tier["Silver"], defaults={"points": 15})
    RuleTierValue.objects.get_or_create(rule=referral, tier=tier["Gold"], defaults={"points": 20})


def _referral_program(program: Program) -> ReferralProgram:
    campaign = _campaign(
        "Refer a friend: $10 off the first order",
        {"kind": Campaign.Kind.REFERRAL, "max_per_customer": 1},
        {"type": "amount", "amount": 1000},
        rules=[
            {
                "name": "First order only",
                "rules": {"field": "orders_count", "op": "eq", "value": 0},
                "message": "A friend's code works on the first order.",
            }
        ],
    )
    terms, _ = ReferralProgram.objects.get_or_create(
        program=program, defaults={"campaign": campaign, "max_referrals": 3}
    )
    for name, limit in (("Basic", 3), ("Silver", 5), ("Gold", None)):
        ReferralTierLimit.objects.get_or_create(
            referral_program=terms,
            tier=program.tiers.get(name=name),
            defaults={"max_referrals": limit},
        )
    return terms


def _catalog(program: Program, now: dt.datetime) -> None:
    voucher = _campaign(
        "Stars reward: $5 off",
        {
            "kind": Campaign.Kind.REWARD,
            "codes_on_demand": True,
            "code_pattern": "STARS-####",
            "one_code_per_customer": False,
        },
        {"type": "amount", "amount": 500},
    )
    _activate(voucher)
    cards = _campaign("Stars gift cards", {"kind": Campaign.Kind.GIFT_CARDS}, {"type": "gift_card"})
    _activate(cards)
    trees, _ = Charity.objects.get_or_create(
        name="Trees for Cities", defaults={"description": "Urban tree planting."}
    )
    draw, _ = Sweepstake.objects.get_or_create(
        name="A weekend in Dublin",
        defaults={"prize": "Two nights for two in Dublin", "draw_at": now + dt.timedelta(days=30)},
    )
    entries = (
        ("$5 off your next order", Reward.Kind.VOUCHER, 500, {"campaign": voucher}),
        ("$10 on a gift card", Reward.Kind.GIFT_CARD, 900, {"campaign": cards, "amount": 1000}),
        ("Offerwise tote bag", Reward.Kind.PRODUCT, 1500, {"stock": 200}),
        ("Plant a tree", Reward.Kind.CHARITY, 300, {"charity": trees, "amount": 500}),
        ("Entry: a weekend in Dublin", Reward.Kind.SWEEPSTAKES, 100, {"sweepstake": draw}),
        ("Gold: insulated bottle", Reward.Kind.PRODUCT, 2000, {"stock": 50}),
    )
    for name, kind, cost, values in entries:
        reward, created = Reward.objects.get_or_create(
            program=program, name=name, defaults={"kind": kind, "points_cost": cost, **values}
        )
        if created and name.startswith("Gold:"):
            reward.tiers.set([program.tiers.get(name="Gold")])


def _members(program: Program, now: dt.datetime) -> int:
    """Replay the recent history of some demo customers through the services."""
    rng = random.Random(SEED)
    # Thirteen months: the oldest points have expired by now (12 months, rolling).
    since = now - dt.timedelta(days=400)
    customers = list(
        Customer.objects.filter(
            source_id__startswith=CUSTOMER_PREFIX,
            erased_at__isnull=True,
            orders__status__in=[Order.Status.PAID, Order.Status.REFUNDED],
            orders__created_at__gte=since,
        )
        .distinct()
        .order_by("pk")[:MEMBERS]
    )
    if not customers:
        return 0
    first_orders = {}
    for customer in customers:
        first = customer.orders.filter(created_at__gte=since).order_by("created_at").first()
        first_orders[customer.pk] = first
        ledger.ensure_member(program=program, customer=customer, now=first.created_at)
    # A few customers came through a friend: their first order carries the friend's code.
    referrers = list(Member.objects.filter(program=program).order_by("pk")[:3])
    for n, customer in enumerate(customers[-REFERRED:]):
        order = first_orders[customer.pk]
        if order.customer.orders.filter(created_at__lt=order.created_at).exists():
            continue
        code = referrers[n % len(referrers)].referral_code
        Order.objects.filter(pk=order.pk).update(metadata={**order.metadata, "referral_code": code})
    orders = Order.objects.filter(
        customer__in=customers,
        created_at__gte=since,
        status__in=[Order.Status.PAID, Order.Status.REFUNDED],
    ).order_by("created_at", "pk")
    for order in orders.select_related("customer"):
        when = order.paid_at or order.created_at
        earning._earn_for_order_in(program, order, when)
        if order.status == Order.Status.REFUNDED and order.refunded_at:
            referrals.cancel_order_referrals(order=order)
            ledger.reverse_order_points(order=order, now=order.refunded_at)
    # Reviews, social shares and the time-driven tasks, on today's clock.
    for customer in customers[::4]:
        event = Event.objects.create(
            customer=customer, name="review_written", kind=Event.Kind.CUSTOM, occurred_at=now
        )
        earning.earn_for_event(event_id=event.pk, now=now)
    ledger.activate_due_points(now=now)
    referrals.complete_due_referrals(now=now)
    ledger.expire_due_points(now=now)
    tiers.review_tiers(now=now)
    # Rewards taken by members with the stars for them, a few days ago.
    catalog = list(Reward.objects.filter(program=program).order_by("points_cost"))
    for member in Member.objects.filter(program=program).select_related("customer", "tier"):
        affordable = [r for r in catalog if r.points_cost <= member.points_active]
        for reward in rng.sample(affordable, k=min(len(affordable), rng.randint(0, 2))):
            try:
                rewards.redeem_reward(
                    member=member,
                    reward=reward,
                    address=f"{member.customer.city}" if reward.kind == Reward.Kind.PRODUCT else "",
                    now=now - dt.timedelta(days=rng.randint(0, 60)),
                )
            except DomainError:
                continue  # a reward that cannot be given now (out of codes, say) is skipped
            member.refresh_from_db()
    return len(customers)


def create_demo_loyalty(*, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    program = _program(now)
    _rules(program)
    terms = _referral_program(program)
    _catalog(program, now)
    made = 0
    if not program.members.exists():
        made = _members(program, now)
    if terms.campaign_id:
        _activate(terms.campaign)
    return (
        f"loyalty      {PROGRAM}: {program.tiers.count()} tiers, {program.rules.count()} rules, "
        f"{program.rewards.count()} rewards, {made} new members"
    )
