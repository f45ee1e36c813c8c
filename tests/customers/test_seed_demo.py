import datetime as dt
import json
from collections import defaultdict
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from customers.demo import (
    CATEGORIES,
    PRODUCTS,
    DemoDataExists,
    build_demo_shop,
    delete_demo_data,
)
from customers.models import (
    Cart,
    Category,
    Consent,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
)
from customers.services import refresh_customer_stats

NOW = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.UTC)
SMALL = 200

# Written out independently of the builder's table, so a wrong row there shows up here.
EXPECTED_PLACES = {
    "Dublin": ("IE", "Europe/Dublin", "en", 53.35, -6.26),
    "Cork": ("IE", "Europe/Dublin", "en", 51.90, -8.47),
    "London": ("GB", "Europe/London", "en", 51.51, -0.13),
    "New York": ("US", "America/New_York", "en", 40.71, -74.01),
    "Los Angeles": ("US", "America/Los_Angeles", "en", 34.05, -118.24),
    "Chicago": ("US", "America/Chicago", "en", 41.88, -87.63),
    "Berlin": ("DE", "Europe/Berlin", "de", 52.52, 13.40),
    "Munich": ("DE", "Europe/Berlin", "de", 48.14, 11.58),
    "Paris": ("FR", "Europe/Paris", "fr", 48.86, 2.35),
    "Tokyo": ("JP", "Asia/Tokyo", "ja", 35.68, 139.65),
    "Osaka": ("JP", "Asia/Tokyo", "ja", 34.69, 135.50),
    "Dubai": ("AE", "Asia/Dubai", "ar", 25.20, 55.27),
}


@pytest.fixture(scope="module")
def loaded_shop(django_db_setup, django_db_blocker):
    # Built once and committed: the tests below only read it, or change it inside their
    # own rolled-back transaction.
    with django_db_blocker.unblock():
        # The shop alone: what other apps add (demo segments) is tested with those apps,
        # and would outlive this module's clean-up.
        summary = build_demo_shop(seed=7, customers=SMALL, now=NOW, extensions=False)
    yield summary
    with django_db_blocker.unblock():
        delete_demo_data()
        Product.objects.filter(source_id__in=[row[0] for row in PRODUCTS]).delete()
        Category.objects.filter(source_id__in=[row[0] for row in CATEGORIES]).delete()


@pytest.fixture
def shop(loaded_shop, db):
    return loaded_shop


def snapshot() -> dict[str, list]:
    """Everything the builder decides, keyed by source ids rather than auto ids."""
    customers = sorted(
        Customer.objects.values_list(
            "source_id", "first_name", "last_name", "email", "phone", "birthdate",
            "timezone", "language", "country", "city", "latitude", "longitude",
            "created_at", "orders_count", "total_spent", "last_order_at",
        )
    )  # fmt: skip
    consents = sorted(
        Consent.objects.values_list(
            "customer__source_id", "purpose", "granted", "granted_at", "withdrawn_at", "source"
        )
    )
    orders = sorted(
        Order.objects.values_list(
            "source_id", "customer__source_id", "status", "items_amount", "discount_amount",
            "shipping_amount", "total_amount", "created_at", "paid_at", "refunded_at",
            "cancelled_at",
        )
    )  # fmt: skip
    items = sorted(
        OrderItem.objects.values_list(
            "order__source_id", "product__source_id", "quantity", "unit_price"
        )
    )
    carts = sorted(
        Cart.objects.values_list(
            "source_id",
            "customer__source_id",
            "status",
            "order__source_id",
            "items_amount",
            "last_activity_at",
        ),
        key=repr,
    )
    events = sorted(
        (customer, name, kind, json.dumps(properties, sort_keys=True), occurred_at)
        for customer, name, kind, properties, occurred_at in Event.objects.values_list(
            "customer__source_id", "name", "kind", "properties", "occurred_at"
        )
    )
    return {
        "customers": customers,
        "consents": consents,
        "orders": orders,
        "items": items,
        "carts": carts,
        "events": events,
    }


def test_same_seed_builds_the_same_shop(db):
    build_demo_shop(seed=7, customers=SMALL, now=NOW, reset=True)
    first = snapshot()
    build_demo_shop(seed=7, customers=SMALL, now=NOW, reset=True)
    second = snapshot()

    assert all(first[table] for table in first)
    assert first == second


def test_another_seed_builds_another_shop(db):
    build_demo_shop(seed=7, customers=SMALL, now=NOW, reset=True)
    first = snapshot()
    build_demo_shop(seed=8, customers=SMALL, now=NOW, reset=True)
    second = snapshot()

    for table in ("customers", "orders", "events"):
        assert first[table] != second[table], table


def test_customers_live_in_consistent_places(shop):
    customers = list(Customer.objects.all())

    assert len(customers) == SMALL
    assert len({c.country for c in customers}) >= 5
    assert len({c.language for c in customers}) >= 4
    assert len({c.timezone for c in customers}) >= 5
    for c in customers:
        if c.city in EXPECTED_PLACES:
            country, timezone, language, lat, lon = EXPECTED_PLACES[c.city]
            assert (c.country, c.timezone, c.language) == (country, timezone, language), c.city
            assert abs(c.latitude - lat) < 0.5 and abs(c.longitude - lon) < 0.5, c.city


def test_customers_have_contact_details_and_birthdays_some_missing(shop):
    customers = list(Customer.objects.all())
    with_birthday = [c for c in customers if c.birthdate]

    assert 0 < len(with_birthday) < len(customers)
    assert all(c.birthday_mmdd == c.birthdate.month * 100 + c.birthdate.day for c in with_birthday)
    assert all(c.birthday_mmdd is None for c in customers if not c.birthdate)
    assert len({c.email for c in customers}) == len(customers)
    assert all(c.email.split("@")[1].endswith(("example.com", "example.org", "example.net"))
               for c in customers)  # fmt: skip
    assert all(c.phone.startswith("+") and c.phone[1:].isdigit() for c in customers if c.phone)
    assert any(not c.phone for c in customers)
    signups = sorted(c.created_at for c in customers)
    assert signups[-1] <= NOW
    assert NOW - signups[0] > dt.timedelta(days=500)


def test_consents_are_mixed_and_their_times_consistent(shop):
    consents = list(Consent.objects.select_related("customer"))

    for purpose in Consent.Purpose.values:
        answers = {c.granted for c in consents if c.purpose == purpose}
        assert answers == {True, False}, purpose
    assert any(not c.granted and c.granted_at for c in consents)  # granted, then withdrawn
    for c in consents:
        assert c.granted_at or c.withdrawn_at
        for moment in (c.granted_at, c.withdrawn_at):
            assert moment is None or c.customer.created_at <= moment <= NOW
        if c.granted and c.withdrawn_at:
            assert c.withdrawn_at < c.granted_at
        if not c.granted:
            assert c.withdrawn_at and (c.granted_at is None or c.granted_at <= c.withdrawn_at)
        if c.purpose == Consent.Purpose.SMS:
            assert c.customer.phone


def test_behavioural_events_only_with_tracking_consent(shop):
    tracking = {
        c.customer_id: c.granted_at
        for c in Consent.objects.filter(purpose=Consent.Purpose.TRACKING, granted=True)
    }
    behavioural = list(Event.objects.filter(kind=Event.Kind.BEHAVIOURAL))

    assert behavioural
    assert Customer.objects.exclude(pk__in=tracking).exists()
    for event in behavioural:
        assert event.customer_id in tracking
        assert tracking[event.customer_id] <= event.occurred_at <= NOW
    names = {e.name for e in behavioural}
    assert {"product_viewed", "category_viewed", "search", "page_viewed"} <= names


def test_custom_events_are_recorded_without_tracking_consent(shop):
    custom = Event.objects.filter(kind=Event.Kind.CUSTOM)

    assert {"review_written", "newsletter_signup"} <= set(custom.values_list("name", flat=True))
    assert custom.exclude(
        customer__consents__purpose=Consent.Purpose.TRACKING, customer__consents__granted=True
    ).exists()


def test_product_views_name_a_product_and_its_category(shop):
    category_of = dict(Product.objects.values_list("source_id", "category__source_id"))

    views = list(Event.objects.filter(name="product_viewed"))
    assert views
    for event in views:
        assert set(event.properties) == {"product_id", "category"}
        assert category_of[event.properties["product_id"]] == event.properties["category"]


def test_some_customers_viewed_kids_three_times_this_month(shop):
    views = defaultdict(int)
    for event in Event.objects.filter(
        name__in=["category_viewed", "product_viewed"], occurred_at__gte=NOW - dt.timedelta(30)
    ):
        if event.properties.get("category") == "kids":
            views[event.customer_id] += 1

    assert sum(1 for count in views.values() if count >= 3) >= 3


def test_order_totals_add_up_in_the_installation_currency(shop):
    orders = list(Order.objects.prefetch_related("items"))

    assert orders
    for order in orders:
        items = list(order.items.all())
        assert items
        assert order.currency == settings.OFFERWISE_CURRENCY
        assert order.items_amount == sum(i.amount for i in items)
        assert all(i.amount == i.quantity * i.unit_price for i in items)
        assert order.total_amount == (
            order.items_amount - order.discount_amount + order.shipping_amount
        )
        assert min(order.total_amount, order.discount_amount, order.shipping_amount) >= 0


def test_orders_span_thirteen_months_with_a_busy_last_quarter(shop):
    orders = list(Order.objects.select_related("customer"))
    quarter = dt.timedelta(days=90)

    assert {o.status for o in orders} == set(Order.Status.values)
    for order in orders:
        assert order.customer.created_at <= order.created_at <= NOW
        assert NOW - order.created_at <= dt.timedelta(days=396)
        assert (order.paid_at is not None) == (order.status in ("paid", "refunded"))
        assert (order.refunded_at is not None) == (order.status == "refunded")
        assert (order.cancelled_at is not None) == (order.status == "cancelled")
    last = sum(1 for o in orders if o.created_at > NOW - quarter)
    before = sum(1 for o in orders if NOW - 2 * quarter < o.created_at <= NOW - quarter)
    assert last > 1.5 * before


def test_customer_stats_match_their_paid_orders(shop):
    paid = defaultdict(list)
    for order in Order.objects.filter(status=Order.Status.PAID):
        paid[order.customer_id].append(order)

    for customer in Customer.objects.all():
        orders = paid[customer.pk]
        assert customer.orders_count == len(orders)
        assert customer.total_spent == sum(o.total_amount for o in orders)
        if orders:
            assert customer.average_order_value == customer.total_spent // len(orders)
            assert customer.first_order_at == min(o.created_at for o in orders)
            assert customer.last_order_at == max(o.created_at for o in orders)
        else:
            assert customer.last_order_at is None
            assert customer.average_order_value == 0


def test_stats_agree_with_refresh_customer_stats(shop):
    fields = ("orders_count", "total_spent", "average_order_value", "last_order_at")
    sample = list(Customer.objects.order_by("-orders_count")[:10]) + list(
        Customer.objects.filter(orders_count=0)[:3]
    )

    for customer in sample:
        refreshed = refresh_customer_stats(customer_id=customer.pk)
        assert [getattr(refreshed, f) for f in fields] == [getattr(customer, f) for f in fields]


def test_shop_has_loyal_big_spending_and_lapsed_customers(shop):
    customers = Customer.objects

    assert customers.filter(orders_count__gte=10).exists()
    assert customers.filter(total_spent__gte=100_000).exists()
    assert customers.filter(last_order_at__lt=NOW - dt.timedelta(days=90)).exists()
    assert customers.filter(orders_count=0).exists()


def test_abandoned_and_converted_carts(shop):
    hour_ago = NOW - dt.timedelta(hours=1)
    abandoned = Cart.objects.filter(status=Cart.Status.ACTIVE, last_activity_at__lt=hour_ago)
    converted = list(Cart.objects.filter(status=Cart.Status.CONVERTED).select_related("order"))

    assert abandoned.filter(customer__isnull=False).exists()
    assert Cart.objects.filter(status=Cart.Status.ACTIVE, last_activity_at__gte=hour_ago).exists()
    assert converted
    for cart in converted:
        assert cart.order.customer_id == cart.customer_id
        assert cart.items_amount == cart.order.items_amount
    assert (
        abandoned.filter(
            customer__city="Berlin", customer__created_at__gte=NOW - dt.timedelta(days=7)
        )
        .exclude(customer__phone="")
        .exists()
    )
    for cart in Cart.objects.prefetch_related("items"):
        assert cart.items_amount == sum(i.amount for i in cart.items.all())
        assert cart.items_count == sum(i.quantity for i in cart.items.all())


def test_loading_twice_without_reset_is_refused(shop):
    counts = (Customer.objects.count(), Order.objects.count(), Event.objects.count())

    with pytest.raises(DemoDataExists, match="--reset"):
        build_demo_shop(seed=7, customers=SMALL, now=NOW)
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", "--customers", "5", stdout=StringIO())

    assert (Customer.objects.count(), Order.objects.count(), Event.objects.count()) == counts


def test_reset_replaces_demo_data_and_keeps_other_customers(shop):
    Customer.objects.create(source_id="shop-customer-1", email="real@example.com")

    call_command("seed_demo", "--customers", "50", "--reset", stdout=StringIO())

    assert Customer.objects.filter(source_id__startswith="demo-cust-").count() == 50
    assert Customer.objects.filter(source_id="shop-customer-1").exists()
    assert not Order.objects.exclude(customer__source_id__startswith="demo-cust-").exists()
    assert Product.objects.count() == Product.objects.values("source_id").distinct().count()


def test_command_loads_the_default_shop(db):
    out = StringIO()

    call_command("seed_demo", "--reset", stdout=out)

    assert Customer.objects.count() == 2000
    assert "customers    2000" in out.getvalue()
    assert set(EXPECTED_PLACES) <= set(Customer.objects.values_list("city", flat=True))
    assert Order.objects.filter(status=Order.Status.PAID).count() > 4000
