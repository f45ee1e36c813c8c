"""POST /api/v1/validations and /qualifications as a checkout calls them."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from customers.models import ApiKey
from promotions.models import Campaign
from promotions.selectors import clear_settings_cache
from segments.rules import clear_live_cache
from tests.factories import CustomerFactory
from tests.promotions.factories import RuleFactory, coupon, promotion

pytestmark = pytest.mark.django_db

BODY = {
    "customer": {"source_id": "c-1"},
    "order": {
        "source_id": "o-1",
        "currency": "USD",
        "shipping_amount": 500,
        "items": [{"product_id": "p-1", "category": "shoes", "quantity": 2, "unit_price": 2500}],
    },
    "codes": ["SUMMER10"],
    "apply_promotions": True,
}


def test_the_contract_example_answers_as_documented(api):
    CustomerFactory(source_id="c-1")
    voucher = coupon("SUMMER10", name="Summer")
    response = api.post("/api/v1/validations", BODY)
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "order": {
            "source_id": "o-1",
            "currency": "USD",
            "amount": 5000,
            "shipping_amount": 500,
            "discount_amount": 500,
            "shipping_discount_amount": 0,
            "gift_card_amount": 0,
            "total_amount": 5000,
            "items": [{"product_id": "p-1", "quantity": 2, "amount": 5000, "discount_amount": 500}],
        },
        "redeemables": [
            {
                "type": "voucher",
                "code": "SUMMER10",
                "campaign": "Summer",
                "campaign_id": voucher.campaign_id,
                "status": "applicable",
                "discount_amount": 500,
                "shipping_discount_amount": 0,
                "gift_card_amount": 0,
            }
        ],
    }


def test_an_inapplicable_code_carries_its_reason(api):
    response = api.post("/api/v1/validations", BODY)
    body = response.json()
    assert response.status_code == 200
    assert body["valid"] is False
    assert body["redeemables"][0]["error"] == {
        "code": "voucher_not_found",
        "message": "No voucher has this code.",
    }
    assert body["order"]["total_amount"] == 5500


def test_a_guest_cart_needs_no_customer(api):
    coupon("SUMMER10")
    response = api.post("/api/v1/validations", {**BODY, "customer": None})
    assert response.json()["valid"] is True


def test_an_unknown_customer_is_judged_on_the_fields_sent(api):
    voucher = coupon("SUMMER10")
    RuleFactory(campaign=voucher.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    body = {**BODY, "customer": {"source_id": "new", "country": "IE"}}
    assert api.post("/api/v1/validations", body).json()["valid"] is True
    body = {**BODY, "customer": {"source_id": "new", "country": "FR"}}
    assert api.post("/api/v1/validations", body).json()["valid"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"codes": ["A", "a"]}, "codes"),
        ({"codes": "SUMMER10"}, "codes"),
        ({"order": {**BODY["order"], "currency": "XXY"}}, "order"),
        (
            {
                "order": {
                    **BODY["order"],
                    "items": [{"product_id": "p", "quantity": "2", "unit_price": 1}],
                }
            },
            "order",
        ),
        (
            {
                "order": {
                    **BODY["order"],
                    "items": [{"product_id": "p", "quantity": 1, "unit_price": -1}],
                }
            },
            "order",
        ),
        (
            {
                "order": {
                    **BODY["order"],
                    "items": [{"product_id": "p", "quantity": 1, "unit_price": 1.5}],
                }
            },
            "order",
        ),
        ({"order": {**BODY["order"], "shipping_amount": None}}, "order"),
        ({"customer": {"country": "IE"}}, "customer"),
        ({"apply_promotions": "yes please"}, "apply_promotions"),
    ],
)
def test_bad_bodies_are_refused_with_the_field(api, change, field):
    response = api.post("/api/v1/validations", {**BODY, **change})
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_too_many_codes_in_one_body_is_a_400(api):
    response = api.post("/api/v1/validations", {**BODY, "codes": [f"C{i}" for i in range(51)]})
    assert response.status_code == 400


def test_a_test_key_sees_draft_campaigns_and_a_live_key_does_not(api, client):
    coupon("SUMMER10", status="draft")
    assert api.post("/api/v1/validations", BODY).json()["valid"] is False
    _, key = ApiKey.objects.create_key(name="staging", mode=ApiKey.Mode.TEST)
    sandbox = client.post(
        "/api/v1/validations",
        BODY,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    assert sandbox.json()["valid"] is True


def test_validations_need_an_api_key(client):
    response = client.post("/api/v1/validations", BODY, content_type="application/json")
    assert response.status_code in (401, 403)


def test_qualifications_answer_best_first(api):
    customer = CustomerFactory(source_id="c-1")
    promotion(name="Small", discount={"type": "amount", "amount": 100})
    mine = coupon("MINE", discount={"type": "percent", "percent": 20})
    mine.customer = customer
    mine.save()
    response = api.post("/api/v1/qualifications", {**BODY, "codes": []})
    assert response.status_code == 200
    assert [
        (r["code"] or r["campaign"], r["discount_amount"]) for r in response.json()["redeemables"]
    ] == [
        ("MINE", 1000),
        ("Small", 100),
    ]


def _shop(tag: str, promotions: int, rules_each: int, codes: int) -> list[str]:
    made = []
    for i in range(promotions):
        campaign = promotion(name=f"Auto {tag}{i}", discount={"type": "amount", "amount": 10})
        for j in range(rules_each):
            RuleFactory(campaign=campaign, rules=_rule(j))
    for i in range(codes):
        voucher = coupon(f"CODE{tag}{i}", discount={"type": "amount", "amount": 10})
        for j in range(rules_each):
            RuleFactory(campaign=voucher.campaign, rules=_rule(j))
        made.append(voucher.code)
    return made


def _rule(j: int) -> dict:
    # Customer conditions (one SQL column each) mixed with checkout conditions.
    return [
        {
            "all": [
                {"field": "country", "op": "eq", "value": "IE"},
                {"field": "order.amount", "op": "gte", "value": 100},
            ]
        },
        {"field": "orders.category", "op": "matches", "value": {"id": "shoes", "min_count": 1}},
        {
            "any": [
                {"field": "total_spent", "op": "gte", "value": 0},
                {"field": "time.weekday", "op": "in", "value": [6, 7]},
            ]
        },
    ][j % 3]


def _queries(api, body, *, warm: bool = False) -> int:
    """Statements of one validation, with the API key verified already and, unless ``warm``,
    every campaign's settings read and every condition compiled again (so that a second
    boundary between the two requests cannot change the count)."""
    api.post("/api/v1/validations", body)
    if not warm:
        clear_settings_cache()
        clear_live_cache()
    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/validations", body)
    assert response.status_code == 200
    return len(captured)


# A slow machine must not see the verified API key expire mid-test.
@override_settings(OFFERWISE_API_KEY_CACHE_SECONDS=3600)
def test_the_number_of_queries_does_not_grow_with_items_codes_or_rules(api):
    CustomerFactory(source_id="c-1")
    small_codes = _shop("A", promotions=1, rules_each=1, codes=1)
    item = BODY["order"]["items"][0]
    small = {**BODY, "codes": small_codes}
    baseline = _queries(api, small)

    big_codes = _shop("B", promotions=3, rules_each=3, codes=2)
    items = [{**item, "product_id": f"p-{i}"} for i in range(10)]
    big = {**BODY, "order": {**BODY["order"], "items": items}, "codes": big_codes}
    assert _queries(api, big) == baseline
    assert baseline <= 9
    # Campaigns already seen cost no settings query: customer, usage, vouchers, promotions
    # (one round trip on PostgreSQL) and the customer conditions.
    assert _queries(api, big, warm=True) == (2 if connection.vendor == "postgresql" else 5)


# A slow machine must not see the verified API key expire mid-test.
@override_settings(OFFERWISE_API_KEY_CACHE_SECONDS=3600)
def test_segment_targeting_costs_one_query_whatever_the_number_of_segments(api):
    from segments.models import Segment

    CustomerFactory(source_id="c-1")
    irish = Segment.objects.create(
        name="Irish", rules={"field": "country", "op": "eq", "value": "IE"}
    )
    small_codes = _shop("A", promotions=1, rules_each=1, codes=1)
    for campaign in Campaign.objects.all():
        campaign.segments.add(irish)
    clear_live_cache()
    baseline = _queries(api, {**BODY, "codes": small_codes})

    segments = [
        Segment.objects.create(name=f"S{i}", rules={"field": "country", "op": "eq", "value": "IE"})
        for i in range(4)
    ]
    big_codes = _shop("B", promotions=3, rules_each=3, codes=2)
    for campaign in Campaign.objects.all():
        campaign.segments.add(*segments)
    RuleFactory(
        campaign=Campaign.objects.get(name="Auto B0"),
        rules={"field": "segment.member", "op": "in", "value": [s.pk for s in segments]},
    )
    clear_live_cache()
    assert _queries(api, {**BODY, "codes": big_codes}) == baseline
