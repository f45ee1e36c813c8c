import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Q

from customers.models import Cart, CartItem, Consent, Order
from customers.services import LineInput, recompute_purchases, upsert_order
from segments import fields
from segments.errors import InvalidRules
from segments.models import Segment, SegmentMember
from segments.rules import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    compile_rules,
    is_member,
    segment_queryset,
    validate_rules,
)
from tests.factories import (
    CategoryFactory,
    ConsentFactory,
    CustomerFactory,
    EventFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

# 12:30 UTC: already 00:30 the next day in Auckland (UTC+12 in June).
NOW = dt.datetime(2025, 6, 15, 12, 30, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def selected(tree, now=NOW) -> set[int]:
    return set(segment_queryset(tree, now=now).values_list("pk", flat=True))


def cond(field, op, value=None):
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


def refused(tree) -> str:
    with pytest.raises(InvalidRules) as info:
        validate_rules(tree)
    assert info.value.code == "invalid_rules"
    assert info.value.http_status == 400
    return info.value.message


# --- groups --------------------------------------------------------------------------------


def test_empty_all_matches_everyone_and_empty_any_no_one():
    a, b = CustomerFactory(), CustomerFactory()
    assert selected({"all": []}) == {a.pk, b.pk}
    assert selected({"any": []}) == set()


def test_match_all_and_match_none_keep_their_meaning_inside_groups():
    dublin = CustomerFactory(city="Dublin")
    cork = CustomerFactory(city="Cork")
    in_dublin = cond("city", "eq", "Dublin")
    assert selected({"any": [{"any": []}, in_dublin]}) == {dublin.pk}
    assert selected({"any": [{"all": []}, in_dublin]}) == {dublin.pk, cork.pk}
    assert selected({"all": [{"any": []}, in_dublin]}) == set()
    assert selected({"all": [{"all": []}, in_dublin]}) == {dublin.pk}
    assert selected({"not": {"any": []}}) == {dublin.pk, cork.pk}
    assert selected({"not": {"all": []}}) == set()
    assert selected({"any": [{"not": {"all": []}}, {"not": in_dublin}]}) == {cork.pk}


def test_not_is_the_complement_even_for_unset_values():
    never = CustomerFactory(last_order_at=None)
    old = CustomerFactory(last_order_at=days_ago(100))
    recent = CustomerFactory(last_order_at=days_ago(5))
    inactive = cond("last_order_at", "more_than_days_ago", 90)
    assert selected(inactive) == {old.pk}
    assert selected({"not": inactive}) == {never.pk, recent.pk}


def test_erased_customers_are_never_selected():
    live = CustomerFactory()
    CustomerFactory(erased_at=NOW)
    assert selected({"all": []}) == {live.pk}


# --- customer attributes -------------------------------------------------------------------


def test_string_eq_and_in_are_case_insensitive():
    a = CustomerFactory(city="New York")
    b = CustomerFactory(city="new york")
    c = CustomerFactory(city="Newark")
    assert selected(cond("city", "eq", "NEW YORK")) == {a.pk, b.pk}
    assert selected(cond("city", "in", ["newark", "Boston"])) == {c.pk}
    assert selected(cond("email", "eq", a.email.upper())) == {a.pk}


def test_string_ne_and_not_in_include_customers_without_a_value():
    dublin = CustomerFactory(city="Dublin")
    blank = CustomerFactory(city="")
    cork = CustomerFactory(city="Cork")
    assert selected(cond("city", "ne", "dublin")) == {blank.pk, cork.pk}
    assert selected(cond("city", "not_in", ["Cork", "Dublin"])) == {blank.pk}
    assert dublin.pk not in selected(cond("city", "ne", "DUBLIN"))


def test_string_contains_and_starts_with_treat_like_wildcards_literally():
    plain = CustomerFactory(first_name="Anna")
    percent = CustomerFactory(first_name="50% Anna")
    under = CustomerFactory(first_name="a_b")
    assert selected(cond("first_name", "contains", "ANN")) == {plain.pk, percent.pk}
    assert selected(cond("first_name", "contains", "%")) == {percent.pk}
    assert selected(cond("first_name", "starts_with", "a_")) == {under.pk}
    assert selected(cond("first_name", "starts_with", "an")) == {plain.pk}


def test_is_set_and_is_not_set_on_text_treat_blank_as_not_set():
    phone = CustomerFactory(phone="+353 1 555")
    none = CustomerFactory(phone="")
    assert selected(cond("phone", "is_set")) == {phone.pk}
    assert selected(cond("phone", "is_not_set")) == {none.pk}


def test_country_codes_compare_upper_case():
    ie = CustomerFactory(country="IE")
    de = CustomerFactory(country="DE")
    nowhere = CustomerFactory(country="")
    assert selected(cond("country", "eq", "ie")) == {ie.pk}
    assert selected(cond("country", "in", ["DE", "fr"])) == {de.pk}
    assert selected(cond("country", "ne", "IE")) == {de.pk, nowhere.pk}
    assert selected(cond("country", "is_not_set")) == {nowhere.pk}


def test_created_at_compares_dates_and_relative_days():
    old = CustomerFactory(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    edge = CustomerFactory(created_at=days_ago(30))
    new = CustomerFactory(created_at=days_ago(29))
    assert selected(cond("created_at", "lt", "2024-01-02")) == {old.pk}
    assert selected(cond("created_at", "gte", "2024-01-01T00:00:00+00:00")) == {
        old.pk,
        edge.pk,
        new.pk,
    }
    assert selected(cond("created_at", "gt", "2024-01-01T01:00:00+01:00")) == {edge.pk, new.pk}
    # Exactly 30 days ago is neither more nor less than 30 days ago.
    assert selected(cond("created_at", "less_than_days_ago", 30)) == {new.pk}
    assert selected(cond("created_at", "more_than_days_ago", 30)) == {old.pk}
    between = cond("created_at", "between", [days_ago(31).isoformat(), days_ago(30).isoformat()])
    assert selected(between) == {edge.pk}


# --- metadata ------------------------------------------------------------------------------


def test_metadata_numbers_compare_numerically_and_only_numbers():
    nine = CustomerFactory(metadata={"age": 9})
    ten = CustomerFactory(metadata={"age": 10.0})
    text = CustomerFactory(metadata={"age": "100"})
    # Not castable to a number: PostgreSQL would fail the whole query if it were cast.
    CustomerFactory(metadata={"age": "old"})
    CustomerFactory(metadata={"age": {"years": 10}})
    CustomerFactory(metadata={})
    CustomerFactory(metadata={"age": None})
    assert selected(cond("metadata.age", "gte", 10)) == {ten.pk}
    assert selected(cond("metadata.age", "lt", 10)) == {nine.pk}
    assert selected(cond("metadata.age", "between", [9, 9.5])) == {nine.pk}
    assert selected(cond("metadata.age", "in", [10, 11])) == {ten.pk}
    assert selected(cond("metadata.age", "eq", "100")) == {text.pk}
    assert selected(cond("metadata.age", "eq", 100)) == set()


def test_metadata_strings_compare_case_insensitively():
    gold = CustomerFactory(metadata={"tier": "Gold"})
    CustomerFactory(metadata={"tier": "silver"})
    CustomerFactory(metadata={"tier": 1})
    assert selected(cond("metadata.tier", "eq", "GOLD")) == {gold.pk}
    assert selected(cond("metadata.tier", "starts_with", "go")) == {gold.pk}
    assert selected(cond("metadata.tier", "in", ["gold", "bronze"])) == {gold.pk}


def test_metadata_booleans_are_not_numbers():
    vip = CustomerFactory(metadata={"vip": True})
    not_vip = CustomerFactory(metadata={"vip": False})
    one = CustomerFactory(metadata={"vip": 1})
    assert selected(cond("metadata.vip", "eq", True)) == {vip.pk}
    assert selected(cond("metadata.vip", "eq", False)) == {not_vip.pk}
    assert selected(cond("metadata.vip", "eq", 1)) == {one.pk}


def test_metadata_ne_includes_missing_keys_and_is_set_ignores_json_null():
    gold = CustomerFactory(metadata={"tier": "gold"})
    missing = CustomerFactory(metadata={})
    null = CustomerFactory(metadata={"tier": None})
    assert selected(cond("metadata.tier", "ne", "gold")) == {missing.pk, null.pk}
    assert selected(cond("metadata.tier", "is_set")) == {gold.pk}
    assert selected(cond("metadata.tier", "is_not_set")) == {missing.pk, null.pk}


# --- consents ------------------------------------------------------------------------------


def test_consent_eq_true_needs_a_granted_consent():
    granted = ConsentFactory(purpose=Consent.Purpose.SMS, granted=True).customer
    withdrawn = ConsentFactory(purpose=Consent.Purpose.SMS, granted=False).customer
    other = ConsentFactory(purpose=Consent.Purpose.EMAIL, granted=True).customer
    assert selected(cond("consent.sms", "eq", True)) == {granted.pk}
    assert selected(cond("consent.sms", "eq", False)) == {withdrawn.pk, other.pk}
    assert selected(cond("consent.sms", "ne", True)) == {withdrawn.pk, other.pk}


# --- stats ---------------------------------------------------------------------------------


def test_orders_count_at_least_ten():
    CustomerFactory(orders_count=9)
    ten = CustomerFactory(orders_count=10)
    assert selected(cond("orders_count", "gte", 10)) == {ten.pk}
    assert selected(cond("orders_count", "gt", 9)) == {ten.pk}


def test_money_stats_compare_in_minor_units():
    CustomerFactory(total_spent=99_999, average_order_value=1000)
    premium = CustomerFactory(total_spent=100_000, average_order_value=5000)
    assert selected(cond("total_spent", "gte", 100_000)) == {premium.pk}
    assert selected(cond("average_order_value", "between", [1001, 5000])) == {premium.pk}
    assert selected(cond("total_spent", "ne", 100_000)) != {premium.pk}


def test_last_order_more_than_90_days_ago_excludes_customers_without_orders():
    CustomerFactory(last_order_at=None)
    CustomerFactory(last_order_at=days_ago(90))
    inactive = CustomerFactory(last_order_at=days_ago(90.001))
    assert selected(cond("last_order_at", "more_than_days_ago", 90)) == {inactive.pk}


def test_first_order_less_than_30_days_ago_finds_new_customers():
    new = CustomerFactory(first_order_at=days_ago(29.9))
    CustomerFactory(first_order_at=days_ago(30.1))
    never = CustomerFactory(first_order_at=None)
    assert selected(cond("first_order_at", "less_than_days_ago", 30)) == {new.pk}
    assert selected(cond("first_order_at", "is_not_set")) == {never.pk}


def test_stats_kept_by_the_order_service_are_seen_on_the_next_query():
    customer = CustomerFactory()
    rule = cond("orders_count", "gte", 2)
    for n in range(2):
        assert not is_member(rule, customer.pk, now=NOW)
        upsert_order(
            source_id=f"o-{n}",
            customer_source_id=customer.source_id,
            status=Order.Status.PAID,
            currency="USD",
            lines=[LineInput(product_id="sku-x", quantity=1, unit_price=100)],
        )
    assert is_member(rule, customer.pk, now=NOW)


# --- order history -------------------------------------------------------------------------


def paid_order(customer, *products, when=None, status=Order.Status.PAID):
    """An order written directly, then the customer's purchase history rebuilt from it."""
    order = OrderFactory(customer=customer, status=status, created_at=when or days_ago(1))
    for product in products:
        OrderItemFactory(order=order, product=product)
    recompute_purchases(customer_ids=[customer.pk])
    return order


def test_orders_category_counts_paid_orders_in_the_window():
    kids = CategoryFactory(source_id="kids")
    shirt, shoes = ProductFactory(category=kids), ProductFactory(category=kids)
    twice = CustomerFactory()
    paid_order(twice, shirt, shoes, when=days_ago(29))
    paid_order(twice, shirt, when=days_ago(1))
    once_in_window = CustomerFactory()
    paid_order(once_in_window, shirt, shoes, when=days_ago(1))
    paid_order(once_in_window, shirt, when=days_ago(31))
    unpaid = CustomerFactory()
    paid_order(unpaid, shirt, status=Order.Status.CREATED)
    paid_order(unpaid, shirt, status=Order.Status.REFUNDED)
    rule = cond("orders.category", "matches", {"id": "kids", "min_count": 2, "within_days": 30})
    assert selected(rule) == {twice.pk}
    ever = cond("orders.category", "matches", {"id": "kids", "min_count": 2})
    assert selected(ever) == {twice.pk, once_in_window.pk}


def test_order_history_follows_payments_and_refunds_through_the_order_service():
    customer = CustomerFactory()
    rule = cond("orders.category", "matches", {"id": "kids", "min_count": 2, "within_days": 30})

    def push(source_id: str, status: str, days: float) -> None:
        upsert_order(
            source_id=source_id,
            customer_source_id=customer.source_id,
            status=status,
            currency="USD",
            lines=[
                LineInput(product_id="hoodie", category="kids", quantity=1, unit_price=100),
                LineInput(product_id="cap", category="kids", quantity=2, unit_price=50),
            ],
            created_at=days_ago(days),
        )

    push("o-1", Order.Status.PAID, 2)
    push("o-2", Order.Status.CREATED, 3)
    push("o-old", Order.Status.PAID, 31)
    assert not is_member(rule, customer.pk, now=NOW)  # one order of two lines counts once
    push("o-2", Order.Status.PAID, 3)
    assert is_member(rule, customer.pk, now=NOW)
    push("o-1", Order.Status.REFUNDED, 2)
    assert not is_member(rule, customer.pk, now=NOW)


def test_orders_product_with_the_default_of_once_ever():
    sku = ProductFactory(source_id="sku-1")
    buyer = CustomerFactory()
    paid_order(buyer, sku, when=days_ago(400))
    other = CustomerFactory()
    paid_order(other, ProductFactory())
    assert selected(cond("orders.product", "matches", {"id": "sku-1"})) == {buyer.pk}
    assert selected({"not": cond("orders.product", "matches", {"id": "sku-1"})}) == {other.pk}


# --- behaviour -----------------------------------------------------------------------------


def test_events_count_with_property_filter_and_window():
    browser = CustomerFactory()
    for days in (1, 10, 29):
        EventFactory(customer=browser, occurred_at=days_ago(days), properties={"category": "kids"})
    short = CustomerFactory()
    for days in (1, 10, 31):
        EventFactory(customer=short, occurred_at=days_ago(days), properties={"category": "kids"})
    wrong = CustomerFactory()
    for days in (1, 2, 3):
        EventFactory(customer=wrong, occurred_at=days_ago(days), properties={"category": "men"})
    rule = cond(
        "events.count",
        "matches",
        {
            "name": "product_viewed",
            "min_count": 3,
            "within_days": 30,
            "properties": {"category": "kids"},
        },
    )
    assert selected(rule) == {browser.pk}
    other_name = cond("events.count", "matches", {"name": "added_to_cart"})
    assert selected(other_name) == set()


def test_event_property_numbers_do_not_match_strings():
    number = CustomerFactory()
    EventFactory(customer=number, properties={"size": 5})
    text = CustomerFactory()
    EventFactory(customer=text, properties={"size": "5"})
    flag = CustomerFactory()
    EventFactory(customer=flag, properties={"size": True})
    spec = {"name": "product_viewed", "properties": {"size": 5}}
    assert selected(cond("events.count", "matches", spec)) == {number.pk}
    spec["properties"] = {"size": "5"}
    assert selected(cond("events.count", "matches", spec)) == {text.pk}
    spec["properties"] = {"size": 1}
    assert selected(cond("events.count", "matches", spec)) == set()


# --- carts ---------------------------------------------------------------------------------


def cart(customer, *products, idle_hours=0.0, status=Cart.Status.ACTIVE, amount=None):
    row = Cart.objects.create(
        source_id=f"cart-{customer.pk}-{Cart.objects.count()}",
        customer=customer,
        status=status,
        currency="USD",
        items_amount=amount if amount is not None else 2500 * len(products),
        items_count=len(products),
        last_activity_at=NOW - dt.timedelta(hours=idle_hours),
    )
    for product in products:
        CartItem.objects.create(cart=row, product=product, quantity=1, unit_price=2500, amount=2500)
    return row


def test_abandoned_cart_is_active_non_empty_and_idle_for_longer_than_the_threshold():
    product = ProductFactory()
    abandoned = CustomerFactory()
    cart(abandoned, product, idle_hours=24.01)
    fresh = CustomerFactory()
    cart(fresh, product, idle_hours=23.99)
    converted = CustomerFactory()
    cart(converted, product, idle_hours=48, status=Cart.Status.CONVERTED)
    empty = CustomerFactory()
    cart(empty, idle_hours=48)
    assert selected(cond("cart.abandoned", "matches", {"idle_hours": 24})) == {abandoned.pk}


def test_cart_value_compares_active_carts_only():
    big = CustomerFactory()
    cart(big, ProductFactory(), amount=10_000)
    small = CustomerFactory()
    cart(small, ProductFactory(), amount=9_999)
    converted = CustomerFactory()
    cart(converted, ProductFactory(), amount=50_000, status=Cart.Status.CONVERTED)
    none = CustomerFactory()
    assert selected(cond("cart.value", "gte", 10_000)) == {big.pk}
    assert selected(cond("cart.value", "ne", 10_000)) == {small.pk, converted.pk, none.pk}


def test_cart_contains_product_or_category():
    phones = CategoryFactory(source_id="phones")
    phone = ProductFactory(source_id="phone-x", category=phones)
    has_phone = CustomerFactory()
    cart(has_phone, phone, ProductFactory())
    has_case = CustomerFactory()
    cart(has_case, ProductFactory(category=phones))
    bought = CustomerFactory()
    cart(bought, phone, status=Cart.Status.CONVERTED)
    assert selected(cond("cart.contains_product", "eq", "phone-x")) == {has_phone.pk}
    assert selected(cond("cart.contains_category", "in", ["phones"])) == {has_phone.pk, has_case.pk}


# --- dates ---------------------------------------------------------------------------------


def test_birthday_today_uses_each_customers_local_date():
    dublin_15 = CustomerFactory(timezone="Europe/Dublin", birthdate=dt.date(1990, 6, 15))
    CustomerFactory(timezone="Europe/Dublin", birthdate=dt.date(1990, 6, 16))
    CustomerFactory(timezone="Pacific/Auckland", birthdate=dt.date(1990, 6, 15))
    auckland_16 = CustomerFactory(timezone="Pacific/Auckland", birthdate=dt.date(1985, 6, 16))
    unknown_zone = CustomerFactory(timezone="Mars/Olympus", birthdate=dt.date(1990, 6, 15))
    CustomerFactory(birthdate=None)
    assert selected(cond("birthday", "today")) == {dublin_15.pk, auckland_16.pk, unknown_zone.pk}


def test_birthday_in_days_and_in_month():
    in_week = CustomerFactory(timezone="UTC", birthdate=dt.date(2000, 6, 22))
    day_before = CustomerFactory(timezone="UTC", birthdate=dt.date(2000, 6, 21))
    july = CustomerFactory(timezone="UTC", birthdate=dt.date(2000, 7, 31))
    CustomerFactory(timezone="UTC", birthdate=dt.date(2000, 8, 1))
    assert selected(cond("birthday", "in_days", 7)) == {in_week.pk}
    assert selected(cond("birthday", "in_month", 7)) == {july.pk}
    assert selected(cond("birthday", "in_month", 6)) == {in_week.pk, day_before.pk}


def test_birthday_on_february_29_is_celebrated_on_february_28_in_common_years():
    leapling = CustomerFactory(timezone="UTC", birthdate=dt.date(2000, 2, 29))
    feb_28 = CustomerFactory(timezone="UTC", birthdate=dt.date(2001, 2, 28))
    common_year = dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC)
    leap_year = dt.datetime(2028, 2, 28, 12, tzinfo=dt.UTC)
    assert selected(cond("birthday", "today"), now=common_year) == {leapling.pk, feb_28.pk}
    assert selected(cond("birthday", "today"), now=leap_year) == {feb_28.pk}


def test_signup_anniversary_needs_at_least_a_year():
    year_ago = CustomerFactory(
        timezone="UTC", created_at=dt.datetime(2024, 6, 15, 8, tzinfo=dt.UTC)
    )
    CustomerFactory(timezone="UTC", created_at=dt.datetime(2025, 6, 15, 1, tzinfo=dt.UTC))
    CustomerFactory(timezone="UTC", created_at=dt.datetime(2024, 6, 14, 8, tzinfo=dt.UTC))
    in_two_days = CustomerFactory(
        timezone="UTC", created_at=dt.datetime(2020, 6, 17, 23, tzinfo=dt.UTC)
    )
    assert selected(cond("signup_anniversary", "today")) == {year_ago.pk}
    assert selected(cond("signup_anniversary", "in_days", 2)) == {in_two_days.pk}


# --- location ------------------------------------------------------------------------------


def test_within_km_of_a_point():
    near = CustomerFactory(latitude=53.3498, longitude=-6.2603)  # Dublin
    CustomerFactory(latitude=51.8985, longitude=-8.4756)  # Cork, about 220 km away
    CustomerFactory(latitude=None, longitude=None)
    rule = cond("location.within_km", "matches", {"lat": 53.35, "lon": -6.26, "km": 100})
    assert selected(rule) == {near.pk}
    wide = cond("location.within_km", "matches", {"lat": 53.35, "lon": -6.26, "km": 230})
    assert len(selected(wide)) == 2


def test_within_km_across_the_antimeridian():
    east = CustomerFactory(latitude=-17.0, longitude=179.95)
    west = CustomerFactory(latitude=-17.0, longitude=-179.95)
    CustomerFactory(latitude=-17.0, longitude=178.0)
    rule = cond("location.within_km", "matches", {"lat": -17.0, "lon": 179.99, "km": 20})
    assert selected(rule) == {east.pk, west.pk}


# --- segment membership --------------------------------------------------------------------


def test_segment_member_of_a_static_segment():
    listed, other = CustomerFactory(), CustomerFactory()
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=vip, customer=listed)
    assert selected(cond("segment.member", "eq", vip.pk)) == {listed.pk}
    assert selected(cond("segment.member", "ne", vip.pk)) == {other.pk}


def test_segment_member_of_a_dynamic_segment_expands_its_rules():
    dubliner = CustomerFactory(city="Dublin", orders_count=3)
    CustomerFactory(city="Dublin", orders_count=0)
    CustomerFactory(city="Cork", orders_count=3)
    dublin = Segment.objects.create(name="Dublin", rules=cond("city", "eq", "Dublin"))
    rule = {"all": [cond("segment.member", "in", [dublin.pk]), cond("orders_count", "gt", 0)]}
    assert selected(rule) == {dubliner.pk}


def test_segment_member_cycles_are_refused_when_saving():
    first = Segment.objects.create(name="A", rules={"all": []})
    second = Segment.objects.create(name="B", rules=cond("segment.member", "eq", first.pk))
    first.rules = {"any": [cond("city", "eq", "Dublin"), cond("segment.member", "eq", second.pk)]}
    with pytest.raises(ValidationError) as info:
        first.full_clean()
    assert info.value.message_dict["rules"] == [
        f"any[1].value: segment {second.pk}: value: segment {first.pk} refers back to itself "
        f"({first.pk} -> {second.pk} -> {first.pk})"
    ]


def test_segment_member_of_a_missing_segment_is_refused_but_matches_no_one_later():
    CustomerFactory()
    assert refused(cond("segment.member", "eq", 999_999)) == "value: no segment with id 999999"
    assert selected(cond("segment.member", "eq", 999_999)) == set()


# --- validation ----------------------------------------------------------------------------


def test_unknown_field_is_pointed_at():
    tree = {
        "all": [
            cond("city", "eq", "x"),
            cond("city", "eq", "y"),
            {"any": [cond("orders.cnt", "gt", 1)]},
        ]
    }
    assert refused(tree) == "all[2].any[0]: unknown field 'orders.cnt'"


def test_operator_not_allowed_for_the_field():
    assert refused({"all": [cond("country", "gt", "IE")]}) == (
        "all[0]: operator 'gt' is not allowed for field 'country' "
        "(allowed: eq, ne, in, not_in, is_set, is_not_set)"
    )
    assert refused({"all": [cond("country", "bigger", "IE")]}) == (
        "all[0]: unknown operator 'bigger' (allowed for field 'country': "
        "eq, ne, in, not_in, is_set, is_not_set)"
    )


def test_wrong_value_types_are_pointed_at():
    assert refused({"all": [{"all": []}, cond("orders_count", "gt", "ten")]}) == (
        'all[1].value: expected a whole number, got "ten"'
    )
    assert refused({"not": cond("metadata.age", "gt", "ten")}) == (
        'not.value: expected a number, got "ten"'
    )
    assert refused(cond("city", "in", ["Dublin", 3])) == (
        "value[1]: expected a non-empty string of at most 255 characters, got 3"
    )
    bad_count = cond("orders.category", "matches", {"id": "kids", "min_count": 0})
    assert refused({"any": [bad_count]}) == (
        "any[0].value.min_count: expected a whole number from 1 to 100000, got 0"
    )
    assert refused(cond("last_order_at", "gt", "yesterday")) == (
        'value: expected an ISO 8601 date or date-time with offset, got "yesterday"'
    )
    assert refused(cond("last_order_at", "gt", "2025-01-01T10:00:00")) == (
        'value: expected an ISO 8601 date or date-time with offset, got "2025-01-01T10:00:00"'
    )
    assert refused(cond("total_spent", "between", [10, 5])) == (
        "value: expected [low, high] with low <= high, got [10, 5]"
    )
    assert refused(cond("events.count", "matches", {"name": "x", "extra": 1})) == (
        "value: unexpected key 'extra' (expected: name, min_count, within_days, properties)"
    )


def test_missing_and_superfluous_values_are_refused():
    assert refused(cond("city", "eq")) == "value: operator 'eq' needs a value"
    assert refused(cond("city", "is_set", "x")) == "value: operator 'is_set' takes no value"


def test_malformed_groups_are_refused():
    assert refused({"all": [], "any": []}) == (
        "root: a group has exactly one key, 'all', 'any' or 'not'; got 'all', 'any'"
    )
    assert refused({"all": {"field": "city"}}) == (
        'all: expected a list of rules, got {"field": "city"}'
    )
    assert refused({"all": [[]]}) == "all[0]: expected an object, got []"
    assert refused({}) == (
        "root: expected a group ('all', 'any' or 'not') or a condition ('field', 'op', "
        "'value'), got {}"
    )
    assert refused({"all": [{**cond("city", "eq", "x"), "extra": 1}]}) == (
        "all[0]: unexpected key 'extra' in a condition"
    )
    assert refused({"all": [{"field": 3, "op": "eq", "value": 1}]}) == (
        "all[0].field: expected a field name, got 3"
    )


def test_depth_and_size_limits():
    deep: dict = cond("city", "eq", "x")
    for _ in range(MAX_DEPTH):
        deep = {"not": deep}
    validate_rules(deep)
    message = refused({"all": [deep]})
    assert message.endswith(f"groups are nested deeper than {MAX_DEPTH} levels")
    many = {"any": [cond("orders_count", "eq", n) for n in range(MAX_CONDITIONS + 1)]}
    assert refused(many) == f"any[{MAX_CONDITIONS}]: more than {MAX_CONDITIONS} conditions"


def test_compile_refuses_what_validate_refuses():
    with pytest.raises(InvalidRules):
        compile_rules({"all": [cond("nope", "eq", 1)]})


def test_segment_clean_validates_dynamic_rules_only():
    Segment(name="list", kind=Segment.Kind.STATIC, rules={}).full_clean()
    with pytest.raises(ValidationError) as info:
        Segment(name="broken", rules={"any": [cond("country", "eq", "Ireland")]}).full_clean()
    assert info.value.message_dict["rules"] == [
        'any[0].value: expected a two-letter country code, got "Ireland"'
    ]


# --- registry ------------------------------------------------------------------------------


def test_other_apps_can_register_fields():
    name = "test.has_gmail"
    if fields.get_field(name) is None:
        fields.register_field(
            fields.Field(
                name=name,
                value_type="boolean",
                operators=("eq",),
                clean=lambda op, value: fields.clean_boolean(value),
                compile=lambda op, value, ctx: (
                    Q(email__iendswith="@gmail.com") if value else ~Q(email__iendswith="@gmail.com")
                ),
            )
        )
    gmail = CustomerFactory(email="A@GMAIL.com")
    CustomerFactory(email="b@example.com")
    assert selected(cond(name, "eq", True)) == {gmail.pk}
    with pytest.raises(ValueError, match="already registered"):
        fields.register_field(fields.get_field(name))


# --- one source of truth, one query --------------------------------------------------------

MIXED_TREE = {
    "all": [
        cond("country", "eq", "IE"),
        cond("total_spent", "gte", 1000),
        {
            "any": [
                cond("orders.category", "matches", {"id": "kids", "min_count": 2}),
                cond("events.count", "matches", {"name": "product_viewed", "within_days": 30}),
                cond("metadata.age", "gt", 18),
                {"not": cond("consent.email", "eq", True)},
            ]
        },
        cond("birthday", "in_month", 5),
        cond("cart.abandoned", "matches", {"idle_hours": 1}),
    ]
}


def test_is_member_agrees_with_the_queryset():
    kids = CategoryFactory(source_id="kids")
    customers = [
        CustomerFactory(total_spent=2000, metadata={"age": 30}),
        CustomerFactory(total_spent=2000, country="DE"),
        CustomerFactory(total_spent=500),
        CustomerFactory(total_spent=5000, birthdate=dt.date(1980, 6, 1)),
    ]
    ConsentFactory(customer=customers[1], purpose=Consent.Purpose.EMAIL)
    EventFactory(customer=customers[2], occurred_at=days_ago(2))
    paid_order(customers[3], ProductFactory(category=kids))
    for c in customers:
        cart(c, ProductFactory(), idle_hours=5)
    trees = [
        MIXED_TREE,
        {"any": [cond("metadata.age", "gt", 18), cond("birthday", "in_month", 6)]},
        {"not": cond("consent.email", "eq", True)},
        cond("events.count", "matches", {"name": "product_viewed"}),
    ]
    for tree in trees:
        members = selected(tree)
        for c in customers:
            assert is_member(tree, c.pk, now=NOW) == (c.pk in members)
    assert selected(MIXED_TREE) == {customers[0].pk}


def test_counting_a_segment_is_one_query(django_assert_num_queries):
    CustomerFactory.create_batch(3)
    queryset = segment_queryset(MIXED_TREE, now=NOW)
    with django_assert_num_queries(1):
        queryset.count()
    with django_assert_num_queries(1):
        is_member(MIXED_TREE, 1, now=NOW)
