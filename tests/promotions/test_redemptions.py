"""POST /api/v1/redemptions and rollback, as a checkout calls them."""

import datetime as dt
import os

import pytest
from django.core.cache import cache
from django.test import override_settings

from customers import services as customer_services
from customers.models import ApiKey, Customer
from customers.services import LineInput
from promotions.idempotency import purge_idempotency_keys
from promotions.models import (
    Campaign,
    CampaignDayStats,
    CustomerUsage,
    FailureStats,
    IdempotencyKey,
    Redemption,
    SecurityAlert,
    Voucher,
)
from promotions.selectors import campaign_day_stats
from tests.factories import CustomerFactory
from tests.promotions.factories import coupon, promotion

pytestmark = pytest.mark.django_db

ORDER = {
    "source_id": "o-1",
    "currency": "USD",
    "shipping_amount": 500,
    "items": [{"product_id": "p-1", "category": "shoes", "quantity": 2, "unit_price": 2500}],
}
BODY = {"customer": {"source_id": "c-1"}, "order": ORDER, "codes": ["SUMMER10"]}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def customer():
    return CustomerFactory(source_id="c-1")


def redeem(api, body=BODY, **headers):
    return api.post("/api/v1/redemptions", body, **headers)


def test_a_redemption_consumes_the_limits_and_answers_201(api, customer):
    voucher = coupon("SUMMER10", max_per_customer=5)
    response = redeem(api)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["order"]["discount_amount"] == 500
    assert body["redeemables"][0]["code"] == "SUMMER10"
    voucher.refresh_from_db()
    voucher.campaign.refresh_from_db()
    assert voucher.redemptions_count == 1
    assert (voucher.campaign.redemptions_count, voucher.campaign.discount_given) == (1, 500)
    usage = CustomerUsage.objects.get(customer=customer, campaign=voucher.campaign)
    assert (usage.redemptions, usage.day_redemptions) == (1, 1)
    redemption = Redemption.objects.get(pk=body["id"])
    assert redemption.order_source_id == "o-1"
    assert redemption.lines.get().discount_amount == 500


def test_day_statistics_from_several_web_processes_add_up(api, customer, monkeypatch):
    voucher = coupon("SUMMER10", max_per_customer=None)
    first = redeem(api, {**BODY, "order": {**ORDER, "source_id": "o-1"}})
    other_process = os.getpid() + 1
    monkeypatch.setattr("promotions.redemptions.os.getpid", lambda: other_process)
    second = redeem(api, {**BODY, "order": {**ORDER, "source_id": "o-2"}})
    assert (first.status_code, second.status_code) == (201, 201)
    api.post(f"/api/v1/redemptions/{first.json()['id']}/rollback", {"reason": "test"})
    assert CampaignDayStats.objects.filter(campaign=voucher.campaign).count() == 2
    (stats,) = campaign_day_stats([voucher.campaign.pk])
    assert (stats["succeeded"], stats["rolled_back"], stats["discount_given"]) == (2, 1, 500)


def test_order_source_id_is_required(api, customer):
    coupon("SUMMER10")
    body = {**BODY, "order": {k: v for k, v in ORDER.items() if k != "source_id"}}
    response = redeem(api, body)
    assert response.status_code == 400
    assert "order" in response.json()["error"]["details"]


def test_all_or_nothing_when_one_code_fails(api, customer):
    good = coupon("GOOD")
    response = redeem(api, {**BODY, "codes": ["GOOD", "NOPE"]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "voucher_not_found"
    assert [r["code"] for r in error["details"]["redeemables"]] == ["GOOD", "NOPE"]
    good.refresh_from_db()
    assert good.redemptions_count == 0
    failed = Redemption.objects.get(pk=error["details"]["id"])
    assert (failed.status, failed.reason) == ("failed", "voucher_not_found")
    assert failed.customer == customer


def test_a_limit_refusal_is_409_and_recorded_with_statistics(api, customer):
    voucher = coupon("SUMMER10")
    voucher.max_redemptions = 1
    voucher.save()
    assert redeem(api).status_code == 201
    response = redeem(api)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "redemption_limit_reached"
    (stats,) = campaign_day_stats([voucher.campaign.pk])
    assert (stats["succeeded"], stats["failed"], stats["discount_given"]) == (1, 1, 500)
    failure = FailureStats.objects.get(campaign=voucher.campaign)
    assert (failure.reason, failure.count) == ("redemption_limit_reached", 1)


def test_nothing_to_redeem_is_422(api, customer):
    response = redeem(api, {**BODY, "codes": []})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "nothing_to_redeem"


def test_automatic_promotions_are_redeemed_with_the_codes(api, customer):
    auto = promotion(name="Ship", discount={"type": "free_shipping", "percent": None})
    coupon("SUMMER10")
    body = redeem(api).json()
    assert body["order"]["total_amount"] == 4500
    auto.refresh_from_db()
    assert (auto.redemptions_count, auto.discount_given) == (1, 500)


def test_gift_card_balance_is_spent_and_restored(api, customer):
    card = coupon(
        "GIFT", kind=Campaign.Kind.GIFT_CARDS, discount={"type": "gift_card", "percent": None}
    )
    card.gift_amount = card.gift_balance = 2000
    card.save()
    response = redeem(api, {**BODY, "codes": ["GIFT"]})
    assert response.json()["order"]["gift_card_amount"] == 2000
    card.refresh_from_db()
    assert card.gift_balance == 0
    api.post(f"/api/v1/redemptions/{response.json()['id']}/rollback", {"reason": "test"})
    card.refresh_from_db()
    assert card.gift_balance == 2000


def test_an_unknown_customer_is_stored_by_a_redemption(api):
    coupon("SUMMER10")
    body = {**BODY, "customer": {"source_id": "new-1", "country": "IE", "email": "n@example.com"}}
    assert redeem(api, body).status_code == 201
    stored = Customer.objects.get(source_id="new-1")
    assert (stored.country, stored.email) == ("IE", "n@example.com")


# --- idempotency ---------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_answer(api, customer):
    voucher = coupon("SUMMER10")
    first = redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    again = redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    voucher.refresh_from_db()
    assert voucher.redemptions_count == 1
    assert Redemption.objects.count() == 1


def test_a_replayed_failure_keeps_its_status(api, customer):
    first = redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    again = redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.json() == first.json()


def test_the_same_key_with_another_body_is_a_conflict(api, customer):
    coupon("SUMMER10")
    redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    other = redeem(api, {**BODY, "codes": []}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_keys_are_per_api_key(api, customer, client):
    coupon("SUMMER10")
    redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    _, other_key = ApiKey.objects.create_key(name="pos", mode=ApiKey.Mode.LIVE)
    response = client.post(
        "/api/v1/redemptions",
        BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {other_key}",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 201
    assert Redemption.objects.filter(status="succeeded").count() == 2


def test_keys_are_purged_after_the_retention(api, customer):
    coupon("SUMMER10")
    redeem(api, HTTP_IDEMPOTENCY_KEY="k-1")
    IdempotencyKey.objects.update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    redeem(api, HTTP_IDEMPOTENCY_KEY="k-2")
    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k-2"]


# --- rollback ------------------------------------------------------------------------------


def test_rollback_restores_every_counter_and_records_who_and_why(api, customer):
    voucher = coupon("SUMMER10", budget=10_000)
    redemption_id = redeem(api).json()["id"]
    response = api.post(f"/api/v1/redemptions/{redemption_id}/rollback", {"reason": "returned"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["rollback_reason"]) == ("rolled_back", "returned")
    assert body["rolled_back_by"] == "api:checkout"
    voucher.refresh_from_db()
    voucher.campaign.refresh_from_db()
    assert voucher.redemptions_count == 0
    assert (voucher.campaign.redemptions_count, voucher.campaign.discount_given) == (0, 0)
    usage = CustomerUsage.objects.get(customer=customer)
    assert (usage.redemptions, usage.day_redemptions) == (0, 0)
    (stats,) = campaign_day_stats([voucher.campaign.pk])
    assert (stats["succeeded"], stats["rolled_back"], stats["discount_given"]) == (1, 1, 0)


def test_a_second_rollback_changes_nothing_and_is_refused(api, customer):
    voucher = coupon("SUMMER10")
    redemption_id = redeem(api).json()["id"]
    api.post(f"/api/v1/redemptions/{redemption_id}/rollback", {"reason": "one"})
    redeem(api, {**BODY, "order": {**ORDER, "source_id": "o-2"}})
    again = api.post(f"/api/v1/redemptions/{redemption_id}/rollback", {"reason": "two"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_rolled_back"
    voucher.refresh_from_db()
    assert voucher.redemptions_count == 1  # the second order's redemption only


def test_a_failed_attempt_cannot_be_rolled_back(api, customer):
    failed_id = redeem(api).json()["error"]["details"]["id"]
    response = api.post(f"/api/v1/redemptions/{failed_id}/rollback", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_rollbackable"


def test_rollback_of_an_unknown_redemption_is_404(api):
    assert api.post("/api/v1/redemptions/999/rollback", {}).status_code == 404


def test_cancelling_the_order_rolls_back_its_redemptions(
    api, customer, django_capture_on_commit_callbacks
):
    voucher = coupon("SUMMER10")
    redemption_id = redeem(api).json()["id"]
    line = [LineInput(product_id="p-1", quantity=2, unit_price=2500)]
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.upsert_order(
            source_id="o-1", customer_source_id="c-1", status="created", currency="USD", lines=line
        )
        customer_services.upsert_order(
            source_id="o-1",
            customer_source_id="c-1",
            status="cancelled",
            currency="USD",
            lines=line,
        )
    redemption = Redemption.objects.get(pk=redemption_id)
    assert (redemption.status, redemption.rolled_back_by) == ("rolled_back", "order")
    voucher.refresh_from_db()
    assert voucher.redemptions_count == 0


def test_a_campaign_can_keep_its_redemptions_when_the_order_is_cancelled(
    api, customer, django_capture_on_commit_callbacks
):
    coupon("SUMMER10", rollback_on_order_cancel=False)
    redemption_id = redeem(api).json()["id"]
    line = [LineInput(product_id="p-1", quantity=2, unit_price=2500)]
    with django_capture_on_commit_callbacks(execute=True):
        customer_services.upsert_order(
            source_id="o-1", customer_source_id="c-1", status="created", currency="USD", lines=line
        )
        customer_services.upsert_order(
            source_id="o-1",
            customer_source_id="c-1",
            status="cancelled",
            currency="USD",
            lines=line,
        )
    assert Redemption.objects.get(pk=redemption_id).status == "succeeded"


# --- sandbox -------------------------------------------------------------------------------


def test_sandbox_redemptions_touch_no_live_counter_or_statistic(client, customer):
    voucher = coupon("SUMMER10", status="draft", budget=100)
    _, key = ApiKey.objects.create_key(name="staging", mode=ApiKey.Mode.TEST)
    response = client.post(
        "/api/v1/redemptions",
        BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    assert response.status_code == 201
    assert response.json()["test"] is True
    voucher.refresh_from_db()
    voucher.campaign.refresh_from_db()
    assert (voucher.redemptions_count, voucher.campaign.discount_given) == (0, 0)
    assert not CampaignDayStats.objects.exists()
    assert not CustomerUsage.objects.exists()


# --- abuse ---------------------------------------------------------------------------------


@override_settings(OFFERWISE_GUESS_LIMIT=3, OFFERWISE_GUESS_WINDOW=60, OFFERWISE_GUESS_BLOCK=60)
def test_guessing_codes_blocks_the_customer_and_raises_an_alert(api, customer):
    coupon("SUMMER10")
    for n in range(3):
        assert redeem(api, {**BODY, "codes": [f"GUESS{n}"]}).status_code == 422
    blocked = redeem(api)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_failed_attempts"
    validation = api.post("/api/v1/validations", BODY)
    assert validation.status_code == 429
    alerts = SecurityAlert.objects.filter(kind="code_guessing")
    assert {a.subject for a in alerts} == {"customer:c-1", "address:127.0.0.1"}
    assert Voucher.objects.get(code="SUMMER10").redemptions_count == 0


@override_settings(OFFERWISE_GUESS_LIMIT=2, OFFERWISE_GUESS_WINDOW=60, OFFERWISE_GUESS_BLOCK=60)
def test_a_blocked_customer_stays_blocked_with_a_padded_id_or_another_address(api, customer):
    for n in range(2):
        assert redeem(api, {**BODY, "codes": [f"GUESS{n}"]}).status_code == 422
    padded = {**BODY, "customer": {"source_id": "  c-1 "}}
    response = api.post("/api/v1/validations", padded, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429
    other = {**BODY, "customer": {"source_id": "c-2"}}
    assert api.post("/api/v1/validations", other, REMOTE_ADDR="10.0.0.9").status_code == 200


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"checkout_key": "1000/min", "checkout_customer": "2/min"},
    }
)
def test_validations_are_throttled_per_customer(api, customer):
    assert api.post("/api/v1/validations", BODY).status_code == 200
    assert api.post("/api/v1/validations", BODY).status_code == 200
    third = api.post("/api/v1/validations", BODY)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limited"
    other = api.post("/api/v1/validations", {**BODY, "customer": {"source_id": "c-2"}})
    assert other.status_code == 200
