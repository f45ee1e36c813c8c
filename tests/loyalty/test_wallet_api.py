"""The wallet API: GET the wallet and history, redeem a reward (idempotent), adjust."""

import pytest

from loyalty.models import Member, PointsEntry, Reward, RewardRedemption
from loyalty.services import ledger
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory, VoucherFactory

from .factories import ProgramFactory, RewardFactory, give, three_tiers

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/c-1/wallet"


@pytest.fixture
def program():
    made = ProgramFactory(points_name="Corks")
    three_tiers(made)
    return made


@pytest.fixture
def anna(program):
    customer = CustomerFactory(source_id="c-1")
    m = ledger.ensure_member(program=program, customer=customer)
    give(m, 300)
    return m


def test_wallet_shows_balance_tier_progress_and_referral(api, anna):
    body = api.get(URL).json()
    assert body["member"] is True
    assert body["program"]["points_name"] == "Corks"
    assert body["balance"] == {"active": 300, "pending": 0}
    assert body["tier"]["current"]["name"] == "Basic"
    assert body["progress"]["next_tier"]["name"] == "Advanced"
    assert body["referral"]["code"] == anna.referral_code


def test_wallet_lists_usable_catalog_vouchers_and_gift_cards(api, program, anna):
    reward = RewardFactory(program=program, points_cost=200)
    RewardFactory(program=program, active=False)
    voucher = VoucherFactory(customer=anna.customer, code="MINE-1")
    gift = CampaignFactory(kind="gift_cards")
    VoucherFactory(campaign=gift, customer=anna.customer, gift_amount=500, gift_balance=300)
    body = api.get(URL).json()
    assert [(r["id"], r["affordable"]) for r in body["catalog"]] == [(reward.pk, True)]
    assert [v["code"] for v in body["vouchers"]] == [voucher.code]
    assert [g["balance"] for g in body["gift_cards"]] == [300]


def test_a_non_member_reads_zero_balances_and_is_not_enrolled(api, program):
    CustomerFactory(source_id="c-2")
    reward = RewardFactory(program=program, points_cost=50)
    body = api.get("/api/v1/customers/c-2/wallet").json()
    assert body["member"] is False
    assert body["balance"] == {"active": 0, "pending": 0}
    assert body["tier"]["current"]["name"] == "Basic"  # the tier they would join with
    assert body["referral"]["code"] is None
    assert [(r["id"], r["affordable"]) for r in body["catalog"]] == [(reward.pk, False)]
    assert api.get("/api/v1/customers/c-2/wallet/history").json()["count"] == 0
    assert api.get("/api/v1/customers/c-2/wallet/redemptions").json()["count"] == 0
    assert not Member.objects.exists()


@pytest.mark.parametrize("path", ["", "/history", "/redemptions"])
@pytest.mark.parametrize("source_id", ["c-1", "c-2"])  # a member, a customer who is not one
def test_reading_the_wallet_writes_nothing(api, anna, path, source_id):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CustomerFactory(source_id="c-2")
    api.get(URL)  # the API key is verified once, then kept for a while
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/customers/{source_id}/wallet{path}")
    assert response.status_code == 200
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert Member.objects.count() == 1


def test_the_first_write_makes_the_customer_a_member(api, program):
    CustomerFactory(source_id="c-2")
    response = api.post(
        "/api/v1/customers/c-2/wallet/adjustments", {"points": 20, "reason": "welcome"}
    )
    assert response.status_code == 201
    body = api.get("/api/v1/customers/c-2/wallet").json()
    assert (body["member"], body["balance"]["active"]) == (True, 20)
    assert body["referral"]["code"]


def test_unknown_customer_is_404(api, program):
    response = api.get("/api/v1/customers/nobody/wallet")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "customer_not_found")


def test_no_programme_is_404(api, db):
    CustomerFactory(source_id="c-1")
    response = api.get(URL)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "no_loyalty_program")


def test_history_is_paginated_newest_first(api, anna):
    for n in range(3):
        give(anna, n + 1)
    body = api.get(f"{URL}/history?page_size=2").json()
    assert body["count"] == 4
    assert [e["points"] for e in body["results"]] == [3, 2]
    assert body["next"]


def test_redeem_a_reward(api, program, anna):
    reward = RewardFactory(program=program, points_cost=120, kind=Reward.Kind.PRODUCT)
    response = api.post(f"{URL}/redemptions", {"reward": reward.pk, "address": "1 Main St"})
    assert response.status_code == 201
    body = response.json()
    assert (body["points"], body["balance_after"], body["fulfilment"]) == (120, 180, "requested")


def test_redeem_a_voucher_reward_returns_the_code(api, program, anna):
    campaign = CampaignFactory(kind="reward", codes_on_demand=True, code_pattern="LOY-####")
    DiscountFactory(campaign=campaign)
    reward = RewardFactory(program=program, kind=Reward.Kind.VOUCHER, campaign=campaign)
    body = api.post(f"{URL}/redemptions", {"reward": reward.pk}).json()
    assert body["code"].startswith("LOY-")


def test_redeem_with_an_idempotency_key_redeems_once(api, program, anna):
    reward = RewardFactory(program=program, points_cost=100)
    first = api.post(f"{URL}/redemptions", {"reward": reward.pk}, HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post(f"{URL}/redemptions", {"reward": reward.pk}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert RewardRedemption.objects.count() == 1


def test_redeem_without_enough_points_is_409(api, program, anna):
    reward = RewardFactory(program=program, points_cost=301)
    response = api.post(f"{URL}/redemptions", {"reward": reward.pk})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "insufficient_points")
    assert response.json()["error"]["details"] == {"needed": 301, "active": 300}


def test_redeem_a_reward_of_another_programme_is_404(api, anna):
    other = RewardFactory()
    response = api.post(f"{URL}/redemptions", {"reward": other.pk})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "reward_not_found")


@pytest.mark.parametrize("body", [{}, {"reward": "3"}, {"reward": 1.5}, {"reward": 0}])
def test_redeem_with_a_bad_body_is_400(api, anna, body):
    response = api.post(f"{URL}/redemptions", body)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")


def test_redemptions_list(api, program, anna):
    reward = RewardFactory(program=program, points_cost=100)
    api.post(f"{URL}/redemptions", {"reward": reward.pk})
    body = api.get(f"{URL}/redemptions").json()
    assert [r["reward_id"] for r in body["results"]] == [reward.pk]


def test_adjust_with_a_reason(api, anna):
    response = api.post(f"{URL}/adjustments", {"points": -50, "reason": "duplicate order"})
    assert response.status_code == 201
    entry = PointsEntry.objects.get(kind="adjust", points=-50)
    assert (entry.reason, entry.created_by) == ("duplicate order", "api:checkout")


def test_adjust_below_zero_is_409(api, anna):
    response = api.post(f"{URL}/adjustments", {"points": -301, "reason": "x"})
    assert response.status_code == 409


def test_wallet_schema_is_generated(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/customers/{source_id}/wallet" in schema["paths"]
    assert "/api/v1/customers/{source_id}/wallet/redemptions" in schema["paths"]


def test_wallet_queries_do_not_grow_with_the_catalog(api, program, anna):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(URL).status_code == 200
        return len(queries)

    RewardFactory(program=program)
    count()  # the API key is verified once, then kept for a while
    few = count()
    for tier in program.tiers.all():
        RewardFactory(program=program).tiers.set([tier])
    VoucherFactory(customer=anna.customer)
    assert count() == few


def throttle_rates(**rates):
    from django.conf import settings
    from django.test import override_settings

    return override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    )


def test_wallet_is_throttled_per_api_key_with_the_error_format(api, anna):
    from rest_framework.test import APIClient

    from customers.models import ApiKey

    # A day's window, so that a minute turning over mid-test cannot reset the count.
    with throttle_rates(wallet_key="2/day", wallet_customer="100/day"):
        assert api.get(URL).status_code == 200
        assert api.get(f"{URL}/history").status_code == 200
        third = api.get(f"{URL}/redemptions")
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "rate_limited"
        assert int(third["Retry-After"]) > 0
        assert api.post(f"{URL}/adjustments", {"points": 1, "reason": "x"}).status_code == 429
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.objects.create_key(name='b')[1]}")
        assert other.get(URL).status_code == 200


def test_wallet_is_throttled_per_customer(api, anna):
    CustomerFactory(source_id="c-2")
    with throttle_rates(wallet_key="100/day", wallet_customer="2/day"):
        assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 429]
        assert api.get("/api/v1/customers/c-2/wallet").status_code == 200


def test_wallet_limits_default_to_the_checkout_rates(api, anna):
    with throttle_rates(checkout_key="1/day", checkout_customer="100/day"):
        assert [api.get(URL).status_code for _ in range(2)] == [200, 429]
