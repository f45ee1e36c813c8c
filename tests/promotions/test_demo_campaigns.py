"""Each demo campaign applies where its name promises, with the discount worked out by hand,
and refuses the near misses with the right reason."""

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings

from customers.demo import (
    CATEGORIES,
    CUSTOMER_PREFIX,
    DEMO_EXTENSIONS,
    PRODUCTS,
    build_demo_shop,
    delete_demo_data,
)
from customers.models import Category, Customer, Order, Product
from promotions import checkout as engine
from promotions.checkout import Checkout, CustomerInput, Outcome, quote_checkout
from promotions.demo import (
    COFFEE_BEANS,
    PERFUME,
    PHONE_CASE,
    PHONE_CASE_PRICE,
    PHONES,
    SORRY_NAME,
    create_demo_campaigns,
    demo_campaigns,
    next_st_patricks_day,
)
from promotions.discounts import Item, Ledger
from promotions.models import Campaign, ScheduleWindow, ValidationRule, Voucher
from segments.demo import DEMO_SEGMENTS, create_demo_segments
from segments.models import Segment
from segments.selectors import segment_members
from tests.factories import CustomerFactory
from tests.promotions.factories import CustomerUsageFactory

pytestmark = pytest.mark.django_db

# A Thursday in March: St Patrick's Day is next Tuesday.
NOW = dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.UTC)
PATRICKS_DAY = dt.datetime(2026, 3, 17, 12, 0, tzinfo=dt.UTC)
SEED, SMALL = 7, 200
SHIPPING = 495
CATALOGUE = {sku: (category, price) for sku, _, category, price in PRODUCTS}

WELCOME_BACK = "Welcome back: 20% off"
PREMIUM = "Premium thank-you: 10% off $250+"
ANNIVERSARY = "First anniversary: 50% off"
BIRTHDAY = "Birthday treat 2026: $20 off"
BIRTHDAY_SHIPPING = "Birthday free shipping"
PATRICK = "St Patrick's Day 2026: 17% off in Ireland"
PERFUME_OFFER = "10% off perfume"
FREE_SHIPPING = "Free shipping over $50"
BOGO = "Coffee beans: buy one, get one free"
BERLIN = "New in Berlin: half-price phone case"


def _load_campaigns() -> str:
    # activate_campaign reads the wall clock ("has it ended?"): load as of NOW.
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        return create_demo_campaigns(now=NOW)


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    # Built once and committed: the tests only read it, or change it inside their own
    # rolled-back transaction.
    with django_db_blocker.unblock():
        build_demo_shop(seed=SEED, customers=SMALL, now=NOW, extensions=False)
        create_demo_segments(now=NOW)
        summary = _load_campaigns()
    yield summary
    with django_db_blocker.unblock():
        Campaign.objects.filter(metadata__demo=True).delete()
        Segment.objects.filter(name__in=[name for name, _, _ in DEMO_SEGMENTS]).delete()
        delete_demo_data()
        Product.objects.filter(source_id__in=list(CATALOGUE)).delete()
        Category.objects.filter(source_id__in=[row[0] for row in CATEGORIES]).delete()


@pytest.fixture
def shop(loaded, db):
    return loaded


# --- helpers -------------------------------------------------------------------------------


def lines(*skus: str | tuple[str, int]) -> tuple[Item, ...]:
    """Cart lines of demo products at their catalogue price: "sku" or ("sku", quantity)."""
    items = []
    for line in skus:
        sku, quantity = (line, 1) if isinstance(line, str) else line
        category, price = CATALOGUE[sku]
        items.append(Item(sku, category, quantity, price))
    return tuple(items)


def cart(customer, items, *, codes=(), shipping=SHIPPING) -> Checkout:
    return Checkout(
        items=items,
        currency=settings.OFFERWISE_CURRENCY,
        shipping_amount=shipping,
        customer=CustomerInput(customer.source_id) if customer is not None else None,
        codes=tuple(codes),
    )


def quote(customer, items, *, codes=(), now=NOW, shipping=SHIPPING):
    return quote_checkout(cart(customer, items, codes=codes, shipping=shipping), now=now)


def applied(q, name: str) -> Outcome | None:
    return next((r for r in q.applied if r.campaign.name == name), None)


def code_outcome(q, code: str) -> Outcome:
    return next(r for r in q.redeemables if r.code and r.code.upper() == code.upper())


def promotion_refusal(name: str, customer, items, *, now=NOW, shipping=SHIPPING) -> str | None:
    """Why an automatic promotion does not apply. quote_checkout leaves refused promotions
    out of its answer, so the reason is asked of the engine's judge, then of the discount's
    scope, as quote_checkout does."""
    q = quote(customer, items, now=now, shipping=shipping)
    assert applied(q, name) is None, f"{name} applied"
    checkout = cart(customer, items, shipping=shipping)
    outcome = Outcome("promotion", None, Campaign.objects.get(name=name))
    known = engine._known_customer(checkout.customer)
    engine._judge([outcome], checkout, known, now, live=False)
    if outcome.applicable:
        engine._apply(outcome, Ledger(checkout.items, checkout.shipping_amount))
    return outcome.error


def one(customers) -> Customer:
    """The first of the demo customers a test needs; the shop must have one."""
    customer = customers.order_by("source_id").first()
    assert customer is not None, "the demo shop has no such customer"
    return customer


def members(segment: str):
    return segment_members(Segment.objects.get(name=segment), now=NOW)


def demo_customers():
    return Customer.objects.filter(source_id__startswith=CUSTOMER_PREFIX)


# --- loading -------------------------------------------------------------------------------


def test_every_demo_campaign_is_made_through_the_services_and_live(shop):
    names = {spec.name for spec in demo_campaigns(NOW)}
    campaigns = Campaign.objects.filter(metadata__demo=True)
    assert set(campaigns.values_list("name", flat=True)) == names
    assert len(names) == 11
    assert {c.status for c in campaigns} == {Campaign.Status.ACTIVE}
    assert "11 demo campaigns (11 new)" in shop


def test_loading_twice_makes_nothing_twice(shop):
    def counts():
        return (
            Campaign.objects.count(),
            Voucher.objects.count(),
            ValidationRule.objects.count(),
            ScheduleWindow.objects.count(),
            Campaign.segments.through.objects.count(),
        )

    before = counts()
    summary = _load_campaigns()
    assert counts() == before
    assert "(0 new), 0 new sorry codes" in summary


def test_campaigns_load_after_the_demo_segments_they_aim_at():
    assert DEMO_EXTENSIONS.index(create_demo_segments) < DEMO_EXTENSIONS.index(
        create_demo_campaigns
    )


def test_campaigns_name_real_demo_products():
    assert {PERFUME, COFFEE_BEANS, PHONE_CASE, *PHONES} <= set(CATALOGUE)
    assert all(CATALOGUE[phone][0] == "phones" for phone in PHONES)
    assert CATALOGUE[PHONE_CASE][1] == PHONE_CASE_PRICE


def test_st_patricks_day_is_the_next_one_on_dublins_clock():
    assert next_st_patricks_day(NOW)[0].isoformat() == "2026-03-17T00:00:00+00:00"
    late_on_the_day = dt.datetime(2026, 3, 17, 23, 30, tzinfo=dt.UTC)
    assert next_st_patricks_day(late_on_the_day)[0].year == 2026
    assert next_st_patricks_day(late_on_the_day + dt.timedelta(hours=1))[0].year == 2027


# --- 1. Welcome back -----------------------------------------------------------------------


def test_welcome_back_gives_inactive_customers_20_percent_from_100_dollars(shop):
    lapsed = one(members("Inactive for 3+ months"))
    q = quote(lapsed, lines("women-cashmere-sweater"), codes=["WELCOMEBACK20"])
    # 20% of 129.00 = 25.80
    assert code_outcome(q, "WELCOMEBACK20").discount_amount == 2580
    assert q.totals["discount_amount"] == 2580


def test_welcome_back_refuses_an_order_just_under_100_dollars(shop):
    lapsed = one(members("Inactive for 3+ months"))
    items = lines("men-merino-crew", "beauty-spf50")  # 79.00 + 19.00 = 98.00
    q = quote(lapsed, items, codes=["welcomeback20"])
    assert code_outcome(q, "WELCOMEBACK20").error == "order_not_eligible"


def test_welcome_back_refuses_a_customer_who_ordered_last_month(shop):
    recent = one(demo_customers().filter(last_order_at__gte=NOW - dt.timedelta(days=30)))
    q = quote(recent, lines("women-cashmere-sweater"), codes=["WELCOMEBACK20"])
    assert code_outcome(q, "WELCOMEBACK20").error == "customer_not_eligible"


def test_welcome_back_is_once_per_customer(shop):
    lapsed = one(members("Inactive for 3+ months"))
    CustomerUsageFactory(
        campaign=Campaign.objects.get(name=WELCOME_BACK), customer=lapsed, redemptions=1
    )
    q = quote(lapsed, lines("women-cashmere-sweater"), codes=["WELCOMEBACK20"])
    assert code_outcome(q, "WELCOMEBACK20").error == "customer_limit_reached"


# --- 2. Premium ----------------------------------------------------------------------------


def test_premium_customers_get_10_percent_off_from_250_dollars(shop):
    premium = one(members("Premium customers"))
    q = quote(premium, lines("sony-wh-1000xm5"))
    # 10% of 399.99 = 39.999, rounded half up to 40.00
    assert applied(q, PREMIUM).discount_amount == 4000


def test_premium_discount_stops_at_100_dollars(shop):
    premium = one(members("Premium customers"))
    q = quote(premium, lines("macbook-air-13"))
    # 10% of 1,099.00 would be 109.90
    assert applied(q, PREMIUM).discount_amount == 10_000


def test_premium_refuses_an_order_just_under_250_dollars(shop):
    premium = one(members("Premium customers"))
    assert promotion_refusal(PREMIUM, premium, lines("airpods-pro-2")) == "order_not_eligible"


def test_premium_refuses_a_customer_under_1000_dollars_spent(shop):
    regular = one(demo_customers().filter(orders_count__gte=1, total_spent__lt=100_000))
    reason = promotion_refusal(PREMIUM, regular, lines("sony-wh-1000xm5"))
    assert reason == "customer_not_eligible"


# --- 3. Sorry ------------------------------------------------------------------------------


def sorry_codes():
    return Voucher.objects.filter(campaign__name=SORRY_NAME).select_related("customer")


def sorry_code() -> Voucher:
    voucher = sorry_codes().order_by("code").first()
    assert voucher is not None, "no sorry code in the demo shop"
    return voucher


def test_sorry_codes_go_to_each_customer_with_a_refund_in_the_last_30_days(shop):
    refunded = set(
        Order.objects.filter(
            status=Order.Status.REFUNDED, refunded_at__gte=NOW - dt.timedelta(days=30)
        ).values_list("customer__source_id", flat=True)
    )
    owners = [v.customer.source_id for v in sorry_codes()]
    assert refunded
    assert sorted(owners) == sorted(refunded)
    assert all(v.code.startswith("SORRY15-") and v.max_redemptions == 1 for v in sorry_codes())


def test_a_sorry_code_takes_15_dollars_off_for_its_owner(shop):
    voucher = sorry_code()
    q = quote(voucher.customer, lines("sports-yoga-mat"), codes=[voucher.code])
    assert code_outcome(q, voucher.code).discount_amount == 1500
    # The owner is a random demo customer: free shipping may also apply (a birthday in March).
    assert q.totals["discount_amount"] == 1500
    assert q.totals["total_amount"] == 3900 + SHIPPING - 1500 - q.totals["shipping_discount_amount"]


def test_a_sorry_code_refuses_anyone_else(shop):
    voucher = sorry_code()
    other = one(demo_customers().exclude(pk=voucher.customer_id))
    q = quote(other, lines("sports-yoga-mat"), codes=[voucher.code])
    assert code_outcome(q, voucher.code).error == "not_assigned_to_customer"


def test_a_sorry_code_works_once(shop):
    voucher = sorry_code()
    Voucher.objects.filter(pk=voucher.pk).update(redemptions_count=1)
    q = quote(voucher.customer, lines("sports-yoga-mat"), codes=[voucher.code])
    assert code_outcome(q, voucher.code).error == "redemption_limit_reached"


def test_a_sorry_code_expires_after_60_days(shop):
    voucher = sorry_code()
    later = NOW + dt.timedelta(days=60)
    q = quote(voucher.customer, lines("sports-yoga-mat"), codes=[voucher.code], now=later)
    assert code_outcome(q, voucher.code).error == "expired"


def test_a_sorry_code_left_without_its_owner_is_disabled_on_the_next_load(shop):
    # seed_demo --reset deletes the demo customers; their codes must not become anyone's.
    voucher = sorry_code()
    Voucher.objects.filter(pk=voucher.pk).update(customer=None)
    _load_campaigns()
    voucher.refresh_from_db()
    assert not voucher.enabled


# --- 4. First anniversary ------------------------------------------------------------------


def joined(source_id: str, when: dt.datetime):
    return CustomerFactory(source_id=source_id, created_at=when, timezone="Europe/Dublin")


@pytest.mark.parametrize(
    "signed_up, now",
    [
        (dt.datetime(2025, 3, 14, 10, tzinfo=dt.UTC), NOW),  # in 2 days
        (dt.datetime(2025, 3, 18, 10, tzinfo=dt.UTC), NOW),  # in 6 days
        (dt.datetime(2025, 3, 14, 10, tzinfo=dt.UTC), dt.datetime(2026, 3, 14, 23, tzinfo=dt.UTC)),
    ],
)
def test_first_anniversary_gives_half_off_in_the_week_up_to_it(shop, signed_up, now):
    customer = joined("joined", signed_up)
    q = quote(customer, lines("women-cashmere-sweater"), codes=["ANNIVERSARY50"], now=now)
    # 50% of 129.00
    assert code_outcome(q, "ANNIVERSARY50").discount_amount == 6450


def test_first_anniversary_stops_at_500_dollars_and_combines_with_nothing(shop):
    customer = joined("joined-2025-03-14", dt.datetime(2025, 3, 14, 10, tzinfo=dt.UTC))
    q = quote(customer, lines("macbook-air-13"), codes=["ANNIVERSARY50"])
    # 50% of 1,099.00 would be 549.50; the order is over $50, but free shipping stands aside.
    assert code_outcome(q, "ANNIVERSARY50").discount_amount == 50_000
    assert [r.code for r in q.applied] == ["ANNIVERSARY50"]
    assert q.totals["total_amount"] == 109_900 - 50_000 + SHIPPING


@pytest.mark.parametrize(
    "signed_up, now",
    [
        (dt.datetime(2025, 3, 19, 10, tzinfo=dt.UTC), NOW),  # in 7 days
        (dt.datetime(2025, 3, 11, 10, tzinfo=dt.UTC), NOW),  # yesterday
        (dt.datetime(2024, 3, 14, 10, tzinfo=dt.UTC), NOW),  # the second anniversary
        (dt.datetime(2025, 3, 14, 10, tzinfo=dt.UTC), dt.datetime(2026, 3, 15, 9, tzinfo=dt.UTC)),
    ],
)
def test_first_anniversary_refuses_other_weeks(shop, signed_up, now):
    customer = joined("joined", signed_up)
    q = quote(customer, lines("women-cashmere-sweater"), codes=["ANNIVERSARY50"], now=now)
    assert code_outcome(q, "ANNIVERSARY50").error == "customer_not_eligible"


# --- 5. Birthday ---------------------------------------------------------------------------


def test_birthday_month_gives_20_dollars_off_and_free_shipping(shop):
    customer = one(members("Birthday this month"))
    q = quote(customer, lines("sports-yoga-mat"), codes=["BIRTHDAY20"])
    assert code_outcome(q, "BIRTHDAY20").discount_amount == 2000
    assert applied(q, BIRTHDAY_SHIPPING).shipping_discount_amount == SHIPPING
    assert q.totals["total_amount"] == 3900 - 2000  # 39.00 + 4.95 shipping, less both


def test_birthday_free_shipping_needs_no_code(shop):
    customer = one(members("Birthday this month"))
    q = quote(customer, lines("beauty-spf50"))
    assert applied(q, BIRTHDAY_SHIPPING).shipping_discount_amount == SHIPPING


def test_birthday_offers_refuse_a_customer_born_in_another_month(shop):
    april = one(demo_customers().filter(birthday_mmdd__gte=401, birthday_mmdd__lte=430))
    q = quote(april, lines("sports-yoga-mat"), codes=["BIRTHDAY20"])
    assert code_outcome(q, "BIRTHDAY20").error == "customer_not_eligible"
    reason = promotion_refusal(BIRTHDAY_SHIPPING, april, lines("sports-yoga-mat"))
    assert reason == "customer_not_eligible"


def test_birthday_code_is_once_a_year(shop):
    customer = one(members("Birthday this month"))
    birthday = Campaign.objects.get(name=BIRTHDAY)
    CustomerUsageFactory(campaign=birthday, customer=customer, redemptions=1)
    q = quote(customer, lines("sports-yoga-mat"), codes=["BIRTHDAY20"])
    assert code_outcome(q, "BIRTHDAY20").error == "customer_limit_reached"
    assert birthday.ends_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


# --- 6. St Patrick's Day -------------------------------------------------------------------


def test_st_patricks_day_gives_customers_in_ireland_17_percent(shop):
    irish = one(demo_customers().filter(country="IE"))
    q = quote(irish, lines("home-down-duvet"), now=PATRICKS_DAY)
    # 17% of 149.00 = 25.33
    assert applied(q, PATRICK).discount_amount == 2533


@pytest.mark.parametrize(
    "now, reason",
    [
        (dt.datetime(2026, 3, 16, 23, 59, tzinfo=dt.UTC), "not_started"),
        (dt.datetime(2026, 3, 18, 0, 0, tzinfo=dt.UTC), "expired"),
    ],
)
def test_st_patricks_day_refuses_the_days_around_it(shop, now, reason):
    irish = one(demo_customers().filter(country="IE"))
    assert promotion_refusal(PATRICK, irish, lines("home-down-duvet"), now=now) == reason


def test_st_patricks_day_refuses_customers_outside_ireland(shop):
    london = one(demo_customers().filter(country="GB"))
    reason = promotion_refusal(PATRICK, london, lines("home-down-duvet"), now=PATRICKS_DAY)
    assert reason == "customer_not_eligible"


# --- 7. Perfume ----------------------------------------------------------------------------


def test_perfume_is_10_percent_off_for_anyone_even_a_guest(shop):
    q = quote(None, lines(PERFUME, "sports-yoga-mat"))
    # 10% of the perfume's 89.00; the yoga mat is out of scope.
    assert applied(q, PERFUME_OFFER).discount_amount == 890
    assert q.item_discounts == [890, 0]


def test_perfume_offer_refuses_an_order_without_perfume(shop):
    customer = one(demo_customers())
    items = lines("beauty-matte-lipstick", "men-oxford-shirt")
    assert promotion_refusal(PERFUME_OFFER, customer, items) == "order_not_eligible"


def test_perfume_offer_refuses_an_order_under_30_dollars(shop):
    customer = one(demo_customers())
    on_sale = (Item(PERFUME, "beauty", 1, 2500),)  # the shop sends the price it charges
    assert promotion_refusal(PERFUME_OFFER, customer, on_sale) == "order_not_eligible"


# --- 8. Free shipping ----------------------------------------------------------------------


def test_free_shipping_from_50_dollars(shop):
    q = quote(None, lines("men-slim-chinos"))
    assert applied(q, FREE_SHIPPING).shipping_discount_amount == SHIPPING
    assert q.totals["total_amount"] == 5500


def test_no_free_shipping_just_under_50_dollars(shop):
    customer = one(demo_customers())
    reason = promotion_refusal(FREE_SHIPPING, customer, lines("women-wide-leg-trousers"))
    assert reason == "order_not_eligible"


# --- 9. Buy one get one free ---------------------------------------------------------------


@pytest.mark.parametrize("bags, free", [(2, 1), (3, 1), (5, 2)])
def test_every_second_bag_of_coffee_is_free(shop, bags, free):
    q = quote(None, lines((COFFEE_BEANS, bags)))
    assert applied(q, BOGO).discount_amount == free * 2900


def test_one_bag_of_coffee_is_not_enough(shop):
    customer = one(demo_customers())
    reason = promotion_refusal(BOGO, customer, lines(COFFEE_BEANS, "kitchen-stoneware-mugs"))
    assert reason == "order_not_eligible"


# --- 10. New in Berlin ---------------------------------------------------------------------


def new_berliner():
    recent = NOW - dt.timedelta(days=30)
    return one(demo_customers().filter(city="Berlin", created_at__gt=recent))


def test_new_berliners_buying_a_phone_get_its_case_at_half_price(shop):
    q = quote(new_berliner(), lines("pixel-9", PHONE_CASE))
    assert applied(q, BERLIN).discount_amount == 1450
    assert q.item_discounts == [0, 1450]


def test_the_half_price_is_for_one_case(shop):
    q = quote(new_berliner(), lines("iphone-16-pro", (PHONE_CASE, 3)))
    assert applied(q, BERLIN).discount_amount == 1450


def test_berlin_offer_needs_a_phone_and_a_case(shop):
    customer = new_berliner()
    assert promotion_refusal(BERLIN, customer, lines(PHONE_CASE)) == "order_not_eligible"
    assert promotion_refusal(BERLIN, customer, lines("galaxy-s25")) == "order_not_eligible"
    # The charger is in the phones category, but it is not a phone.
    charger = lines("usb-c-charger-30w", PHONE_CASE)
    assert promotion_refusal(BERLIN, customer, charger) == "order_not_eligible"


def test_berlin_offer_refuses_old_berliners_and_new_customers_elsewhere(shop):
    old = demo_customers().filter(city="Berlin", created_at__lt=NOW - dt.timedelta(days=60))
    munich = CustomerFactory(
        source_id="new-in-munich", city="Munich", country="DE", created_at=NOW - dt.timedelta(3)
    )
    for customer in (one(old), munich):
        reason = promotion_refusal(BERLIN, customer, lines("pixel-9", PHONE_CASE))
        assert reason == "customer_not_eligible"


def test_berlin_offer_stops_after_its_first_100_customers(shop):
    Campaign.objects.filter(name=BERLIN).update(redemptions_count=100)
    reason = promotion_refusal(BERLIN, new_berliner(), lines("pixel-9", PHONE_CASE))
    assert reason == "redemption_limit_reached"


def test_berlin_offer_is_once_per_customer(shop):
    customer = new_berliner()
    campaign = Campaign.objects.get(name=BERLIN)
    CustomerUsageFactory(campaign=campaign, customer=customer, redemptions=1)
    reason = promotion_refusal(BERLIN, customer, lines("pixel-9", PHONE_CASE))
    assert reason == "customer_limit_reached"
