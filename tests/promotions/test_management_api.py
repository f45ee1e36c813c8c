import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from promotions.models import Campaign, Voucher
from segments.models import Segment
from tests.factories import CustomerFactory
from tests.promotions.factories import (
    CampaignFactory,
    DiscountFactory,
    RuleFactory,
    ScheduleWindowFactory,
    VoucherFactory,
)

pytestmark = pytest.mark.django_db

FROM_50 = {"all": [{"field": "order.amount", "op": "gte", "value": 5000}]}
SUMMER = {
    "name": "Summer",
    "kind": "coupons",
    "discount": {"type": "percent", "percent": "12.5", "cap": 2000, "categories": ["shoes"]},
    "rules": [{"name": "From 50", "rules": FROM_50, "message": "Spend 50 or more."}],
    "schedule": [{"weekday": 6, "start_time": "09:00", "end_time": "00:00"}],
}


def draft(**fields) -> Campaign:
    return CampaignFactory(**{"status": Campaign.Status.DRAFT, **fields})


def ready(**fields) -> Campaign:
    campaign = draft(**fields)
    DiscountFactory(campaign=campaign)
    VoucherFactory(campaign=campaign)
    return campaign


def error_of(response) -> dict:
    return response.json()["error"]


# --- campaigns: create ---------------------------------------------------------------------


def test_create_campaign_makes_a_draft_with_its_parts(api):
    segment = Segment.objects.create(name="Ireland")

    response = api.post("/api/v1/campaigns", {**SUMMER, "segments": [segment.pk]})

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["status"], body["kind"]) == ("Summer", "draft", "coupons")
    assert body["discount"]["percent"] == "12.50"
    assert body["discount"]["categories"] == ["shoes"]
    assert body["rules"] == [
        {"name": "From 50", "rules": FROM_50, "failure": "", "message": "Spend 50 or more."}
    ]
    assert body["schedule"] == [{"weekday": 6, "start_time": "09:00:00", "end_time": "00:00:00"}]
    assert body["segments"] == [segment.pk]
    assert body["problems"] == ["It has no codes yet: add a voucher or generate codes."]
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.discount.cap == 2000


def test_create_campaign_with_only_a_name(api):
    response = api.post("/api/v1/campaigns", {"name": "Bare"})
    assert response.status_code == 201
    assert response.json()["discount"] is None


def test_create_campaign_needs_a_name(api):
    response = api.post("/api/v1/campaigns", {"kind": "coupons"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    assert "name" in error_of(response)["details"]


def test_create_campaign_refuses_a_bad_discount_with_its_field(api):
    response = api.post(
        "/api/v1/campaigns", {"name": "X", "discount": {"type": "amount", "percent": "10"}}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_campaign"
    assert set(error["details"]) == {"discount.percent", "discount.amount"}
    assert not Campaign.objects.exists()


def test_create_campaign_points_at_the_bad_rule_node(api):
    tree = {"any": [FROM_50, {"field": "order.currency", "op": "gt", "value": "USD"}]}
    response = api.post("/api/v1/campaigns", {"name": "X", "rules": [{"rules": tree}]})
    assert response.status_code == 400
    message = error_of(response)["details"]["rules[0].rules"]
    assert message.startswith("any[1]: operator ")
    assert "not allowed for field 'order.currency'" in message


def test_create_campaign_refuses_a_rule_that_is_not_an_object(api):
    response = api.post("/api/v1/campaigns", {"name": "X", "rules": [{"rules": [1, 2]}]})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


def test_create_campaign_refuses_an_unknown_segment(api):
    response = api.post("/api/v1/campaigns", {"name": "X", "segments": [12345]})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"segments"}
    assert not Campaign.objects.exists()


def test_create_campaign_refuses_a_window_ending_before_it_starts(api):
    window = {"weekday": 1, "start_time": "18:00", "end_time": "09:00"}
    response = api.post("/api/v1/campaigns", {"name": "X", "schedule": [window]})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"schedule[0].end_time"}


def test_create_campaign_refuses_a_name_already_taken(api):
    draft(name="Summer")
    response = api.post("/api/v1/campaigns", {"name": "Summer"})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"name"}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "X", "budget": "100"},
        {"name": "X", "budget": -1},
        {"name": "X", "max_redemptions": 2**40},
        {"name": "X", "priority": 1.5},
        {"name": "X", "kind": "lottery"},
        {"name": "X", "timezone": "Mars/Olympus"},
        {"name": "X", "currency": "XYZ"},
        {"name": "X", "metadata": [1]},
        {"name": "X", "segments": [10**30]},
        {"name": "X", "discount": {"percent": 10}},
        {"name": "X", "discount": {"type": "percent", "percent": 1e30}},
        {"name": "X", "discount": {"type": "amount", "amount": 10, "products": ["a\x00"]}},
        {"name": "X", "schedule": [{"weekday": 8}]},
        {"name": "X", "schedule": [{"weekday": 1, "start_time": "25:00"}]},
        {"name": "X", "rules": [{"name": "no tree"}]},
        {"name": "X", "rules": [{"rules": {"field": "city", "op": "eq", "value": "\x00"}}]},
        {"name": 5},
        {"name": "N" * 201},
        [],
    ],
)
def test_bad_campaign_input_is_a_400_with_details(api, body):
    response = api.post("/api/v1/campaigns", body)
    assert response.status_code == 400
    assert error_of(response)["details"]
    assert not Campaign.objects.exists()


def test_create_campaign_refuses_another_currency(api, settings):
    response = api.post("/api/v1/campaigns", {"name": "X", "currency": "EUR"})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"currency"}


def test_create_campaign_refuses_a_status(api):
    response = api.post("/api/v1/campaigns", {"name": "X", "status": "active"})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"status"}


# --- campaigns: list and get ---------------------------------------------------------------


def test_list_is_paginated(api):
    for n in range(3):
        draft(name=f"C{n}")
    body = api.get("/api/v1/campaigns", {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["results"][0]["problems"] is None


def test_list_filters_by_kind_and_status(api):
    draft(name="Draft coupons")
    draft(name="Live promotion", kind=Campaign.Kind.PROMOTION, status=Campaign.Status.ACTIVE)
    draft(name="Draft promotion", kind=Campaign.Kind.PROMOTION)

    body = api.get("/api/v1/campaigns", {"kind": "promotion", "status": "active"}).json()

    assert [c["name"] for c in body["results"]] == ["Live promotion"]


# A slow machine must not see the verified API key expire mid-test.
@override_settings(OFFERWISE_API_KEY_CACHE_SECONDS=3600)
def test_list_queries_do_not_grow_with_campaigns(api):
    def full_campaign():
        campaign = ready()
        RuleFactory(campaign=campaign)
        ScheduleWindowFactory(campaign=campaign)
        campaign.segments.add(Segment.objects.create(name=f"S{campaign.pk}"))

    full_campaign()
    api.get("/api/v1/campaigns")  # the API key is verified once, then kept for a while
    with CaptureQueriesContext(connection) as few:
        assert api.get("/api/v1/campaigns").status_code == 200
    for _ in range(5):
        full_campaign()
    with CaptureQueriesContext(connection) as many:
        body = api.get("/api/v1/campaigns").json()
    assert body["count"] == 6
    assert len(many) == len(few), (
        [q["sql"][:80] for q in few.captured_queries],
        [q["sql"][:80] for q in many.captured_queries],
    )


def test_get_campaign_says_why_it_cannot_go_live(api):
    campaign = draft()
    body = api.get(f"/api/v1/campaigns/{campaign.pk}").json()
    assert body["problems"] == [
        "It has no discount: say what it gives.",
        "It has no codes yet: add a voucher or generate codes.",
    ]


@pytest.mark.parametrize("campaign_id", ["999", str(10**30)])
def test_unknown_campaign_is_404(api, campaign_id):
    response = api.get(f"/api/v1/campaigns/{campaign_id}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "campaign_not_found"


def test_campaigns_need_an_api_key():
    response = APIClient().get("/api/v1/campaigns")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


# --- campaigns: patch ----------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(api):
    campaign = ready(priority=3, max_redemptions=10)
    RuleFactory(campaign=campaign, rules=FROM_50)

    response = api.patch(f"/api/v1/campaigns/{campaign.pk}", {"max_redemptions": 20})

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert (campaign.max_redemptions, campaign.priority) == (20, 3)
    assert campaign.rules.get().rules == FROM_50
    assert campaign.discount.percent == 10


def test_patch_turns_off_rollback_on_order_cancel(api):
    campaign = ready()
    response = api.patch(f"/api/v1/campaigns/{campaign.pk}", {"rollback_on_order_cancel": False})
    assert response.json()["rollback_on_order_cancel"] is False
    campaign.refresh_from_db()
    assert campaign.rollback_on_order_cancel is False


def test_patch_replaces_rules_schedule_and_discount_sent(api):
    campaign = ready()
    RuleFactory(campaign=campaign, name="Old")
    ScheduleWindowFactory(campaign=campaign, weekday=1)

    response = api.patch(
        f"/api/v1/campaigns/{campaign.pk}",
        {
            "rules": [{"name": "New", "rules": FROM_50}],
            "schedule": [],
            "discount": {"type": "amount", "amount": 500},
        },
    )

    assert response.status_code == 200
    campaign.refresh_from_db()
    assert [r.name for r in campaign.rules.all()] == ["New"]
    assert not campaign.schedule.exists()
    assert (campaign.discount.type, campaign.discount.amount, campaign.discount.percent) == (
        "amount",
        500,
        None,
    )


def test_patch_checks_the_nested_discount_in_full(api):
    campaign = ready()
    response = api.patch(f"/api/v1/campaigns/{campaign.pk}", {"discount": {"amount": 500}})
    assert response.status_code == 400
    assert "type" in error_of(response)["details"]["discount"]


def test_patch_refuses_a_new_kind_for_a_campaign_with_codes(api):
    campaign = ready()
    response = api.patch(f"/api/v1/campaigns/{campaign.pk}", {"kind": "promotion"})
    assert response.status_code == 400
    assert error_of(response)["details"] == {"kind": "A campaign with codes keeps its kind."}


def test_patch_refuses_the_status(api):
    campaign = ready()
    response = api.patch(f"/api/v1/campaigns/{campaign.pk}", {"status": "active"})
    assert response.status_code == 400
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_patch_unknown_campaign_is_404(api):
    assert api.patch("/api/v1/campaigns/999", {"name": "X"}).status_code == 404


# --- campaigns: activate and pause ---------------------------------------------------------


def test_activate_refuses_a_campaign_that_is_not_ready(api):
    campaign = draft()

    response = api.post(f"/api/v1/campaigns/{campaign.pk}/activate")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "campaign_not_ready"
    assert error["details"]["problems"] == [
        "It has no discount: say what it gives.",
        "It has no codes yet: add a voucher or generate codes.",
    ]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_activate_puts_a_ready_campaign_live(api):
    campaign = ready()
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/activate")
    assert response.status_code == 200
    assert response.json()["status"] == "active"


def test_pause_stops_a_live_campaign(api):
    campaign = ready(status=Campaign.Status.ACTIVE)
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/pause")
    assert response.status_code == 200
    assert response.json()["status"] == "paused"


def test_pause_refuses_an_archived_campaign(api):
    campaign = draft(status=Campaign.Status.ARCHIVED)
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/pause")
    assert response.status_code == 409
    assert error_of(response)["code"] == "campaign_archived"


def test_activate_unknown_campaign_is_404(api):
    assert api.post("/api/v1/campaigns/999/activate").status_code == 404


# --- vouchers: create ----------------------------------------------------------------------


def test_create_voucher_in_a_campaign_for_a_customer(api):
    campaign = draft()
    CustomerFactory(source_id="cust-1")

    response = api.post(
        "/api/v1/vouchers",
        {"code": "ANNA-1", "campaign": campaign.pk, "customer": "cust-1", "max_redemptions": 1},
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["code"], body["campaign_id"], body["customer"]) == (
        "ANNA-1",
        campaign.pk,
        "cust-1",
    )
    assert (body["remaining_redemptions"], body["enabled"]) == (1, True)
    assert Voucher.objects.get(code="ANNA-1").customer.source_id == "cust-1"


def test_create_gift_card_starts_with_its_balance(api):
    campaign = draft(kind=Campaign.Kind.GIFT_CARDS)
    response = api.post(
        "/api/v1/vouchers", {"code": "GIFT-1", "campaign": campaign.pk, "gift_amount": 5000}
    )
    assert response.status_code == 201
    assert (response.json()["gift_amount"], response.json()["gift_balance"]) == (5000, 5000)


def test_create_voucher_refuses_a_code_taken_in_another_case(api):
    VoucherFactory(code="SUMMER10")
    response = api.post("/api/v1/vouchers", {"code": "summer10", "campaign": draft().pk})
    assert response.status_code == 409
    assert error_of(response)["code"] == "voucher_code_taken"


def test_create_voucher_refuses_a_code_with_other_characters(api):
    response = api.post("/api/v1/vouchers", {"code": "SUMMER 10", "campaign": draft().pk})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_voucher"
    assert set(error_of(response)["details"]) == {"code"}


def test_create_voucher_refuses_an_unknown_campaign(api):
    response = api.post("/api/v1/vouchers", {"code": "X1", "campaign": 999})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"campaign"}


def test_create_voucher_refuses_an_automatic_promotion(api):
    promotion = draft(kind=Campaign.Kind.PROMOTION)
    response = api.post("/api/v1/vouchers", {"code": "X1", "campaign": promotion.pk})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"campaign"}


def test_create_voucher_refuses_an_unknown_owner(api):
    response = api.post(
        "/api/v1/vouchers", {"code": "X1", "campaign": draft().pk, "customer": "nobody"}
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "customer_not_found"
    assert not Voucher.objects.exists()


def test_create_voucher_refuses_a_balance_outside_gift_cards(api):
    response = api.post(
        "/api/v1/vouchers", {"code": "X1", "campaign": draft().pk, "gift_amount": 100}
    )
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"gift_amount"}


@pytest.mark.parametrize(
    "body",
    [
        {"code": "X1"},
        {"code": "X1", "campaign": "1"},
        {"code": "X1", "campaign": 10**30},
        {"code": 5, "campaign": 1},
        {"code": "X1", "campaign": 1, "max_redemptions": -1},
        {"code": "X1", "campaign": 1, "gift_amount": 1.5},
        {"code": "X1", "campaign": 1, "expires_at": "soon"},
        {"code": "X1", "campaign": 1, "metadata": "x"},
    ],
)
def test_bad_voucher_input_is_a_400_with_details(api, body):
    response = api.post("/api/v1/vouchers", body)
    assert response.status_code == 400
    assert error_of(response)["details"]


# --- vouchers: list, get, patch ------------------------------------------------------------


def test_voucher_list_filters_by_campaign_customer_and_enabled(api):
    summer, winter = draft(), draft()
    anna = CustomerFactory(source_id="anna")
    VoucherFactory(campaign=summer, code="S1", customer=anna)
    VoucherFactory(campaign=summer, code="S2", enabled=False)
    VoucherFactory(campaign=winter, code="W1", customer=anna)

    def codes(**params):
        return sorted(v["code"] for v in api.get("/api/v1/vouchers", params).json()["results"])

    assert codes(campaign=summer.pk) == ["S1", "S2"]
    assert codes(customer="anna") == ["S1", "W1"]
    assert codes(campaign=summer.pk, enabled="false") == ["S2"]


def test_get_voucher_matches_the_code_in_any_case(api):
    campaign = draft(status=Campaign.Status.ACTIVE)
    VoucherFactory(campaign=campaign, code="Summer_10", max_redemptions=5, redemptions_count=2)

    response = api.get("/api/v1/vouchers/sUMMER_10")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "Summer_10"
    assert (body["enabled"], body["campaign_status"], body["status"]) == (True, "active", "active")
    assert (body["remaining_redemptions"], body["gift_balance"]) == (3, None)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [({"starts_at": 1}, "not_started"), ({"expires_at": -1}, "expired")],
)
def test_get_voucher_says_when_it_is_not_in_its_dates(api, dates, expected):
    now = timezone.now()
    VoucherFactory(code="DATED", **{k: now + dt.timedelta(days=v) for k, v in dates.items()})
    assert api.get("/api/v1/vouchers/DATED").json()["status"] == expected


def test_get_gift_card_shows_its_balance(api):
    campaign = draft(kind=Campaign.Kind.GIFT_CARDS)
    VoucherFactory(campaign=campaign, code="GIFT-1", gift_amount=5000, gift_balance=1250)
    body = api.get("/api/v1/vouchers/gift-1").json()
    assert (body["gift_amount"], body["gift_balance"], body["currency"]) == (5000, 1250, "USD")


@pytest.mark.parametrize("code", ["NOPE", "a.b", "x" * 65])
def test_unknown_voucher_is_404(api, code):
    response = api.get(f"/api/v1/vouchers/{code}")
    assert response.status_code == 404


def test_unknown_voucher_code_has_its_error_code(api):
    assert error_of(api.get("/api/v1/vouchers/NOPE"))["code"] == "voucher_not_found"


def test_patch_voucher_disables_it(api):
    VoucherFactory(code="SUMMER10")
    response = api.patch("/api/v1/vouchers/summer10", {"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert Voucher.objects.get(code="SUMMER10").enabled is False


def test_patch_voucher_changes_and_removes_its_owner(api):
    voucher = VoucherFactory(code="OWNED")
    CustomerFactory(source_id="anna")

    assert api.patch("/api/v1/vouchers/OWNED", {"customer": "anna"}).json()["customer"] == "anna"
    assert api.patch("/api/v1/vouchers/OWNED", {"customer": None}).json()["customer"] is None
    voucher.refresh_from_db()
    assert voucher.customer is None


def test_patch_voucher_refuses_a_new_code_or_balance(api):
    VoucherFactory(code="SUMMER10")
    response = api.patch("/api/v1/vouchers/SUMMER10", {"code": "OTHER", "gift_balance": 5})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"code", "gift_balance"}


def test_patch_voucher_refuses_an_expiry_before_its_start(api):
    now = timezone.now()
    VoucherFactory(code="DATED", starts_at=now)
    response = api.patch("/api/v1/vouchers/DATED", {"expires_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"expires_at"}


def test_patch_unknown_voucher_is_404(api):
    assert api.patch("/api/v1/vouchers/NOPE", {"enabled": False}).status_code == 404


# --- schema --------------------------------------------------------------------------------


def test_schema_documents_the_management_endpoints_without_warnings_of_their_own(tmp_path, capsys):
    call_command("spectacular", "--validate", "--file", tmp_path / "s.yml")
    schema = (tmp_path / "s.yml").read_text()
    for path in (
        "/api/v1/campaigns:",
        "/api/v1/campaigns/{campaign_id}:",
        "/api/v1/campaigns/{campaign_id}/activate:",
        "/api/v1/campaigns/{campaign_id}/pause:",
        "/api/v1/vouchers:",
        "/api/v1/vouchers/{code}:",
    ):
        assert f"  {path}" in schema
    assert "A coupon campaign" in schema and "A gift card" in schema
    warnings = [
        line
        for line in capsys.readouterr().err.splitlines()
        if "Warning" in line
        and any(word in line for word in ("management", "Campaign", "Voucher", "Discount"))
    ]
    assert warnings == []
