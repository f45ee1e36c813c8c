"""Redemption and rollback: the checkout engine's write path.

A redemption quotes the checkout (``promotions.checkout``), then consumes every limit the
applied redeemables touch with guarded ``UPDATE`` statements, all in one transaction:

    UPDATE voucher  SET redemptions_count = redemptions_count + 1
     WHERE id = %s AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)

and the same for gift balances, campaign totals and budgets, and per-customer (daily) usage.
On PostgreSQL a concurrent redemption of the same row waits for the row lock and re-checks the
``WHERE`` on the committed value, so a limit of 10 gives exactly 10 redemptions. Exactly one
changed row, or the whole attempt is rolled back (all-or-nothing) and recorded as a failure
with its reason.

The quote runs before the transaction (it only reads). Rows are always locked in the same
order, so two redemptions never deadlock: vouchers (by id), the customer's usage (by
campaign), the new redemption and its lines, the day statistics (the process's own slice),
and last the campaign rows (by id). The campaign rows are shared by every redemption of a
campaign; taken last, they stay locked only for one statement and the commit.

Sandbox (test key) redemptions are recorded, marked ``test``, and touch no live counter,
budget, balance or statistic.
"""

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    ExpressionWrapper,
    F,
    IntegerField,
    Value,
    When,
)
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, NotFound
from customers.models import Customer
from customers.services import upsert_customer

from . import giftcards
from .checkout import Checkout, Outcome, Quote, Reason, campaign_day, quote_checkout
from .models import (
    Campaign,
    CampaignDayStats,
    CustomerUsage,
    FailureStats,
    GiftCardTransaction,
    Redemption,
    RedemptionLine,
    Voucher,
)

# Refusals that say "not now / not together" answer 409; the others (not found, not
# eligible) 422.
CONFLICT_REASONS = frozenset(
    {
        Reason.REDEMPTION_LIMIT_REACHED,
        Reason.CUSTOMER_LIMIT_REACHED,
        Reason.BUDGET_EXHAUSTED,
        Reason.GIFT_BALANCE_EMPTY,
        Reason.NOT_COMBINABLE,
        Reason.TOO_MANY_CODES,
    }
)
NOTHING_TO_REDEEM = "nothing_to_redeem"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    default_message = _("No redemption with this id.")


class AlreadyRolledBack(DomainError):
    code = "already_rolled_back"
    http_status = 409
    default_message = _("This redemption has already been rolled back.")


class NotRollbackable(DomainError):
    code = "not_rollbackable"
    http_status = 409
    default_message = _("Only a succeeded redemption can be rolled back.")


@dataclass
class RedeemResult:
    redemption: Redemption
    quote: Quote
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.redemption.status == Redemption.Status.SUCCEEDED

    @property
    def http_status(self) -> int:
        if self.succeeded:
            return 201
        return 409 if self.reason in CONFLICT_REASONS else 422


class _LimitHit(Exception):
    def __init__(self, outcome: Outcome, reason: str):
        self.outcome = outcome
        self.reason = reason


# --- redeem --------------------------------------------------------------------------------


def redeem_checkout(
    *,
    checkout: Checkout,
    client: str = "",
    client_address: str | None = None,
    idempotency_key: str = "",
    now: dt.datetime | None = None,
) -> RedeemResult:
    """Redeem every requested code and applicable automatic promotion of the checkout, all or
    nothing. A refusal is not an exception: it is recorded (status failed, with its reason)
    and returned, so the caller answers 409 or 422 with the per-redeemable results."""
    # The quote only reads: it runs before the transaction, which then holds row locks for
    # the writes alone.
    quote = quote_checkout(checkout, now=now)
    now = quote.now
    record = {
        "client": client,
        "client_address": client_address,
        "idempotency_key": idempotency_key,
    }
    refused = [r for r in quote.redeemables if r.type == "voucher" and not r.applicable]
    if refused:
        return _failed(quote, refused[0].error, record)
    if not quote.applied:
        return _failed(quote, NOTHING_TO_REDEEM, record)
    try:
        with transaction.atomic():
            customer = _customer_of(checkout, quote)
            live = not checkout.sandbox
            if live:
                _consume_own_rows(quote, customer, now)
            redemption = _write(quote, customer, Redemption.Status.SUCCEEDED, "", record)
            if live:
                for outcome in quote.applied:
                    if outcome.gift_card_amount:
                        giftcards.record(
                            voucher_id=outcome.voucher.pk,
                            kind=GiftCardTransaction.Kind.REDEEM,
                            amount=-outcome.gift_card_amount,
                            redemption=redemption,
                        )
                _count_success(quote, now)
                # Last: the campaign rows are shared by every redemption of a campaign, so
                # they stay locked only for this statement and the commit.
                _consume_campaigns(quote)
            return RedeemResult(redemption, quote)
    except _LimitHit as hit:
        hit.outcome.refuse(hit.reason)
        return _failed(quote, hit.reason, record)


def _customer_of(checkout: Checkout, quote: Quote) -> Customer | None:
    """The known customer, or the one the request describes, stored as the customers API
    would store it."""
    if quote.customer is not None or checkout.customer is None:
        return quote.customer
    customer, _created = upsert_customer(
        source_id=checkout.customer.source_id, data=checkout.customer.data
    )
    return customer


def _changed(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# Guarded increments, written once: a row changes only while it is within its limit. Table
# and column names are constants of this module; values go in as parameters.
_VOUCHERS = Voucher._meta.db_table
_CAMPAIGNS = Campaign._meta.db_table
_USAGE = CustomerUsage._meta.db_table
_USE_VOUCHER = (
    f"UPDATE {_VOUCHERS} SET redemptions_count = redemptions_count + 1 "  # noqa: S608
    "WHERE id = %s AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)"
)
_SPEND_GIFT = (
    f"UPDATE {_VOUCHERS} SET gift_balance = gift_balance - %s "  # noqa: S608
    "WHERE id = %s AND gift_balance >= %s"
)
_USE_CAMPAIGN = (
    f"UPDATE {_CAMPAIGNS} SET redemptions_count = redemptions_count + 1, "  # noqa: S608
    "discount_given = discount_given + %s "
    "WHERE id = %s AND (max_redemptions IS NULL OR redemptions_count < max_redemptions) "
    "AND (budget IS NULL OR budget >= discount_given + %s)"
)
_CAMPAIGN_FULL = (
    f"SELECT 1 FROM {_CAMPAIGNS} "  # noqa: S608
    "WHERE id = %s AND max_redemptions IS NOT NULL AND redemptions_count >= max_redemptions"
)
# The customer's first use inserts the row; later ones add to it while within the campaign's
# per-customer limits (NULL: none), counting per day on the campaign's clock.
_USE_BY_CUSTOMER = (
    f"INSERT INTO {_USAGE} AS u (campaign_id, customer_id, redemptions, day, day_redemptions) "  # noqa: S608
    "VALUES (%s, %s, 1, %s, 1) "
    "ON CONFLICT (customer_id, campaign_id) DO UPDATE SET "
    "redemptions = u.redemptions + 1, "
    "day_redemptions = CASE WHEN u.day = excluded.day THEN u.day_redemptions + 1 ELSE 1 END, "
    "day = excluded.day "
    "WHERE (%s IS NULL OR u.redemptions < %s) "
    "AND (%s IS NULL OR u.day IS NULL OR u.day <> excluded.day OR u.day_redemptions < %s)"
)


def _consume_own_rows(quote: Quote, customer: Customer | None, now: dt.datetime) -> None:
    """The rows of this redemption's own codes and customer: vouchers (by id), then the
    customer's usage of each campaign (by campaign id)."""
    applied = quote.applied
    for outcome in sorted((o for o in applied if o.voucher), key=lambda o: o.voucher.pk):
        if _changed(_USE_VOUCHER, [outcome.voucher.pk]) != 1:
            raise _LimitHit(outcome, Reason.REDEMPTION_LIMIT_REACHED)
        amount = outcome.gift_card_amount
        if amount and _changed(_SPEND_GIFT, [amount, outcome.voucher.pk, amount]) != 1:
            raise _LimitHit(outcome, Reason.GIFT_BALANCE_EMPTY)
    if customer is None:
        return
    for outcome in sorted(applied, key=lambda o: o.campaign.pk):
        campaign = outcome.campaign
        total, daily = campaign.max_per_customer, campaign.max_per_customer_per_day
        if (total is not None and total < 1) or (daily is not None and daily < 1):
            raise _LimitHit(outcome, Reason.CUSTOMER_LIMIT_REACHED)
        day = campaign_day(campaign, now)
        params = [campaign.pk, customer.pk, day, total, total, daily, daily]
        if _changed(_USE_BY_CUSTOMER, params) != 1:
            raise _LimitHit(outcome, Reason.CUSTOMER_LIMIT_REACHED)


def _consume_campaigns(quote: Quote) -> None:
    """Each applied campaign's total and budget (by campaign id)."""
    for outcome in sorted(quote.applied, key=lambda o: o.campaign.pk):
        given = outcome.discount_amount + outcome.shipping_discount_amount
        pk = outcome.campaign.pk
        if _changed(_USE_CAMPAIGN, [given, pk, given]) != 1:
            with connection.cursor() as cursor:
                cursor.execute(_CAMPAIGN_FULL, [pk])
                full = cursor.fetchone() is not None
            reason = Reason.REDEMPTION_LIMIT_REACHED if full else Reason.BUDGET_EXHAUSTED
            raise _LimitHit(outcome, reason)


def _write(
    quote: Quote, customer: Customer | None, status: str, reason: str, record: dict
) -> Redemption:
    checkout = quote.checkout
    totals = quote.totals if status == Redemption.Status.SUCCEEDED else _undiscounted(quote)
    redemption = Redemption(
        customer=customer,
        customer_source_id=checkout.customer.source_id if checkout.customer else "",
        order_source_id=checkout.order_source_id,
        status=status,
        reason=reason,
        currency=checkout.currency,
        order_amount=totals["amount"],
        discount_amount=totals["discount_amount"],
        shipping_discount_amount=totals["shipping_discount_amount"],
        gift_card_amount=totals["gift_card_amount"],
        total_amount=totals["total_amount"],
        test=checkout.sandbox,
        created_at=quote.now,
        **record,
    )
    redemption.pk = _REDEMPTIONS.insert([redemption])
    redemption._state.adding = False
    given = status == Redemption.Status.SUCCEEDED
    _LINES.insert(
        [
            RedemptionLine(
                redemption=redemption,
                campaign=r.campaign,
                voucher=r.voucher,
                code=r.code or "",
                succeeded=given and r.applicable,
                reason=r.error or "",
                discount_amount=r.discount_amount if given else 0,
                shipping_discount_amount=r.shipping_discount_amount if given else 0,
                gift_card_amount=r.gift_card_amount if given else 0,
            )
            for r in quote.redeemables
        ]
    )
    return redemption


class _Insert:
    """A model's INSERT written once per process: on the hot path it costs a fraction of the
    ORM's insert compiler. Values go through each field's ``get_db_prep_save``, as the ORM's
    would; no signals are sent (none are connected to these models)."""

    def __init__(self, model):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.columns = ", ".join(f'"{f.column}"' for f in self.fields)
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"

    def insert(self, objs: list) -> int | None:
        """Insert the rows; the id of the last one."""
        if not objs:
            return None
        params = [
            f.get_db_prep_save(getattr(obj, f.attname), connection)
            for obj in objs
            for f in self.fields
        ]
        # Table and column names come from the model; values go in as parameters.
        sql = (
            f'INSERT INTO "{self.model._meta.db_table}" ({self.columns}) '  # noqa: S608
            f"VALUES {', '.join([self.row] * len(objs))}"
        )
        with connection.cursor() as cursor:
            if connection.features.can_return_columns_from_insert:
                cursor.execute(sql + " RETURNING id", params)
                return cursor.fetchall()[-1][0]
            cursor.execute(sql, params)
            return cursor.lastrowid


_REDEMPTIONS = _Insert(Redemption)
_LINES = _Insert(RedemptionLine)


def _undiscounted(quote: Quote) -> dict[str, int]:
    amount = quote.totals["amount"]
    shipping = quote.totals["shipping_amount"]
    return {
        "amount": amount,
        "discount_amount": 0,
        "shipping_discount_amount": 0,
        "gift_card_amount": 0,
        "total_amount": amount + shipping,
    }


def _failed(quote: Quote, reason: str, record: dict) -> RedeemResult:
    """Record a refused attempt: nothing redeemed, every redeemable's reason kept."""
    redemption = _write(quote, quote.customer, Redemption.Status.FAILED, reason, record)
    if not quote.checkout.sandbox:
        day = quote.now.date()
        for outcome in quote.redeemables:
            if outcome.campaign is not None and outcome.error:
                _add_day_stats(outcome.campaign.pk, day, failed=1)
                _add_failure(outcome.campaign.pk, day, outcome.error)
    return RedeemResult(redemption, quote, reason)


def _count_success(quote: Quote, now: dt.datetime) -> None:
    revenue = quote.totals["total_amount"] + quote.totals["gift_card_amount"]
    for outcome in quote.applied:
        _add_day_stats(
            outcome.campaign.pk,
            now.date(),
            succeeded=1,
            discount_given=outcome.discount_amount + outcome.shipping_discount_amount,
            revenue=revenue,
        )


# --- statistics ----------------------------------------------------------------------------

_STATS = CampaignDayStats._meta.db_table
_FAILURES = FailureStats._meta.db_table
STAT_COLUMNS = ("succeeded", "failed", "rolled_back", "discount_given", "revenue")


_ADD_DAY_STATS = (
    f"INSERT INTO {_STATS} (campaign_id, day, slice, {', '.join(STAT_COLUMNS)}) "  # noqa: S608
    f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(STAT_COLUMNS))}) "
    "ON CONFLICT (campaign_id, day, slice) DO UPDATE SET "
    + ", ".join(f"{c} = {_STATS}.{c} + excluded.{c}" for c in STAT_COLUMNS)
)


def _add_day_stats(campaign_id: int, day: dt.date, **add: int) -> None:
    """Add to a campaign's day figures in one statement (an upsert that adds, race-free).

    Each web process adds to its own slice of the day (``CampaignDayStats.SLICES``), so
    concurrent redemptions of one campaign do not queue on one row; readers sum the slices.
    """
    values = [add.get(c, 0) for c in STAT_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_ADD_DAY_STATS, [campaign_id, day, _stats_slice(), *values])


def _stats_slice() -> int:
    return os.getpid() % CampaignDayStats.SLICES


def _add_failure(campaign_id: int, day: dt.date, reason: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_FAILURES} (campaign_id, day, reason, count) "  # noqa: S608
            "VALUES (%s, %s, %s, 1) "
            f"ON CONFLICT (campaign_id, day, reason) DO UPDATE SET count = {_FAILURES}.count + 1",
            [campaign_id, day, reason],
        )


# --- rollback ------------------------------------------------------------------------------


@transaction.atomic
def rollback_redemption(
    *, redemption_id: int, reason: str = "", by: str = "", now: dt.datetime | None = None
) -> Redemption:
    """Undo a succeeded redemption: every counter, the budget, gift balances, per-customer
    counts and the day's statistics go back. Raises RedemptionNotFound, AlreadyRolledBack
    (with when and why), NotRollbackable."""
    now = now or timezone.now()
    redemption = Redemption.objects.select_for_update().filter(pk=redemption_id).first()
    if redemption is None:
        raise RedemptionNotFound()
    if redemption.status == Redemption.Status.ROLLED_BACK:
        raise AlreadyRolledBack(
            details={
                "rolled_back_at": redemption.rolled_back_at.isoformat(),
                "reason": redemption.rollback_reason,
            }
        )
    if redemption.status != Redemption.Status.SUCCEEDED:
        raise NotRollbackable(details={"status": redemption.status})
    lines = list(redemption.lines.filter(succeeded=True).select_related("campaign").order_by("pk"))
    if not redemption.test:
        _restore(redemption, lines)
    redemption.status = Redemption.Status.ROLLED_BACK
    redemption.rolled_back_at = now
    redemption.rollback_reason = reason[:255]
    redemption.rolled_back_by = by[:150]
    redemption.save(update_fields=["status", "rolled_back_at", "rollback_reason", "rolled_back_by"])
    return redemption


def _minus(column: str, amount: int, *, big: bool = False) -> Greatest:
    """``column - amount``, clamped at zero (a counter never goes negative)."""
    field = BigIntegerField() if big else IntegerField()
    less = ExpressionWrapper(F(column) - Value(amount), output_field=field)
    return Greatest(less, Value(0), output_field=field)


def _restore(redemption: Redemption, lines: Iterable[RedemptionLine]) -> None:
    lines = list(lines)
    for line in sorted((x for x in lines if x.voucher_id), key=lambda x: x.voucher_id):
        Voucher.objects.filter(pk=line.voucher_id).update(
            redemptions_count=_minus("redemptions_count", 1),
            gift_balance=Case(
                When(gift_balance__isnull=True, then=Value(None)),
                default=F("gift_balance") + line.gift_card_amount,
                output_field=BigIntegerField(),
            ),
        )
        if line.gift_card_amount:
            giftcards.record(
                voucher_id=line.voucher_id,
                kind=GiftCardTransaction.Kind.ROLLBACK,
                amount=line.gift_card_amount,
                redemption=redemption,
            )
    # The redemption's order of locks: vouchers, usage, statistics, campaigns last.
    revenue = redemption.total_amount + redemption.gift_card_amount
    campaign_lines = sorted((x for x in lines if x.campaign_id), key=lambda x: x.campaign_id)
    if redemption.customer_id:
        for line in campaign_lines:
            day = campaign_day(line.campaign, redemption.created_at)
            CustomerUsage.objects.filter(
                campaign_id=line.campaign_id, customer_id=redemption.customer_id
            ).update(
                redemptions=_minus("redemptions", 1),
                day_redemptions=Case(
                    When(day=day, then=_minus("day_redemptions", 1)),
                    default=F("day_redemptions"),
                    output_field=IntegerField(),
                ),
            )
    for line in campaign_lines:
        _add_day_stats(
            line.campaign_id,
            redemption.created_at.date(),
            rolled_back=1,
            discount_given=-(line.discount_amount + line.shipping_discount_amount),
            revenue=-revenue,
        )
    for line in campaign_lines:
        given = line.discount_amount + line.shipping_discount_amount
        Campaign.objects.filter(pk=line.campaign_id).update(
            redemptions_count=_minus("redemptions_count", 1),
            discount_given=_minus("discount_given", given, big=True),
        )


def redemptions_of_order(order_source_id: str) -> list[Redemption]:
    return list(
        Redemption.objects.filter(
            order_source_id=order_source_id, status=Redemption.Status.SUCCEEDED
        ).prefetch_related("lines__campaign")
    )


def rollback_order_redemptions(*, order_source_id: str, reason: str) -> list[int]:
    """Roll back the redemptions of a cancelled or refunded order, unless one of their
    campaigns keeps its redemptions (``rollback_on_order_cancel`` off). Returns their ids."""
    done = []
    for redemption in redemptions_of_order(order_source_id):
        campaigns = [line.campaign for line in redemption.lines.all() if line.campaign]
        if all(c.rollback_on_order_cancel for c in campaigns):
            try:
                rollback_redemption(redemption_id=redemption.pk, reason=reason, by="order")
            except (AlreadyRolledBack, NotRollbackable):
                continue
            done.append(redemption.pk)
    return done
