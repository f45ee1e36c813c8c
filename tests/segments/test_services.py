import datetime as dt

import pytest

from customers import services as customer_services
from customers.services import LineInput
from segments import services, signals
from segments.errors import InvalidRules, UnknownCustomers
from segments.models import Segment, SegmentMembership, SegmentSize
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

IRELAND = {"all": [{"field": "country", "op": "eq", "value": "IE"}]}


@pytest.fixture
def announced():
    calls = []

    def entered(sender, segment_id, customer_ids, **kw):
        calls.append(("entered", segment_id, sorted(customer_ids)))

    def left(sender, segment_id, customer_ids, **kw):
        calls.append(("left", segment_id, sorted(customer_ids)))

    signals.segment_entered.connect(entered)
    signals.segment_left.connect(left)
    yield calls
    signals.segment_entered.disconnect(entered)
    signals.segment_left.disconnect(left)


def snapshot(segment) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)
    )


def test_create_segment_refuses_invalid_rules_and_saves_nothing():
    with pytest.raises(InvalidRules) as error:
        services.create_segment(name="bad", rules={"all": [{"field": "nope", "op": "eq"}]})
    assert error.value.message.startswith("all[0]")
    assert not Segment.objects.exists()


def test_first_refresh_fills_the_snapshot_and_announces_entries(
    announced, django_capture_on_commit_callbacks
):
    irish = CustomerFactory.create_batch(3, country="IE")
    CustomerFactory(country="DE")
    segment = services.create_segment(name="Ireland", rules=IRELAND)
    with django_capture_on_commit_callbacks(execute=True):
        change = services.refresh_segment(segment_id=segment.pk)
    assert snapshot(segment) == {c.pk for c in irish}
    assert (sorted(change.entered), change.left, change.size) == (
        sorted(c.pk for c in irish),
        [],
        3,
    )
    assert announced == [("entered", segment.pk, sorted(c.pk for c in irish))]
    assert SegmentSize.objects.get(segment=segment).size == 3


def test_second_refresh_announces_only_the_changes(announced, django_capture_on_commit_callbacks):
    stays, goes = CustomerFactory(country="IE"), CustomerFactory(country="IE")
    segment = services.create_segment(name="Ireland", rules=IRELAND)
    services.refresh_segment(segment_id=segment.pk)
    goes.country = "FR"
    goes.save()
    comes = CustomerFactory(country="IE")
    with django_capture_on_commit_callbacks(execute=True):
        change = services.refresh_segment(segment_id=segment.pk)
    assert snapshot(segment) == {stays.pk, comes.pk}
    assert announced == [("entered", segment.pk, [comes.pk]), ("left", segment.pk, [goes.pk])]
    assert change.size == 2
    assert list(segment.sizes.order_by("measured_at").values_list("size", flat=True)) == [2, 2]


def test_refresh_without_changes_announces_nothing(announced, django_capture_on_commit_callbacks):
    CustomerFactory(country="IE")
    segment = services.create_segment(name="Ireland", rules=IRELAND)
    services.refresh_segment(segment_id=segment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.refresh_segment(segment_id=segment.pk)
    assert announced == []


def test_time_alone_moves_customers_out_on_refresh():
    customer = CustomerFactory()
    customer_services.upsert_order(
        source_id="o-1",
        customer_source_id=customer.source_id,
        status="paid",
        currency="USD",
        lines=[LineInput(product_id="p", quantity=1, unit_price=100)],
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    recent = {"all": [{"field": "last_order_at", "op": "less_than_days_ago", "value": 30}]}
    segment = services.create_segment(name="Recent buyers", rules=recent)
    services.refresh_segment(segment_id=segment.pk, now=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))
    assert snapshot(segment) == {customer.pk}
    change = services.refresh_segment(
        segment_id=segment.pk, now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    )
    assert change.left == [customer.pk]
    assert snapshot(segment) == set()


def test_customer_change_updates_their_snapshot_rows_through_the_receivers(
    api, announced, django_capture_on_commit_callbacks
):
    ireland = services.create_segment(name="Ireland", rules=IRELAND)
    loyal = services.create_segment(
        name="Buyers", rules={"all": [{"field": "orders_count", "op": "gte", "value": 1}]}
    )
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v1/customers/c-1", {"country": "IE"})
    customer_id = SegmentMembership.objects.get().customer_id
    assert snapshot(ireland) == {customer_id}
    assert announced == [("entered", ireland.pk, [customer_id])]

    item = [{"product_id": "p", "quantity": 1, "unit_price": 500}]
    with django_capture_on_commit_callbacks(execute=True):
        api.put(
            "/api/v1/orders/o-1",
            {"customer": "c-1", "currency": "USD", "items": item, "status": "paid"},
        )
    assert snapshot(loyal) == {customer_id}
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v1/customers/c-1", {"country": "DE"})
    assert snapshot(ireland) == set()
    assert announced[-1] == ("left", ireland.pk, [customer_id])


def test_static_list_members_are_added_all_or_nothing(announced):
    anna, ben = CustomerFactory(), CustomerFactory()
    vip = services.create_segment(name="VIP list", kind=Segment.Kind.STATIC)
    with pytest.raises(UnknownCustomers) as error:
        services.add_static_members(segment=vip, source_ids=[anna.source_id, "ghost"])
    assert error.value.details["unknown"] == ["ghost"]
    assert not vip.members.exists()
    services.add_static_members(segment=vip, source_ids=[anna.source_id, ben.source_id])
    assert snapshot(vip) == {anna.pk, ben.pk}
    services.remove_static_members(segment=vip, source_ids=[ben.source_id])
    assert snapshot(vip) == {anna.pk}


def test_erasure_removes_list_and_snapshot_rows(api):
    api.put("/api/v1/customers/c-1", {"country": "IE"})
    vip = services.create_segment(name="VIP list", kind=Segment.Kind.STATIC)
    services.add_static_members(segment=vip, source_ids=["c-1"])
    ireland = services.create_segment(name="Ireland", rules=IRELAND)
    services.refresh_segment(segment_id=ireland.pk)
    assert SegmentMembership.objects.count() == 2
    api.delete("/api/v1/customers/c-1")
    assert not SegmentMembership.objects.exists()
    assert not vip.members.exists()


def test_birthday_this_month_uses_the_customers_own_month():
    # 20:00 UTC on 30 June is already 1 July in Tokyo.
    now = dt.datetime(2026, 6, 30, 20, 0, tzinfo=dt.UTC)
    tokyo_july = CustomerFactory(timezone="Asia/Tokyo", birthdate=dt.date(1990, 7, 14))
    tokyo_june = CustomerFactory(timezone="Asia/Tokyo", birthdate=dt.date(1990, 6, 14))
    dublin_june = CustomerFactory(timezone="Europe/Dublin", birthdate=dt.date(1990, 6, 2))
    CustomerFactory(timezone="Europe/Dublin", birthdate=dt.date(1990, 7, 2))
    segment = services.create_segment(
        name="Birthday this month", rules={"all": [{"field": "birthday", "op": "this_month"}]}
    )
    services.refresh_segment(segment_id=segment.pk, now=now)
    assert snapshot(segment) == {tokyo_july.pk, dublin_june.pk}
    assert tokyo_june.pk not in snapshot(segment)


def test_bought_in_category_reads_the_category_at_purchase_time():
    from customers.models import Category, Product

    customer = CustomerFactory()
    customer_services.upsert_order(
        source_id="o-1",
        customer_source_id=customer.source_id,
        status="paid",
        currency="USD",
        lines=[LineInput(product_id="hoodie", category="kids", quantity=1, unit_price=100)],
    )
    kids = {"all": [{"field": "orders.category", "op": "matches", "value": {"id": "kids"}}]}
    segment = services.create_segment(name="Kids buyers", rules=kids)
    Product.objects.filter(source_id="hoodie").update(
        category=Category.objects.create(source_id="teens", name="Teens")
    )
    services.refresh_segment(segment_id=segment.pk)
    assert snapshot(segment) == {customer.pk}
