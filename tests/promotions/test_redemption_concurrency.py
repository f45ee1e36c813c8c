"""Limits hold under concurrency: 50 redemptions at once against a limit of 10 give exactly
10 successes and 40 recorded failures, for every kind of limit (PostgreSQL, real threads and
connections; CI's second pass)."""

import threading

import pytest
from django.db import OperationalError, connection, connections
from rest_framework.test import APIClient

from customers.models import ApiKey
from promotions import redemptions
from promotions.checkout import Checkout, CustomerInput
from promotions.discounts import Item
from promotions.models import Campaign, CustomerUsage, Redemption, Voucher
from tests.customers.test_concurrency import run_concurrently
from tests.factories import CustomerFactory
from tests.promotions.factories import VoucherFactory, coupon

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 50
LIMIT = 10
CART = (Item("p-1", "shoes", 1, 5000),)


def attempt(code: str, n: int, customer: str | None = None) -> callable:
    who = CustomerInput(customer or f"c-{n}")
    checkout = Checkout(
        items=CART, currency="USD", customer=who, codes=(code,), order_source_id=f"o-{n}"
    )
    return lambda: redemptions.redeem_checkout(checkout=checkout, client="race")


def race(calls) -> None:
    errors = run_concurrently(calls)
    assert errors == []


def assert_exactly_limit(reason: str) -> None:
    assert Redemption.objects.filter(status="succeeded").count() == LIMIT
    failed = Redemption.objects.filter(status="failed")
    assert failed.count() == ATTEMPTS - LIMIT
    assert set(failed.values_list("reason", flat=True)) == {reason}


@pytest.fixture
def customers():
    for n in range(ATTEMPTS):
        CustomerFactory(source_id=f"c-{n}")
    CustomerFactory(source_id="regular")


def test_voucher_redemption_limit(customers):
    voucher = coupon("LIMITED")
    Voucher.objects.filter(pk=voucher.pk).update(max_redemptions=LIMIT)
    race([attempt("LIMITED", n) for n in range(ATTEMPTS)])
    assert_exactly_limit("redemption_limit_reached")
    voucher.refresh_from_db()
    assert voucher.redemptions_count == LIMIT


def test_campaign_total_limit_across_unique_codes(customers):
    first = coupon("U0", max_redemptions=LIMIT)
    for n in range(1, ATTEMPTS):
        VoucherFactory(campaign=first.campaign, code=f"U{n}")
    race([attempt(f"U{n}", n) for n in range(ATTEMPTS)])
    assert_exactly_limit("redemption_limit_reached")
    assert Campaign.objects.get(pk=first.campaign_id).redemptions_count == LIMIT


def test_per_customer_limit(customers):
    coupon("MINE", max_per_customer=LIMIT)
    race([attempt("MINE", n, customer="regular") for n in range(ATTEMPTS)])
    assert_exactly_limit("customer_limit_reached")
    assert CustomerUsage.objects.get().redemptions == LIMIT


def test_per_customer_daily_limit(customers):
    coupon("DAILY", max_per_customer_per_day=LIMIT)
    race([attempt("DAILY", n, customer="regular") for n in range(ATTEMPTS)])
    assert_exactly_limit("customer_limit_reached")
    assert CustomerUsage.objects.get().day_redemptions == LIMIT


def test_discount_budget(customers):
    # 500 off each order; the budget pays for exactly ten.
    voucher = coupon("BUDGET", budget=500 * LIMIT, discount={"type": "amount", "amount": 500})
    race([attempt("BUDGET", n) for n in range(ATTEMPTS)])
    assert_exactly_limit("budget_exhausted")
    assert Campaign.objects.get(pk=voucher.campaign_id).discount_given == 500 * LIMIT


def test_gift_card_balance(customers):
    card = coupon(
        "GIFT", kind=Campaign.Kind.GIFT_CARDS, discount={"type": "gift_card", "percent": None}
    )
    Voucher.objects.filter(pk=card.pk).update(gift_amount=5000 * LIMIT, gift_balance=5000 * LIMIT)
    race([attempt("GIFT", n) for n in range(ATTEMPTS)])
    assert_exactly_limit("gift_balance_empty")
    assert Voucher.objects.get(pk=card.pk).gift_balance == 0


def test_racing_retries_with_one_idempotency_key_redeem_once(customers):
    voucher = coupon("ONCE")
    _, key = ApiKey.objects.create_key(name="checkout", mode=ApiKey.Mode.LIVE)
    body = {
        "customer": {"source_id": "regular"},
        "order": {
            "source_id": "o-1",
            "currency": "USD",
            "items": [{"product_id": "p-1", "quantity": 1, "unit_price": 5000}],
        },
        "codes": ["ONCE"],
    }
    answers = []

    def retry():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_IDEMPOTENCY_KEY="k-1")
        response = client.post("/api/v1/redemptions", body, format="json")
        answers.append((response.status_code, response.json()))

    race([retry for _ in range(20)])
    assert {status for status, _ in answers} == {201}
    assert len({answer["id"] for _, answer in answers}) == 1
    assert Redemption.objects.count() == 1
    assert Voucher.objects.get(pk=voucher.pk).redemptions_count == 1


def test_a_killed_connection_mid_redemption_leaves_nothing_half_written(customers, monkeypatch):
    voucher = coupon("KILLED", budget=10_000)
    consumed, release = threading.Event(), threading.Event()
    backend = {}
    real_write = redemptions._write

    def write_after_kill(*args, **kwargs):
        # Counters are already consumed in this transaction; the connection dies here.
        backend["pid"] = connection.connection.info.backend_pid
        consumed.set()
        release.wait(timeout=30)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(redemptions, "_write", write_after_kill)
    errors = []

    def victim():
        try:
            attempt("KILLED", 0)()
        except OperationalError as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=victim)
    thread.start()
    assert consumed.wait(timeout=30)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend["pid"]])
    release.set()
    thread.join(timeout=30)

    assert len(errors) == 1
    voucher.refresh_from_db()
    voucher.campaign.refresh_from_db()
    assert voucher.redemptions_count == 0
    assert (voucher.campaign.redemptions_count, voucher.campaign.discount_given) == (0, 0)
    assert not Redemption.objects.exists()
    assert not CustomerUsage.objects.filter(redemptions__gt=0).exists()
