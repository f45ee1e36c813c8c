"""The checkout engine's read path: what a customer gets on a cart. Never writes.

``quote_checkout`` answers a validation (and is what a redemption will write down);
``qualify_checkout`` lists everything that would apply on its own. Both run a fixed number of
queries, whatever the number of items, codes, promotions or rules:

1. the customer, 2. the customer's usage of live campaigns, 3. the requested vouchers (with
campaign and discount), 4. the automatic promotions (``selectors.checkout_rows``: these four in
one round trip on PostgreSQL), 5. every customer condition of every campaign in one
``SELECT EXISTS(...), ...`` (``segments.rules.check_customer``).

The campaigns' rules, schedule windows and target segments are kept per process until the
campaign changes (``selectors.cached_campaign_settings``: three more queries when one is not
known yet). The segments that rules and targeting refer to are read with one more query (one per
level of nesting) when the customer conditions compile; each compiled condition's SQL is
shared for a second, so a busy checkout skips even that.

Judging a redeemable, in this order (the first refusal is its reason code):
voucher_disabled, campaign_inactive, not_started, expired, currency_mismatch,
outside_schedule, not_assigned_to_customer, gift_balance_empty, redemption_limit_reached,
customer_limit_reached, budget_exhausted, then the target segments and the validation rules
(customer_not_eligible / order_not_eligible), then stacking (not_combinable) and the discount
itself (order_not_eligible when no item is in its scope).
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from segments.rules import check_customer

from . import discounts, selectors
from .discounts import DiscountSpec, Effect, Item, Ledger
from .models import Campaign, CustomerUsage, Discount, ValidationRule, Voucher
from .rules import CheckoutFacts, fold, reads_customer, substitute

MAX_CODES = 5


class Reason:
    VOUCHER_NOT_FOUND = "voucher_not_found"
    VOUCHER_DISABLED = "voucher_disabled"
    CAMPAIGN_INACTIVE = "campaign_inactive"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    OUTSIDE_SCHEDULE = "outside_schedule"
    REDEMPTION_LIMIT_REACHED = "redemption_limit_reached"
    CUSTOMER_LIMIT_REACHED = "customer_limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    CUSTOMER_NOT_ELIGIBLE = "customer_not_eligible"
    ORDER_NOT_ELIGIBLE = "order_not_eligible"
    NOT_ASSIGNED_TO_CUSTOMER = "not_assigned_to_customer"
    GIFT_BALANCE_EMPTY = "gift_balance_empty"
    NOT_COMBINABLE = "not_combinable"
    TOO_MANY_CODES = "too_many_codes"
    CURRENCY_MISMATCH = "currency_mismatch"


MESSAGES = {
    Reason.VOUCHER_NOT_FOUND: _("No voucher has this code."),
    Reason.VOUCHER_DISABLED: _("This code has been disabled."),
    Reason.CAMPAIGN_INACTIVE: _("This campaign is not active."),
    Reason.NOT_STARTED: _("This offer has not started yet."),
    Reason.EXPIRED: _("This offer has expired."),
    Reason.OUTSIDE_SCHEDULE: _("This offer is not available at this time."),
    Reason.REDEMPTION_LIMIT_REACHED: _("This offer has been used as often as it can be."),
    Reason.CUSTOMER_LIMIT_REACHED: _("You have used this offer as often as you can."),
    Reason.BUDGET_EXHAUSTED: _("This offer's budget is used up."),
    Reason.CUSTOMER_NOT_ELIGIBLE: _("This offer is not available to this customer."),
    Reason.ORDER_NOT_ELIGIBLE: _("This order does not qualify for this offer."),
    Reason.NOT_ASSIGNED_TO_CUSTOMER: _("This code belongs to another customer."),
    Reason.GIFT_BALANCE_EMPTY: _("This gift card has no balance left."),
    Reason.NOT_COMBINABLE: _("This offer cannot be combined with the other discounts."),
    Reason.TOO_MANY_CODES: _("Too many codes in one order."),
    Reason.CURRENCY_MISMATCH: _("This offer is in another currency than the order."),
}
REASON_CODES = tuple(MESSAGES)


@dataclass(frozen=True)
class CustomerInput:
    """The customer of a checkout: their ``source_id``, and fields to judge them on when the
    shop has not pushed them yet (the customers API's fields)."""

    source_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkout:
    items: tuple[Item, ...]
    currency: str
    shipping_amount: int = 0
    customer: CustomerInput | None = None
    codes: tuple[str, ...] = ()
    apply_promotions: bool = True
    order_source_id: str = ""
    # Sandbox (test API keys): draft campaigns count as active.
    sandbox: bool = False


@dataclass
class Outcome:
    """One redeemable in the answer: a requested code or an automatic promotion."""

    type: str  # "voucher" or "promotion"
    code: str | None
    campaign: Campaign | None
    voucher: Voucher | None = None
    status: str = "applicable"
    effect: Effect | None = None
    error: str | None = None
    message: str = ""

    @property
    def applicable(self) -> bool:
        return self.status == "applicable"

    def refuse(self, reason: str, message: str = "") -> None:
        self.status = "inapplicable"
        self.error = reason
        self.message = message or str(MESSAGES[reason])
        self.effect = None

    @property
    def discount_amount(self) -> int:
        return self.effect.discount if self.effect else 0

    @property
    def shipping_discount_amount(self) -> int:
        return self.effect.shipping if self.effect else 0

    @property
    def gift_card_amount(self) -> int:
        return self.effect.gift_card if self.effect else 0


@dataclass
class Quote:
    checkout: Checkout
    now: dt.datetime
    customer: Customer | None
    totals: dict[str, int]
    item_discounts: list[int]
    redeemables: list[Outcome]
    # Automatic promotions that did not apply, with their reasons (for nudges such as "add
    # a little more for free shipping"); not part of the checkout answer.
    missed_promotions: list[Outcome] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(r.applicable for r in self.redeemables if r.type == "voucher")

    @property
    def applied(self) -> list[Outcome]:
        return [r for r in self.redeemables if r.applicable]


# --- entry points --------------------------------------------------------------------------


def quote_checkout(checkout: Checkout, *, now: dt.datetime | None = None) -> Quote:
    """Every requested code and automatic promotion judged and applied on the cart.

    Raises nothing for refusals (they are outcomes); bad input is the caller's to refuse.
    """
    live = now is None
    now = now or timezone.now()
    requested = list(dict.fromkeys(checkout.codes))
    rows = selectors.checkout_rows(
        source_id=checkout.customer.source_id if checkout.customer else None,
        codes=requested[:MAX_CODES],
        promotions=checkout.apply_promotions,
        include_drafts=checkout.sandbox,
    )
    customer, vouchers, promotions = rows.customer, rows.vouchers, rows.promotions

    codes: list[Outcome] = []
    for i, code in enumerate(requested):
        voucher = vouchers.get(code.upper()) if i < MAX_CODES else None
        outcome = Outcome(
            "voucher", voucher.code if voucher else code, voucher and voucher.campaign, voucher
        )
        if i >= MAX_CODES:
            outcome.refuse(Reason.TOO_MANY_CODES)
        elif voucher is None:
            outcome.refuse(Reason.VOUCHER_NOT_FOUND)
        codes.append(outcome)
    promos = [Outcome("promotion", None, campaign) for campaign in promotions]

    _judge([*codes, *promos], checkout, customer, now, live=live, usage=rows.usage)
    _one_code_per_campaign(codes)
    ledger = Ledger(checkout.items, checkout.shipping_amount)
    for outcome in _stack(codes, promos):
        _apply(outcome, ledger)
        if outcome.type == "promotion" and outcome.applicable and not outcome.effect.total:
            # An automatic promotion that gives nothing here is not applied (and not
            # redeemed); a requested code stays applicable, as the shop asked for it.
            outcome.refuse(Reason.ORDER_NOT_ELIGIBLE)
    applied_promos = [p for p in promos if p.applicable]
    redeemables = [*applied_promos, *codes]
    quote = _quote(checkout, now, customer, ledger, redeemables)
    quote.missed_promotions = [p for p in promos if not p.applicable]
    return quote


def qualify_checkout(checkout: Checkout, *, now: dt.datetime | None = None) -> list[Outcome]:
    """Every automatic promotion and every voucher the customer owns that would apply to the
    cart on its own, with its discount, best first (codes in the request are ignored)."""
    live = now is None
    now = now or timezone.now()
    customer = _known_customer(checkout.customer)
    outcomes = [
        Outcome("promotion", None, campaign)
        for campaign in selectors.automatic_promotions(include_drafts=checkout.sandbox)
    ]
    if customer is not None:
        outcomes += [
            Outcome("voucher", v.code, v.campaign, v) for v in selectors.owned_vouchers(customer)
        ]
    _judge(outcomes, checkout, customer, now, live=live)
    for outcome in outcomes:
        if outcome.applicable:
            _apply(outcome, Ledger(checkout.items, checkout.shipping_amount))
    applicable = [o for o in outcomes if o.applicable]
    applicable.sort(key=lambda o: (-o.effect.total, o.type != "promotion", o.campaign.name))
    return applicable


# --- judging -------------------------------------------------------------------------------


def _known_customer(given: CustomerInput | None) -> Customer | None:
    if given is None:
        return None
    return selectors.checkout_customer(given.source_id)


@lru_cache(maxsize=256)
def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _customer_zone(checkout: Checkout, customer: Customer | None, campaign: Campaign) -> dt.tzinfo:
    name = customer.timezone if customer is not None else ""
    if not name and checkout.customer is not None:
        name = checkout.customer.data.get("timezone") or ""
    return _zone(name or campaign.timezone)


def campaign_day(campaign: Campaign, now: dt.datetime) -> dt.date:
    """The day on the campaign's clock: per-day customer limits count on it."""
    return now.astimezone(_zone(campaign.timezone)).date()


def _static_refusal(
    outcome: Outcome,
    checkout: Checkout,
    customer: Customer | None,
    usage: CustomerUsage | None,
    windows: Sequence,
    now: dt.datetime,
) -> str | None:
    campaign, voucher = outcome.campaign, outcome.voucher
    if voucher is not None and not voucher.enabled:
        return Reason.VOUCHER_DISABLED
    live = {Campaign.Status.ACTIVE}
    if checkout.sandbox:
        live.add(Campaign.Status.DRAFT)
    if campaign.status not in live or _discount(campaign) is None:
        return Reason.CAMPAIGN_INACTIVE
    starts = [t for t in (campaign.starts_at, voucher and voucher.starts_at) if t]
    if any(now < t for t in starts):
        return Reason.NOT_STARTED
    ends = [t for t in (campaign.ends_at, voucher and voucher.expires_at) if t]
    if any(now >= t for t in ends):
        return Reason.EXPIRED
    if campaign.currency != checkout.currency:
        return Reason.CURRENCY_MISMATCH
    if windows:
        zone = (
            _customer_zone(checkout, customer, campaign)
            if campaign.schedule_timezone == Campaign.ScheduleTimezone.CUSTOMER
            else _zone(campaign.timezone)
        )
        local = now.astimezone(zone)
        if not any(window.contains(local) for window in windows):
            return Reason.OUTSIDE_SCHEDULE
    owner = voucher.customer_id if voucher is not None else None
    if owner is not None and (customer is None or customer.pk != owner):
        return Reason.NOT_ASSIGNED_TO_CUSTOMER
    if _discount(campaign).type == Discount.Type.GIFT_CARD and not (
        voucher is not None and (voucher.gift_balance or 0) > 0
    ):
        return Reason.GIFT_BALANCE_EMPTY
    if voucher is not None and voucher.remaining_redemptions == 0:
        return Reason.REDEMPTION_LIMIT_REACHED
    limit = campaign.max_redemptions
    if limit is not None and campaign.redemptions_count >= limit:
        return Reason.REDEMPTION_LIMIT_REACHED
    if campaign.max_per_customer is not None or campaign.max_per_customer_per_day is not None:
        if checkout.customer is None:
            # Per-customer limits need to know who the customer is.
            return Reason.CUSTOMER_NOT_ELIGIBLE
        total = usage.redemptions if usage else 0
        today = usage.redemptions_on(campaign_day(campaign, now)) if usage else 0
        if campaign.max_per_customer is not None and total >= campaign.max_per_customer:
            return Reason.CUSTOMER_LIMIT_REACHED
        limit_day = campaign.max_per_customer_per_day
        if limit_day is not None and today >= limit_day:
            return Reason.CUSTOMER_LIMIT_REACHED
    if campaign.budget is not None and campaign.discount_given >= campaign.budget:
        return Reason.BUDGET_EXHAUSTED
    return None


@dataclass
class _Check:
    """One rule of one candidate: a tree left for SQL, and the refusal when it fails."""

    outcome: Outcome
    tree: Any
    reason: str
    message: str = ""


def _judge(
    outcomes: list[Outcome],
    checkout: Checkout,
    customer: Customer | None,
    now: dt.datetime,
    *,
    live: bool,
    usage: dict[int, CustomerUsage] | None = None,
) -> None:
    """Refuse each candidate that cannot apply, with its first reason; fixed query count.
    ``live`` questions (no ``now`` given) share compiled customer filters within a second.
    ``usage``: the customer's usage of the live campaigns, when already read."""
    pending = [o for o in outcomes if o.applicable]
    campaigns = {o.campaign.pk: o.campaign for o in pending}
    rules, windows, segments = selectors.cached_campaign_settings(campaigns.values())
    if usage is None:
        usage = selectors.customer_usage(customer, set(campaigns))

    checks: list[_Check] = []
    for outcome in pending:
        campaign = outcome.campaign
        reason = _static_refusal(
            outcome, checkout, customer, usage.get(campaign.pk), windows[campaign.pk], now
        )
        if reason:
            outcome.refuse(reason)
            continue
        facts = _facts(checkout, customer, campaign, usage.get(campaign.pk), now)
        if segments[campaign.pk]:
            tree = {"field": "segment.member", "op": "in", "value": segments[campaign.pk]}
            checks.append(_Check(outcome, tree, Reason.CUSTOMER_NOT_ELIGIBLE))
        for rule in rules[campaign.pk]:
            checks.append(_rule_check(outcome, rule, facts))

    needs_sql = []
    for check in checks:
        decided = fold(check.tree)
        if decided is None:
            if checkout.customer is None:
                check.outcome.refuse(Reason.CUSTOMER_NOT_ELIGIBLE)
            else:
                needs_sql.append(check)
        elif not decided and check.outcome.applicable:
            check.outcome.refuse(check.reason, check.message)
    needs_sql = [c for c in needs_sql if c.outcome.applicable]
    if needs_sql:
        trees = [c.tree for c in needs_sql]
        passed = _customer_checks(checkout.customer, customer, trees, None if live else now)
        for check, ok in zip(needs_sql, passed, strict=True):
            if not ok and check.outcome.applicable:
                check.outcome.refuse(check.reason, check.message)


def _facts(
    checkout: Checkout,
    customer: Customer | None,
    campaign: Campaign,
    usage: CustomerUsage | None,
    now: dt.datetime,
) -> CheckoutFacts:
    return CheckoutFacts(
        items=checkout.items,
        currency=checkout.currency,
        shipping_amount=checkout.shipping_amount,
        local_now=now.astimezone(_customer_zone(checkout, customer, campaign)),
        redemptions=usage.redemptions if usage else 0,
        redemptions_today=usage.redemptions_on(campaign_day(campaign, now)) if usage else 0,
    )


def _rule_check(outcome: Outcome, rule: ValidationRule, facts: CheckoutFacts) -> _Check:
    tree, _customer = substitute(rule.rules, facts)
    reason = rule.failure or (
        Reason.CUSTOMER_NOT_ELIGIBLE if reads_customer(rule.rules) else Reason.ORDER_NOT_ELIGIBLE
    )
    return _Check(outcome, tree, reason, rule.message)


class _Discard(Exception):
    """Rolls back the stand-in customer of a validation."""


def _customer_checks(
    given: CustomerInput, customer: Customer | None, trees: list[Any], now: dt.datetime | None
) -> list[bool]:
    """Each tree's verdict on the customer, in one query. A customer the shop has not pushed
    yet is judged on the fields given: a stand-in row, inserted and rolled back."""
    if customer is not None:
        return check_customer(trees, customer.pk, now=now)
    verdicts: list[bool] = []
    try:
        with transaction.atomic():
            stand_in = Customer(source_id=f"checkout:{uuid.uuid4()}")
            for name, value in given.data.items():
                setattr(stand_in, name, value)
            stand_in.save()
            verdicts = check_customer(trees, stand_in.pk, now=now)
            raise _Discard
    except _Discard:
        pass
    return verdicts


# --- stacking and applying -----------------------------------------------------------------


def _discount(campaign: Campaign) -> Discount | None:
    try:
        return campaign.discount
    except Discount.DoesNotExist:
        return None


def _is_gift_card(outcome: Outcome) -> bool:
    discount = _discount(outcome.campaign) if outcome.campaign else None
    return discount is not None and discount.type == Discount.Type.GIFT_CARD


def _one_code_per_campaign(codes: list[Outcome]) -> None:
    seen: set[int] = set()
    for outcome in codes:
        if outcome.applicable:
            if outcome.campaign.pk in seen:
                outcome.refuse(Reason.NOT_COMBINABLE)
            seen.add(outcome.campaign.pk)


def _stack(codes: list[Outcome], promos: list[Outcome]) -> list[Outcome]:
    """The order in which applicable redeemables apply, after the exclusivity rule.

    Codes come before automatic promotions in deciding: the first applicable code (request
    order) that is exclusive applies alone (every other code: not_combinable; no automatic
    promotion applies); after a non-exclusive code, exclusive codes are not_combinable and
    exclusive promotions do not apply. With no applicable code, the highest-priority
    applicable promotion decides: alone if exclusive, else every non-exclusive one applies.
    Gift cards pay, they do not discount: they always combine, and come last.
    """
    discount_codes = [c for c in codes if c.applicable and not _is_gift_card(c)]
    gift_cards = [c for c in codes if c.applicable and _is_gift_card(c)]
    live_promos = [p for p in promos if p.applicable]
    chosen_codes: list[Outcome] = []
    for code in discount_codes:
        if not chosen_codes:
            chosen_codes.append(code)
        elif code.campaign.exclusive or chosen_codes[0].campaign.exclusive:
            code.refuse(Reason.NOT_COMBINABLE)
        else:
            chosen_codes.append(code)
    if chosen_codes and chosen_codes[0].campaign.exclusive:
        chosen_promos: list[Outcome] = []
    elif chosen_codes or not live_promos or not live_promos[0].campaign.exclusive:
        chosen_promos = [p for p in live_promos if not p.campaign.exclusive]
    else:
        chosen_promos = live_promos[:1]
    for promo in live_promos:
        if promo not in chosen_promos:
            promo.refuse(Reason.NOT_COMBINABLE)
    return [*chosen_promos, *chosen_codes, *gift_cards]


def discount_spec(discount: Discount | dict) -> DiscountSpec:
    """The arithmetic's view of a discount: a campaign's ``Discount`` or a variant's fields."""
    values = discount if isinstance(discount, dict) else vars(discount)
    percent = values.get("percent")
    return DiscountSpec(
        type=values["type"],
        percent=Decimal(str(percent)) if percent is not None else None,
        amount=values.get("amount"),
        cap=values.get("cap"),
        unit_product=values.get("unit_product") or "",
        unit_quantity=values.get("unit_quantity"),
        unit_every=values.get("unit_every"),
        products=frozenset(values.get("products") or ()),
        categories=frozenset(values.get("categories") or ()),
        excluded_products=frozenset(values.get("excluded_products") or ()),
        excluded_categories=frozenset(values.get("excluded_categories") or ()),
    )


def spec_of(outcome: Outcome) -> DiscountSpec:
    """A voucher published in an A/B experiment gives its variant's discount; every other
    redeemable its campaign's."""
    voucher = outcome.voucher
    if voucher is not None and voucher.variant_id is not None and voucher.variant.discount:
        return discount_spec(voucher.variant.discount)
    return discount_spec(outcome.campaign.discount)


def _apply(outcome: Outcome, ledger: Ledger) -> None:
    campaign = outcome.campaign
    budget_left = None
    if campaign.budget is not None:
        budget_left = max(campaign.budget - campaign.discount_given, 0)
    gift_balance = outcome.voucher.gift_balance or 0 if outcome.voucher else 0
    effect = discounts.apply_discount(
        spec_of(outcome),
        ledger,
        gift_balance=gift_balance,
        budget_left=budget_left,
    )
    if not effect.eligible:
        outcome.refuse(
            Reason.ORDER_NOT_ELIGIBLE, str(_("No item of the order is eligible for this offer."))
        )
        return
    ledger.take(effect)
    outcome.effect = effect


def _quote(
    checkout: Checkout,
    now: dt.datetime,
    customer: Customer | None,
    ledger: Ledger,
    redeemables: list[Outcome],
) -> Quote:
    effects = [r.effect for r in redeemables if r.applicable]
    item_discounts = [sum(e.items[i] for e in effects) for i in range(len(checkout.items))]
    return Quote(
        checkout=checkout,
        now=now,
        customer=customer,
        totals=discounts.order_totals(ledger, effects),
        item_discounts=item_discounts,
        redeemables=redeemables,
    )


def with_codes(checkout: Checkout, codes: Sequence[str]) -> Checkout:
    return replace(checkout, codes=tuple(codes))
