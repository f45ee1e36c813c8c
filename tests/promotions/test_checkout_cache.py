"""What the checkout keeps per process (campaign settings, compiled customer conditions) is
read again as soon as a campaign changes: a change is never served stale."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from promotions.checkout import Checkout, CustomerInput, quote_checkout
from promotions.discounts import Item
from promotions.services import save_campaign
from segments.models import Segment
from segments.rules import check_customer, is_member
from tests.factories import CustomerFactory
from tests.promotions.factories import RuleFactory, ScheduleWindowFactory, coupon, promotion

pytestmark = pytest.mark.django_db

# A Monday, 10:00 UTC.
NOW = dt.datetime(2026, 3, 16, 10, 0, tzinfo=dt.UTC)
CART = (Item("p-shoe", "shoes", 2, 2500),)


def applied(campaign) -> bool:
    checkout = Checkout(items=CART, currency="USD", customer=CustomerInput("c-1"))
    quote = quote_checkout(checkout, now=NOW)
    return any(r.campaign == campaign for r in quote.applied)


@pytest.fixture
def customer():
    return CustomerFactory(source_id="c-1", country="IE")


def test_a_rule_saved_after_a_validation_applies_to_the_next_one(customer):
    promo = promotion()
    rule = RuleFactory(campaign=promo, rules={"field": "order.amount", "op": "gte", "value": 1})
    assert applied(promo)
    rule.rules = {"field": "order.amount", "op": "gte", "value": 100_000}
    rule.save()
    assert not applied(promo)
    rule.delete()
    assert applied(promo)


def test_rules_replaced_by_the_service_apply_to_the_next_validation(customer):
    promo = promotion()
    assert applied(promo)
    save_campaign(
        campaign=promo,
        values={},
        rules=[{"rules": {"field": "country", "op": "eq", "value": "FR"}}],
    )
    assert not applied(promo)
    save_campaign(campaign=promo, values={}, rules=[])
    assert applied(promo)


def test_a_schedule_window_added_after_a_validation_applies_at_once(customer):
    promo = promotion()
    assert applied(promo)
    # Tuesdays only (weekday 2); NOW is a Monday.
    ScheduleWindowFactory(campaign=promo, weekday=2)
    assert not applied(promo)


def test_target_segments_changed_from_either_side_apply_at_once(customer):
    promo = promotion()
    french = Segment.objects.create(
        name="FR", rules={"field": "country", "op": "eq", "value": "FR"}
    )
    assert applied(promo)
    promo.segments.add(french)
    assert not applied(promo)
    french.campaigns.clear()
    assert applied(promo)
    french.campaigns.add(promo)
    assert not applied(promo)
    french.delete()
    assert applied(promo)


def test_a_known_campaign_costs_no_settings_query(customer):
    voucher = coupon("SAVE10")
    RuleFactory(campaign=voucher.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    checkout = Checkout(
        items=CART, currency="USD", customer=CustomerInput("c-1"), codes=("SAVE10",)
    )
    with CaptureQueriesContext(connection) as first:
        assert quote_checkout(checkout).valid
    with CaptureQueriesContext(connection) as second:
        assert quote_checkout(checkout).valid
    tables = ("promotions_validationrule", "promotions_schedulewindow", "campaign_segments")
    assert any(t in q["sql"] for q in first.captured_queries for t in tables)
    assert not any(t in q["sql"] for q in second.captured_queries for t in tables)
    assert len(second) == len(first) - 3


TREES = [
    {"field": "country", "op": "eq", "value": "IE"},
    {"field": "country", "op": "eq", "value": "FR"},
    {"any": []},
    {"all": []},
    {"not": {"field": "country", "op": "in", "value": ["FR", "DE"]}},
    {"field": "orders_count", "op": "gte", "value": 0},
    {"field": "orders.category", "op": "matches", "value": {"id": "shoes", "min_count": 1}},
    {"field": "consent.email", "op": "eq", "value": True},
]


def test_checking_a_customer_in_one_statement_agrees_with_the_segment_query(customer):
    other = CustomerFactory(source_id="c-2", country="FR")
    for who in (customer, other):
        with CaptureQueriesContext(connection) as queries:
            verdicts = check_customer(TREES, who.pk, now=NOW)
        assert len(queries) == 1
        assert verdicts == [is_member(tree, who.pk, now=NOW) for tree in TREES]
    assert check_customer(TREES, 0, now=NOW) == [False] * len(TREES)


def test_conditions_that_do_not_read_the_clock_compile_once_the_others_each_second(
    customer, monkeypatch
):
    from segments import rules

    rules.clear_live_cache()
    compiled = []
    real = rules._check_sql
    monkeypatch.setattr(rules, "_check_sql", lambda q: compiled.append(q) or real(q))
    clock = [NOW]
    monkeypatch.setattr(rules.timezone, "now", lambda: clock[0])
    country = {"field": "country", "op": "eq", "value": "IE"}
    recent = {
        "field": "orders.category",
        "op": "matches",
        "value": {"id": "shoes", "min_count": 1, "within_days": 30},
    }
    assert check_customer([country, recent], customer.pk) == [True, False]
    assert len(compiled) == 2
    assert check_customer([country, recent], customer.pk) == [True, False]
    assert len(compiled) == 2
    clock[0] = NOW + dt.timedelta(seconds=1)
    assert check_customer([country, recent], customer.pk) == [True, False]
    assert len(compiled) == 3
