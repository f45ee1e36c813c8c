"""Each demo segment selects the customers its name promises, and no others."""

import datetime as dt

import pytest

from customers import services as customer_services
from customers.models import Cart, Event
from customers.services import LineInput
from segments.demo import DEMO_SEGMENTS, create_demo_segments
from segments.models import Segment
from segments.selectors import segment_members
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def paid_order(customer, *, days: float, amount: int = 1000, sku: str = "sku-1") -> None:
    customer_services.upsert_order(
        source_id=f"{customer.source_id}-{days}-{amount}-{sku}",
        customer_source_id=customer.source_id,
        status="paid",
        currency="USD",
        lines=[LineInput(product_id=sku, quantity=1, unit_price=amount)],
        created_at=days_ago(days),
    )


def cart(customer, *, idle_hours: float, sku: str = "sku-1", status="active") -> None:
    c, _ = customer_services.put_cart(
        source_id=f"cart-{customer.source_id}",
        customer_source_id=customer.source_id,
        currency="USD",
        lines=[LineInput(product_id=sku, quantity=1, unit_price=100)],
        status=status,
    )
    Cart.objects.filter(pk=c.pk).update(last_activity_at=NOW - dt.timedelta(hours=idle_hours))


def views(customer, *, count: int, category: str = "kids", days: float = 5) -> None:
    for _ in range(count):
        Event.objects.create(
            customer=customer,
            name="category_viewed",
            properties={"category": category},
            occurred_at=days_ago(days),
        )


def members(name: str) -> set[str]:
    segment = Segment.objects.get(name=name)
    return set(segment_members(segment, now=NOW).values_list("source_id", flat=True))


def test_every_demo_segment_is_created_valid_and_refreshed():
    create_demo_segments(now=NOW)
    assert Segment.objects.count() == len(DEMO_SEGMENTS)
    assert all(s.sizes.exists() for s in Segment.objects.all())
    create_demo_segments(now=NOW)  # again: nothing duplicated
    assert Segment.objects.count() == len(DEMO_SEGMENTS)


def test_inactive_for_three_months():
    lapsed = CustomerFactory(source_id="lapsed")
    paid_order(lapsed, days=120)
    recent = CustomerFactory(source_id="recent")
    paid_order(recent, days=120)
    paid_order(recent, days=10)
    CustomerFactory(source_id="never-bought")
    create_demo_segments(now=NOW)
    assert members("Inactive for 3+ months") == {"lapsed"}


def test_premium_spent_at_least_1000_dollars():
    rich, almost = CustomerFactory(source_id="rich"), CustomerFactory(source_id="almost")
    paid_order(rich, days=5, amount=100_000)
    paid_order(almost, days=5, amount=99_999)
    create_demo_segments(now=NOW)
    assert members("Premium customers") == {"rich"}


def test_ireland_and_new_york():
    CustomerFactory(source_id="dub", country="IE", city="Dublin")
    CustomerFactory(source_id="nyc", country="US", city="New York")
    CustomerFactory(source_id="york", country="GB", city="New York")
    CustomerFactory(source_id="bos", country="US", city="Boston")
    create_demo_segments(now=NOW)
    assert members("Customers in Ireland") == {"dub"}
    assert members("Customers in New York") == {"nyc"}


def test_at_least_ten_orders():
    regular, nine = CustomerFactory(source_id="regular"), CustomerFactory(source_id="nine")
    for n in range(10):
        paid_order(regular, days=n + 1)
    for n in range(9):
        paid_order(nine, days=n + 1)
    create_demo_segments(now=NOW)
    assert members("At least 10 orders") == {"regular"}


def test_new_customers_first_order_in_last_30_days():
    fresh, old = CustomerFactory(source_id="fresh"), CustomerFactory(source_id="old")
    paid_order(fresh, days=3)
    paid_order(old, days=60)
    paid_order(old, days=3)
    create_demo_segments(now=NOW)
    assert members("New customers") == {"fresh"}


def test_abandoned_cart():
    idle, busy = CustomerFactory(source_id="idle"), CustomerFactory(source_id="busy")
    done = CustomerFactory(source_id="done")
    cart(idle, idle_hours=5)
    cart(busy, idle_hours=0.2)
    cart(done, idle_hours=5, status="converted")
    create_demo_segments(now=NOW)
    assert members("Abandoned cart") == {"idle"}


def test_birthday_this_month():
    CustomerFactory(source_id="nov", birthdate=dt.date(1990, 11, 2), timezone="UTC")
    CustomerFactory(source_id="dec", birthdate=dt.date(1990, 12, 2), timezone="UTC")
    CustomerFactory(source_id="none", birthdate=None)
    create_demo_segments(now=NOW)
    assert members("Birthday this month") == {"nov"}


def test_kids_clothes_browsers():
    keen, twice = CustomerFactory(source_id="keen"), CustomerFactory(source_id="twice")
    stale, other = CustomerFactory(source_id="stale"), CustomerFactory(source_id="other")
    views(keen, count=3)
    views(twice, count=2)
    views(stale, count=3, days=40)
    views(other, count=5, category="women")
    create_demo_segments(now=NOW)
    assert members("Kids' clothes browsers") == {"keen"}


def test_new_berliners_with_a_pixel_in_their_cart():
    def berliner(source_id, *, joined_days_ago, city="Berlin"):
        return CustomerFactory(
            source_id=source_id, city=city, country="DE", created_at=days_ago(joined_days_ago)
        )

    cart(berliner("new-pixel", joined_days_ago=3), idle_hours=4, sku="pixel-9")
    cart(berliner("new-iphone", joined_days_ago=3), idle_hours=4, sku="iphone-16")
    cart(berliner("old-pixel", joined_days_ago=200), idle_hours=4, sku="pixel-9")
    cart(berliner("munich-pixel", joined_days_ago=3, city="Munich"), idle_hours=4, sku="pixel-9")
    create_demo_segments(now=NOW)
    assert members("New Berliners with a Pixel 9 in their cart") == {"new-pixel"}
