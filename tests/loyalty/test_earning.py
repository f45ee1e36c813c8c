"""Earning rules: orders with multipliers, exclusions and caps; events with daily limits;
segments entered; active windows and tier-specific values."""

import datetime as dt
from decimal import Decimal

import pytest

from customers import services as customer_services
from customers.models import Event, Order
from loyalty.models import EarningRule, Member, RuleTierValue
from loyalty.services import earning
from segments.models import Segment
from tests.factories import CustomerFactory

from .factories import T0, ProgramFactory, RuleFactory, member, pay, three_tiers

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def program():
    return ProgramFactory()


@pytest.fixture
def anna():
    return CustomerFactory(source_id="c-1")


def earn_order(lines, *, source_id="o-1", **kwargs) -> int:
    order = pay(source_id, "c-1", lines, **kwargs)
    Order.objects.filter(pk=order.pk).update(paid_at=T0)
    earning.earn_for_order(order_id=order.pk, now=T0)
    return Member.objects.get().points_active


def test_points_per_currency_unit(program, anna):
    RuleFactory(program=program, points_per_unit=Decimal("2"))
    assert earn_order([("sku-1", "shoes", 2, 2550)]) == 102  # 51.00 x 2


def test_category_multiplier(program, anna):
    RuleFactory(program=program, category_multipliers={"shoes": "3"})
    assert earn_order([("sku-1", "shoes", 1, 1000), ("sku-2", "hats", 1, 1000)]) == 40


def test_product_multiplier_wins_over_its_category(program, anna):
    RuleFactory(
        program=program, category_multipliers={"shoes": "3"}, product_multipliers={"sku-1": "0.5"}
    )
    assert earn_order([("sku-1", "shoes", 1, 1000)]) == 5


def test_excluded_products_and_categories_earn_nothing(program, anna):
    RuleFactory(program=program, excluded_products=["gift"], excluded_categories=["tobacco"])
    lines = [("gift", "cards", 1, 5000), ("cig", "tobacco", 1, 1000), ("sku-1", "hats", 1, 1000)]
    assert earn_order(lines) == 10


def test_an_order_discount_lowers_the_points_and_shipping_earns_none(program, anna):
    RuleFactory(program=program)
    points = earn_order([("sku-1", "shoes", 1, 10000)], discount_amount=2500, shipping_amount=900)
    assert points == 75


def test_tier_multiplier_applies(program, anna):
    _basic, _advanced, vip = three_tiers(program)
    RuleFactory(program=program)
    m = member(program, anna)
    Member.objects.filter(pk=m.pk).update(tier=vip)
    assert earn_order([("sku-1", "shoes", 1, 1000)]) == 20


def test_tier_specific_rate_replaces_the_rule_rate(program, anna):
    basic, _advanced, _vip = three_tiers(program)
    rule = RuleFactory(program=program)
    RuleTierValue.objects.create(rule=rule, tier=basic, points_per_unit=Decimal("3"))
    member(program, anna)  # in Basic
    assert earn_order([("sku-1", "shoes", 1, 1000)]) == 30


def test_per_order_cap(anna):
    program = ProgramFactory(max_points_per_order=25)
    RuleFactory(program=program)
    RuleFactory(program=program, name="double week")
    assert earn_order([("sku-1", "shoes", 1, 10000)]) == 25


def test_per_day_cap_across_orders(anna):
    program = ProgramFactory(max_points_per_day=60)
    RuleFactory(program=program)
    earn_order([("sku-1", "shoes", 1, 5000)], source_id="o-1")
    assert earn_order([("sku-1", "shoes", 1, 5000)], source_id="o-2") == 60


def test_rule_outside_its_window_gives_nothing(program, anna):
    RuleFactory(program=program, starts_at=T0 + DAY)
    RuleFactory(program=program, ends_at=T0)
    order = pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)])
    Order.objects.filter(pk=order.pk).update(paid_at=T0)
    assert earning.earn_for_order(order_id=order.pk, now=T0) == 0


def test_unpaid_order_earns_nothing(program, anna):
    RuleFactory(program=program)
    order = pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)], status="created")
    assert earning.earn_for_order(order_id=order.pk, now=T0) == 0


def event_rule(program, name="review_written", points=50, **kwargs):
    return RuleFactory(
        program=program, kind=EarningRule.Kind.EVENT, event_name=name, points=points, **kwargs
    )


def record(name="review_written"):
    return customer_services.record_event(customer_source_id="c-1", name=name, kind="custom")


def test_custom_event_earns_its_points(program, anna):
    event_rule(program)
    assert earning.earn_for_event(event_id=record().pk, now=T0) == 50
    assert Member.objects.get().points_active == 50


def test_custom_event_daily_limit(program, anna):
    event_rule(program, "social_share", 20, daily_limit=2)
    earned = [earning.earn_for_event(event_id=record("social_share").pk, now=T0) for _ in range(3)]
    assert earned == [20, 20, 0]
    assert earning.earn_for_event(event_id=record("social_share").pk, now=T0 + DAY) == 20


def test_daily_limit_counts_days_in_the_customers_own_timezone(program):
    # 10:00 and 12:00 UTC on 2 March: the same day in Los Angeles (02:00 and 04:00, UTC-8),
    # but 23:00 on the 2nd and 01:00 on the 3rd in Auckland (UTC+13).
    event_rule(program, daily_limit=1)
    morning, noon = T0 - 2 * dt.timedelta(hours=1), T0
    earned = {}
    for source_id, zone in [("la", "America/Los_Angeles"), ("akl", "Pacific/Auckland")]:
        CustomerFactory(source_id=source_id, timezone=zone)
        earned[zone] = [
            earning.earn_for_event(
                event_id=customer_services.record_event(
                    customer_source_id=source_id, name="review_written", kind="custom"
                ).pk,
                now=when,
            )
            for when in (morning, noon)
        ]
    assert earned == {"America/Los_Angeles": [50, 0], "Pacific/Auckland": [50, 50]}


def test_programme_daily_cap_counts_days_in_the_customers_own_timezone():
    program = ProgramFactory(max_points_per_day=60)
    event_rule(program, points=50)
    # 23:30 and 00:30 in Los Angeles: two days there, one in UTC (07:30 and 08:30 on the 3rd).
    late = dt.datetime(2026, 3, 3, 7, 30, tzinfo=dt.UTC)
    for source_id, zone in [("la", "America/Los_Angeles"), ("utc", "UTC")]:
        CustomerFactory(source_id=source_id, timezone=zone)
        for when in (late, late + dt.timedelta(hours=1)):
            event = customer_services.record_event(
                customer_source_id=source_id, name="review_written", kind="custom"
            )
            earning.earn_for_event(event_id=event.pk, now=when)
    balances = dict(Member.objects.values_list("customer__source_id", "points_active"))
    assert balances == {"la": 100, "utc": 60}


def test_an_unknown_timezone_counts_utc_days():
    from loyalty.services.ledger import customer_day

    start, end = customer_day("Mars/Olympus_Mons", T0)
    assert (start, end) == (
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 3, tzinfo=dt.UTC),
    )


def test_an_event_earns_once(program, anna):
    event_rule(program)
    event = record()
    earning.earn_for_event(event_id=event.pk, now=T0)
    assert earning.earn_for_event(event_id=event.pk, now=T0) == 0


def test_other_events_earn_nothing(program, anna):
    event_rule(program)
    assert earning.earn_for_event(event_id=record("newsletter_signup").pk, now=T0) == 0
    assert not Event.objects.filter(name="review_written").exists()


def test_tier_specific_event_points(program, anna):
    _basic, advanced, _vip = three_tiers(program)
    rule = event_rule(program)
    RuleTierValue.objects.create(rule=rule, tier=advanced, points=80)
    m = member(program, anna)
    Member.objects.filter(pk=m.pk).update(tier=advanced)
    assert earning.earn_for_event(event_id=record().pk, now=T0) == 120  # 80 x 1.5


def test_segment_entered_earns_once_per_customer(program, anna):
    segment = Segment.objects.create(name="VIPs", kind=Segment.Kind.STATIC)
    RuleFactory(program=program, kind=EarningRule.Kind.SEGMENT, segment=segment, points=200)
    assert earning.earn_for_segment_entered(segment_id=segment.pk, customer_ids=[anna.pk]) == 200
    assert earning.earn_for_segment_entered(segment_id=segment.pk, customer_ids=[anna.pk]) == 0


def test_paid_order_pushed_through_the_api_earns_after_commit(
    program, anna, django_capture_on_commit_callbacks
):
    RuleFactory(program=program)
    with django_capture_on_commit_callbacks(execute=True):
        pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)])
    assert Member.objects.get().points_active == 50


def test_refund_pushed_through_the_api_reverses_after_commit(
    program, anna, django_capture_on_commit_callbacks
):
    RuleFactory(program=program)
    with django_capture_on_commit_callbacks(execute=True):
        pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)])
    with django_capture_on_commit_callbacks(execute=True):
        pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)], status="refunded")
    assert Member.objects.get().points_active == 0


def test_custom_event_through_the_events_api_earns(
    program, anna, api, django_capture_on_commit_callbacks
):
    event_rule(program)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/events", {"customer": "c-1", "name": "review_written", "kind": "custom"}
        )
    assert response.status_code == 201
    assert Member.objects.get(customer=anna).points_active == 50
