"""The demo shop's campaigns: offers from everyday practice, on the demo catalogue and segments.

Every campaign is made through the services (so it passes the checks a marketer's would) and
put live. Loading is idempotent: a campaign is found by its name and never made twice, and
only customers without a sorry code get one. A campaign still in draft (it could not go live
before) is put live when it can be.

Choices a marketer would ask about:

- Sorry coupon: one code per customer, owned by them. Customer service hands it to one
  customer after something went wrong (here: an order refunded in the last 30 days); a code
  only its owner can use cannot leak to coupon sites, and it is used once by construction.
- Birthday: $20 off and free shipping are two discounts, so two campaigns: a code (a
  birthday email carries it) and an automatic promotion (shipping is free all birthday
  month, code or not). Per-customer limits count over a campaign's whole life, so "once a
  year" is a campaign per calendar year ("Birthday treat 2026").
- First anniversary: ``signup_anniversary`` looks forward only (``today``, ``in_days``), so
  the code is good from six days before the anniversary to the day itself, on the
  customer's own calendar; a sign-up less than 400 days ago makes it the first one.
- St Patrick's Day: the next 17 March on Dublin's clock, as the campaign's start and end
  (``not_started`` before, ``expired`` after); a campaign per year.
- The demo catalogue has no perfume category: its one perfume is the product
  ``beauty-eau-de-parfum`` (category ``beauty``), so the discount is scoped to that product.
  There is no leather phone cover either: the Berlin offer is on the ``phone-case``.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from customers.demo import CUSTOMER_PREFIX
from customers.models import Customer, Order
from segments.models import Segment

from . import services
from .errors import CampaignNotReady, VoucherCodeTaken
from .models import Campaign, Voucher

DUBLIN = ZoneInfo("Europe/Dublin")
# The demo catalogue's phones (its "phones" category also holds the case and the charger).
PHONES = ("pixel-9", "pixel-9-pro", "iphone-16", "iphone-16-pro", "galaxy-s25", "galaxy-s25-ultra")
PHONE_CASE = "phone-case"
PHONE_CASE_PRICE = 2900
PERFUME = "beauty-eau-de-parfum"
COFFEE_BEANS = "kitchen-coffee-beans"

SORRY_NAME = "Sorry for the trouble: $15 off"
SORRY_PREFIX = "SORRY15"
SORRY_VALID_DAYS = 60
SORRY_LOOKBACK_DAYS = 30
# Unambiguous when read out or typed: no I, O, 0 or 1.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class DemoCampaign:
    values: dict[str, Any]
    discount: dict[str, Any]
    rules: list[dict[str, Any]] = field(default_factory=list)
    segments: tuple[str, ...] = ()  # demo segment names: members of any of them qualify
    code: str = ""  # the campaign's one shared code (coupons); personal codes are separate

    @property
    def name(self) -> str:
        return self.values["name"]


def _amount_at_least(minor: int, message: str) -> dict[str, Any]:
    return {
        "name": f"Orders of ${minor // 100} or more",
        "rules": {"field": "order.amount", "op": "gte", "value": minor},
        "message": message,
    }


def next_st_patricks_day(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """17 March on Dublin's clock, this year's until it is over, else next year's."""
    today = now.astimezone(DUBLIN).date()
    year = today.year if today <= dt.date(today.year, 3, 17) else today.year + 1
    start = dt.datetime(year, 3, 17, tzinfo=DUBLIN)
    return start, dt.datetime(year, 3, 18, tzinfo=DUBLIN)


def demo_campaigns(now: dt.datetime) -> list[DemoCampaign]:
    """The demo campaigns as of ``now`` (the dated ones are named after their year)."""
    patricks_start, patricks_end = next_st_patricks_day(now)
    year = now.astimezone(dt.UTC).year
    anniversary_week = [{"field": "signup_anniversary", "op": "today"}] + [
        {"field": "signup_anniversary", "op": "in_days", "value": days} for days in range(1, 7)
    ]
    return [
        DemoCampaign(
            values={
                "name": "Welcome back: 20% off",
                "description": (
                    "Win-back for customers who have not ordered in three months or more: "
                    "20% off orders of $100 or more with WELCOMEBACK20, once per customer."
                ),
                "kind": Campaign.Kind.COUPONS,
                "max_per_customer": 1,
            },
            discount={"type": "percent", "percent": 20},
            rules=[_amount_at_least(10_000, "WELCOMEBACK20 is for orders of $100 or more.")],
            segments=("Inactive for 3+ months",),
            code="WELCOMEBACK20",
        ),
        DemoCampaign(
            values={
                "name": "Premium thank-you: 10% off $250+",
                "description": (
                    "Automatic 10% off (up to $100) for customers who have spent $1,000 or "
                    "more with us, on orders of $250 or more."
                ),
                "kind": Campaign.Kind.PROMOTION,
                "priority": 10,
            },
            discount={"type": "percent", "percent": 10, "cap": 10_000},
            rules=[_amount_at_least(25_000, "Premium customers save 10% from $250.")],
            segments=("Premium customers",),
        ),
        DemoCampaign(
            values={
                "name": SORRY_NAME,
                "description": (
                    "Customer service's apology after a bad experience: a personal code worth "
                    "$15, for its owner only, once, valid for 60 days."
                ),
                "kind": Campaign.Kind.COUPONS,
                "max_per_customer": 1,
            },
            discount={"type": "amount", "amount": 1500},
        ),
        DemoCampaign(
            values={
                "name": "First anniversary: 50% off",
                "description": (
                    "One year with us: 50% off one order (up to $500) with ANNIVERSARY50, in "
                    "the week up to the customer's first sign-up anniversary. Not combined "
                    "with other offers."
                ),
                "kind": Campaign.Kind.COUPONS,
                "max_per_customer": 1,
                "exclusive": True,
            },
            discount={"type": "percent", "percent": 50, "cap": 50_000},
            rules=[
                {
                    "name": "First anniversary within the week",
                    "rules": {
                        "all": [
                            # The second anniversary is 730 days on: this keeps the first.
                            {"field": "created_at", "op": "less_than_days_ago", "value": 400},
                            {"any": anniversary_week},
                        ]
                    },
                    "message": "ANNIVERSARY50 is for the week of your first anniversary with us.",
                }
            ],
            code="ANNIVERSARY50",
        ),
        DemoCampaign(
            values={
                "name": f"Birthday treat {year}: $20 off",
                "description": (
                    f"$20 off with BIRTHDAY20 in the customer's birthday month, once in {year}."
                ),
                "kind": Campaign.Kind.COUPONS,
                "starts_at": dt.datetime(year, 1, 1, tzinfo=dt.UTC),
                "ends_at": dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC),
                "max_per_customer": 1,
            },
            discount={"type": "amount", "amount": 2000},
            segments=("Birthday this month",),
            code="BIRTHDAY20",
        ),
        DemoCampaign(
            values={
                "name": "Birthday free shipping",
                "description": "Free shipping on every order in the customer's birthday month.",
                "kind": Campaign.Kind.PROMOTION,
            },
            discount={"type": "free_shipping"},
            segments=("Birthday this month",),
        ),
        DemoCampaign(
            values={
                "name": f"St Patrick's Day {patricks_start.year}: 17% off in Ireland",
                "description": (
                    "17% off everything for our customers in Ireland, on 17 March only "
                    "(Irish time)."
                ),
                "kind": Campaign.Kind.PROMOTION,
                "starts_at": patricks_start,
                "ends_at": patricks_end,
                "timezone": "Europe/Dublin",
                "priority": 20,
            },
            discount={"type": "percent", "percent": 17},
            segments=("Customers in Ireland",),
        ),
        DemoCampaign(
            values={
                "name": "10% off perfume",
                "description": "Automatic 10% off our eau de parfum on orders of $30 or more.",
                "kind": Campaign.Kind.PROMOTION,
                "priority": 30,
            },
            discount={"type": "percent", "percent": 10, "products": [PERFUME]},
            rules=[_amount_at_least(3_000, "10% off perfume on orders of $30 or more.")],
        ),
        DemoCampaign(
            values={
                "name": "Free shipping over $50",
                "description": "Shipping is free on every order of $50 or more.",
                "kind": Campaign.Kind.PROMOTION,
            },
            discount={"type": "free_shipping"},
            rules=[_amount_at_least(5_000, "Shipping is free from $50.")],
        ),
        DemoCampaign(
            values={
                "name": "Coffee beans: buy one, get one free",
                "description": "Every second 1 kg bag of coffee beans is free.",
                "kind": Campaign.Kind.PROMOTION,
                "priority": 40,
            },
            discount={
                "type": "unit",
                "unit_product": COFFEE_BEANS,
                "unit_quantity": 1,
                "unit_every": 2,
            },
            rules=[
                {
                    "name": "Two bags of coffee beans",
                    "rules": {
                        "field": "order.product",
                        "op": "matches",
                        "value": {"id": COFFEE_BEANS, "min_quantity": 2},
                    },
                    "message": "Add a second bag of coffee beans: it is on us.",
                }
            ],
        ),
        DemoCampaign(
            values={
                "name": "New in Berlin: half-price phone case",
                "description": (
                    "Customers who signed up in Berlin in the last 30 days and buy a new phone "
                    "get its case at half price. First 100 customers only."
                ),
                "kind": Campaign.Kind.PROMOTION,
                "max_redemptions": 100,
                "max_per_customer": 1,
                "priority": 30,
            },
            # Capped at half the case's price: one case per phone, however many are bought.
            discount={
                "type": "percent",
                "percent": 50,
                "cap": PHONE_CASE_PRICE // 2,
                "products": [PHONE_CASE],
            },
            rules=[
                {
                    "name": "New customer in Berlin",
                    "rules": {
                        "all": [
                            {"field": "country", "op": "eq", "value": "DE"},
                            {"field": "city", "op": "eq", "value": "Berlin"},
                            {"field": "created_at", "op": "less_than_days_ago", "value": 30},
                        ]
                    },
                    "message": "For customers new in Berlin.",
                },
                {
                    "name": "A new phone in the order",
                    "rules": {
                        "any": [
                            {"field": "order.product", "op": "matches", "value": {"id": phone}}
                            for phone in PHONES
                        ]
                    },
                    "message": "Add a new phone to get its case at half price.",
                },
            ],
        ),
    ]


def create_demo_campaigns(*, now: dt.datetime | None = None) -> str:
    """Create the demo campaigns that are missing, give sorry codes to the demo customers
    who are owed one, and put live the demo campaigns that are still drafts."""
    now = now or timezone.now()
    specs = demo_campaigns(now)
    segments = dict(
        Segment.objects.filter(name__in={n for s in specs for n in s.segments}).values_list(
            "name", "pk"
        )
    )
    created, skipped, campaigns = 0, [], []
    for spec in specs:
        campaign = Campaign.objects.filter(name=spec.name).first()
        if campaign is None:
            missing = [name for name in spec.segments if name not in segments]
            if missing:
                # Without its segment the offer would go to everyone.
                skipped.append(spec.name)
                continue
            campaign = services.save_campaign(
                values={**spec.values, "metadata": {"demo": True}},
                discount=spec.discount,
                rules=spec.rules,
                segment_ids=[segments[name] for name in spec.segments],
            )
            if spec.code:
                services.create_voucher(campaign=campaign, code=spec.code)
            created += 1
        campaigns.append(campaign)
    sorry = next((c for c in campaigns if c.name == SORRY_NAME), None)
    codes = _issue_sorry_codes(sorry, now=now) if sorry else 0
    drafts = []
    for campaign in campaigns:
        if campaign.status == Campaign.Status.DRAFT:
            try:
                services.activate_campaign(campaign=campaign)
            except CampaignNotReady:
                drafts.append(campaign.name)
    line = f"campaigns    {len(specs)} demo campaigns ({created} new), {codes} new sorry codes"
    if drafts:
        line += f"; still drafts: {', '.join(drafts)}"
    if skipped:
        line += f"; not made (their demo segment is missing): {', '.join(skipped)}"
    return line


def _issue_sorry_codes(campaign: Campaign, *, now: dt.datetime) -> int:
    """A personal code for each demo customer with an order refunded in the last 30 days who
    has none yet; returns how many were made."""
    # A personal code whose owner was deleted (seed_demo --reset) would be anyone's.
    for orphan in Voucher.objects.filter(campaign=campaign, customer=None, enabled=True):
        services.update_voucher(voucher=orphan, values={"enabled": False})
    owed = (
        Customer.objects.filter(
            source_id__startswith=CUSTOMER_PREFIX,
            erased_at__isnull=True,
            orders__status=Order.Status.REFUNDED,
            orders__refunded_at__gte=now - dt.timedelta(days=SORRY_LOOKBACK_DAYS),
            orders__refunded_at__lte=now,
        )
        .exclude(vouchers__campaign=campaign)
        .distinct()
        .order_by("source_id")
    )
    made = 0
    for customer in owed:
        for attempt in range(10):
            try:
                services.create_voucher(
                    campaign=campaign,
                    code=personal_code(SORRY_PREFIX, customer, attempt=attempt),
                    values={
                        "customer": customer,
                        "max_redemptions": 1,
                        "expires_at": now + dt.timedelta(days=SORRY_VALID_DAYS),
                        "metadata": {"reason": "refunded order"},
                    },
                )
            except VoucherCodeTaken:
                continue
            made += 1
            break
    return made


def personal_code(prefix: str, customer: Customer, *, attempt: int = 0) -> str:
    """A readable code of one customer, e.g. SORRY15-7KQ2MX; the same for the same row."""
    seed = f"{prefix}:{customer.pk}:{customer.source_id}:{attempt}".encode()
    digest = hashlib.sha256(seed).digest()
    return f"{prefix}-" + "".join(CODE_ALPHABET[b % len(CODE_ALPHABET)] for b in digest[:6])
