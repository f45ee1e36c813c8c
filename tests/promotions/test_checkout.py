"""The checkout engine: every reason code, stacking, gift cards, schedules, customers."""

import datetime as dt

import pytest

from customers.models import Customer
from promotions.checkout import Checkout, CustomerInput, qualify_checkout, quote_checkout
from promotions.discounts import Item
from promotions.models import Campaign
from segments.models import Segment, SegmentMember
from tests.factories import CustomerFactory
from tests.promotions.factories import (
    CustomerUsageFactory,
    RuleFactory,
    ScheduleWindowFactory,
    coupon,
    promotion,
)

pytestmark = pytest.mark.django_db

# A Monday, 10:00 UTC (11:00 in Dublin, 19:00 in Tokyo).
NOW = dt.datetime(2026, 3, 16, 10, 0, tzinfo=dt.UTC)
SHOES = Item("p-shoe", "shoes", 2, 2500)
PERFUME = Item("p-scent", "perfume", 1, 4000)


def checkout(*codes, items=(SHOES,), shipping=500, customer="c-1", **extra) -> Checkout:
    who = CustomerInput(customer) if isinstance(customer, str) else customer
    return Checkout(
        items=tuple(items),
        currency="USD",
        shipping_amount=shipping,
        customer=who,
        codes=codes,
        **extra,
    )


def outcome(quote, code=None, campaign=None):
    for r in quote.redeemables:
        if (code and r.code == code) or (campaign and r.campaign == campaign):
            return r
    raise AssertionError(f"no redeemable {code or campaign}")


def reason(code, *, now=NOW, **kwargs) -> str | None:
    return outcome(quote_checkout(checkout(code, **kwargs), now=now), code=code).error


@pytest.fixture
def customer():
    return CustomerFactory(source_id="c-1", country="IE", timezone="Europe/Dublin")


# --- the happy path ------------------------------------------------------------------------


def test_a_code_discounts_the_order_and_totals_follow(customer):
    coupon("SUMMER10")
    quote = quote_checkout(checkout("SUMMER10"), now=NOW)
    assert quote.valid
    assert quote.totals == {
        "amount": 5000,
        "shipping_amount": 500,
        "discount_amount": 500,
        "shipping_discount_amount": 0,
        "gift_card_amount": 0,
        "total_amount": 5000,
    }
    assert quote.item_discounts == [500]


def test_codes_match_case_insensitively_and_answer_with_the_stored_code(customer):
    coupon("Summer10")
    quote = quote_checkout(checkout("sUMMER10"), now=NOW)
    assert quote.valid
    assert quote.redeemables[0].code == "Summer10"


def test_no_codes_is_valid_and_only_promotions_apply(customer):
    promotion(name="Ten off", discount={"type": "amount", "amount": 1000})
    quote = quote_checkout(checkout(), now=NOW)
    assert quote.valid
    assert quote.totals["discount_amount"] == 1000


def test_apply_promotions_false_leaves_them_out(customer):
    promotion(name="Ten off", discount={"type": "amount", "amount": 1000})
    quote = quote_checkout(checkout(apply_promotions=False), now=NOW)
    assert quote.redeemables == []


# --- reason codes --------------------------------------------------------------------------


def test_voucher_not_found(customer):
    quote = quote_checkout(checkout("NOPE"), now=NOW)
    assert not quote.valid
    assert outcome(quote, code="NOPE").error == "voucher_not_found"


def test_voucher_disabled(customer):
    voucher = coupon("OFF")
    voucher.enabled = False
    voucher.save()
    assert reason("OFF") == "voucher_disabled"


@pytest.mark.parametrize("status", ["draft", "paused", "archived"])
def test_campaign_inactive(customer, status):
    coupon("OFF", status=status)
    assert reason("OFF") == "campaign_inactive"


def test_sandbox_sees_draft_campaigns(customer):
    coupon("OFF", status="draft")
    quote = quote_checkout(checkout("OFF", sandbox=True), now=NOW)
    assert quote.valid


def test_not_started_by_campaign_or_voucher(customer):
    coupon("LATER", starts_at=NOW + dt.timedelta(hours=1))
    voucher = coupon("VLATER")
    voucher.starts_at = NOW + dt.timedelta(minutes=1)
    voucher.save()
    assert reason("LATER") == "not_started"
    assert reason("VLATER") == "not_started"


def test_expired_at_the_end_time_exactly(customer):
    coupon("GONE", ends_at=NOW)
    voucher = coupon("VGONE")
    voucher.expires_at = NOW - dt.timedelta(seconds=1)
    voucher.save()
    assert reason("GONE") == "expired"
    assert reason("VGONE") == "expired"


def test_currency_mismatch(customer):
    coupon("EURO", currency="EUR")
    assert reason("EURO") == "currency_mismatch"


def test_not_assigned_to_customer(customer):
    voucher = coupon("MINE")
    voucher.customer = CustomerFactory(source_id="someone-else")
    voucher.save()
    assert reason("MINE") == "not_assigned_to_customer"
    assert reason("MINE", customer="someone-else") is None


def test_owned_code_refused_for_a_guest(customer):
    voucher = coupon("MINE")
    voucher.customer = customer
    voucher.save()
    assert reason("MINE", customer=None) == "not_assigned_to_customer"


def test_redemption_limit_of_the_voucher_and_of_the_campaign(customer):
    voucher = coupon("V")
    voucher.max_redemptions, voucher.redemptions_count = 3, 3
    voucher.save()
    coupon("C", max_redemptions=10, redemptions_count=10)
    assert reason("V") == "redemption_limit_reached"
    assert reason("C") == "redemption_limit_reached"


def test_customer_limit_in_all_and_per_day(customer):
    total = coupon("TOTAL", max_per_customer=2)
    daily = coupon("DAILY", max_per_customer_per_day=1)
    CustomerUsageFactory(campaign=total.campaign, customer=customer, redemptions=2)
    CustomerUsageFactory(
        campaign=daily.campaign, customer=customer, redemptions=5, day=NOW.date(), day_redemptions=1
    )
    assert reason("TOTAL") == "customer_limit_reached"
    assert reason("DAILY") == "customer_limit_reached"
    # The next day on the campaign's clock the daily limit starts again.
    assert reason("DAILY", now=NOW + dt.timedelta(days=1)) is None


def test_per_customer_limits_need_a_customer(customer):
    coupon("ONCE", max_per_customer=1)
    assert reason("ONCE", customer=None) == "customer_not_eligible"


def test_budget_exhausted_and_a_partial_budget_caps_the_discount(customer):
    coupon("SPENT", budget=1000, discount_given=1000)
    coupon("NEARLY", budget=1000, discount_given=800)
    assert reason("SPENT") == "budget_exhausted"
    quote = quote_checkout(checkout("NEARLY"), now=NOW)
    assert outcome(quote, code="NEARLY").discount_amount == 200


def test_customer_not_eligible_outside_the_target_segment(customer):
    voucher = coupon("IRISH")
    germans = Segment.objects.create(
        name="Germans", rules={"field": "country", "op": "eq", "value": "DE"}
    )
    voucher.campaign.segments.add(germans)
    assert reason("IRISH") == "customer_not_eligible"
    germans.rules = {"field": "country", "op": "eq", "value": "IE"}
    germans.save()
    assert reason("IRISH") is None


def test_static_segment_targeting(customer):
    voucher = coupon("LIST")
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    voucher.campaign.segments.add(vip)
    assert reason("LIST") == "customer_not_eligible"
    SegmentMember.objects.create(segment=vip, customer=customer)
    assert reason("LIST") is None


def test_customer_rule_fails_with_its_message(customer):
    voucher = coupon("BIG")
    RuleFactory(
        campaign=voucher.campaign,
        rules={"field": "total_spent", "op": "gte", "value": 100_000},
        message="For our best customers.",
    )
    r = outcome(quote_checkout(checkout("BIG"), now=NOW), code="BIG")
    assert (r.error, r.message) == ("customer_not_eligible", "For our best customers.")


def test_order_rule_fails_as_order_not_eligible(customer):
    voucher = coupon("OVER100")
    RuleFactory(
        campaign=voucher.campaign, rules={"field": "order.amount", "op": "gt", "value": 10_000}
    )
    assert reason("OVER100") == "order_not_eligible"
    assert reason("OVER100", items=(Item("p", "x", 3, 4000),)) is None


def test_rule_mixing_customer_and_order_conditions(customer):
    voucher = coupon("MIX")
    RuleFactory(
        campaign=voucher.campaign,
        rules={
            "any": [
                {"field": "country", "op": "eq", "value": "DE"},
                {"field": "order.category", "op": "matches", "value": {"id": "perfume"}},
            ]
        },
    )
    assert reason("MIX") == "customer_not_eligible"
    assert reason("MIX", items=(SHOES, PERFUME)) is None


def test_order_contains_a_minimum_quantity(customer):
    voucher = coupon("TWO")
    RuleFactory(
        campaign=voucher.campaign,
        rules={
            "field": "order.product",
            "op": "matches",
            "value": {"id": "p-shoe", "min_quantity": 3},
        },
    )
    assert reason("TWO") == "order_not_eligible"
    assert reason("TWO", items=(Item("p-shoe", "shoes", 3, 2500),)) is None


def test_history_redemptions_of_the_campaign(customer):
    voucher = coupon("FIRST")
    RuleFactory(
        campaign=voucher.campaign, rules={"field": "history.redemptions", "op": "eq", "value": 0}
    )
    assert reason("FIRST") is None
    CustomerUsageFactory(campaign=voucher.campaign, customer=customer, redemptions=1)
    assert reason("FIRST") == "order_not_eligible"


def test_time_rules_read_the_customers_timezone(customer):
    voucher = coupon("MORNING")
    RuleFactory(campaign=voucher.campaign, rules={"field": "time.hour", "op": "lt", "value": 12})
    # 10:00 UTC is 11:00 in Dublin (before noon) and 19:00 in Tokyo.
    assert reason("MORNING") is None
    CustomerFactory(source_id="c-tokyo", timezone="Asia/Tokyo", country="JP")
    assert reason("MORNING", customer="c-tokyo") == "order_not_eligible"


def test_gift_balance_empty(customer):
    card = coupon("GIFT", kind=Campaign.Kind.GIFT_CARDS, discount={"type": "gift_card"})
    card.gift_amount, card.gift_balance = 5000, 0
    card.save()
    assert reason("GIFT") == "gift_balance_empty"


def test_too_many_codes(customer):
    codes = [coupon(f"C{i}").code for i in range(6)]
    quote = quote_checkout(checkout(*codes), now=NOW)
    assert [r.error for r in quote.redeemables] == [None] * 5 + ["too_many_codes"]


def test_a_scoped_discount_without_items_in_scope_is_order_not_eligible(customer):
    coupon("SCENT", discount={"type": "percent", "percent": 10, "categories": ["perfume"]})
    assert reason("SCENT") == "order_not_eligible"
    quote = quote_checkout(checkout("SCENT", items=(SHOES, PERFUME)), now=NOW)
    assert quote.item_discounts == [0, 400]


# --- schedules -----------------------------------------------------------------------------


def test_schedule_in_the_campaigns_timezone(customer):
    # Mondays 09:00-12:00 in New York: 10:00 UTC is 06:00 there.
    voucher = coupon("NY", timezone="America/New_York")
    ScheduleWindowFactory(
        campaign=voucher.campaign, weekday=1, start_time=dt.time(9), end_time=dt.time(12)
    )
    assert reason("NY") == "outside_schedule"
    assert reason("NY", now=NOW + dt.timedelta(hours=4)) is None  # 10:00 in New York


def test_schedule_in_the_customers_timezone(customer):
    voucher = coupon(
        "LOCAL", timezone="America/New_York", schedule_timezone=Campaign.ScheduleTimezone.CUSTOMER
    )
    ScheduleWindowFactory(
        campaign=voucher.campaign, weekday=1, start_time=dt.time(9), end_time=dt.time(12)
    )
    assert reason("LOCAL") is None  # 11:00 in Dublin
    CustomerFactory(source_id="c-tokyo", timezone="Asia/Tokyo")
    assert reason("LOCAL", customer="c-tokyo") == "outside_schedule"  # 19:00 in Tokyo


def test_schedule_window_until_midnight(customer):
    voucher = coupon("LATE")
    ScheduleWindowFactory(campaign=voucher.campaign, weekday=1, start_time=dt.time(22))
    assert reason("LATE", now=NOW.replace(hour=23, minute=59)) is None
    assert reason("LATE", now=NOW.replace(hour=21, minute=59)) == "outside_schedule"


# --- stacking ------------------------------------------------------------------------------


def test_promotions_by_priority_then_codes_in_order(customer):
    promotion(name="Low", priority=1, discount={"type": "percent", "percent": 10})
    promotion(name="High", priority=5, discount={"type": "amount", "amount": 1000})
    coupon("A", discount={"type": "percent", "percent": 50})
    coupon("B", discount={"type": "amount", "amount": 100})
    quote = quote_checkout(checkout("A", "B"), now=NOW)
    applied = [
        (r.campaign.name if r.type == "promotion" else r.code, r.discount_amount)
        for r in quote.redeemables
    ]
    # 5000 - 1000 (High) = 4000; -10% = 3600; -50% = 1800; -100 = 1700.
    assert applied == [("High", 1000), ("Low", 400), ("A", 1800), ("B", 100)]
    assert quote.totals["discount_amount"] == 3300


def test_an_exclusive_code_applies_alone(customer):
    promotion(name="Auto", discount={"type": "amount", "amount": 100})
    coupon("FIRST")
    coupon("SOLO", exclusive=True)
    quote = quote_checkout(checkout("SOLO", "FIRST"), now=NOW)
    assert [(r.code, r.status, r.error) for r in quote.redeemables] == [
        ("SOLO", "applicable", None),
        ("FIRST", "inapplicable", "not_combinable"),
    ]
    assert not quote.valid


def test_an_exclusive_code_after_another_code_is_not_combinable(customer):
    coupon("FIRST")
    coupon("SOLO", exclusive=True)
    quote = quote_checkout(checkout("FIRST", "SOLO"), now=NOW)
    assert outcome(quote, code="SOLO").error == "not_combinable"
    assert outcome(quote, code="FIRST").applicable


def test_exclusive_promotions_yield_to_codes(customer):
    promotion(name="Exclusive auto", priority=9, exclusive=True)
    promotion(name="Shared auto", priority=1, discount={"type": "amount", "amount": 100})
    coupon("CODE")
    quote = quote_checkout(checkout("CODE"), now=NOW)
    assert [(r.type, r.code or r.campaign.name) for r in quote.redeemables] == [
        ("promotion", "Shared auto"),
        ("voucher", "CODE"),
    ]
    assert all(r.applicable for r in quote.redeemables)


def test_without_codes_the_top_exclusive_promotion_applies_alone(customer):
    promotion(name="Exclusive auto", priority=9, exclusive=True)
    promotion(name="Shared auto", priority=1, discount={"type": "amount", "amount": 100})
    quote = quote_checkout(checkout(), now=NOW)
    assert [r.campaign.name for r in quote.redeemables] == ["Exclusive auto"]


def test_two_codes_of_one_campaign_do_not_combine(customer):
    first = coupon("ONE")
    second = coupon("TWO")
    second.campaign = first.campaign
    second.save()
    quote = quote_checkout(checkout("ONE", "TWO"), now=NOW)
    assert outcome(quote, code="TWO").error == "not_combinable"


def test_gift_cards_pay_last_including_shipping(customer):
    card = coupon(
        "GIFT", kind=Campaign.Kind.GIFT_CARDS, discount={"type": "gift_card"}, exclusive=True
    )
    card.gift_amount = card.gift_balance = 10_000
    card.save()
    coupon("SOLO", exclusive=True, discount={"type": "amount", "amount": 1000})
    quote = quote_checkout(checkout("GIFT", "SOLO"), now=NOW)
    assert [r.code for r in quote.redeemables if r.applicable] == ["GIFT", "SOLO"]
    assert outcome(quote, code="GIFT").gift_card_amount == 4500  # 5000 - 1000 + 500
    assert quote.totals["total_amount"] == 0


def test_free_shipping_with_a_percent_code(customer):
    promotion(name="Ship", discount={"type": "free_shipping"})
    coupon("TEN")
    quote = quote_checkout(checkout("TEN"), now=NOW)
    assert quote.totals["shipping_discount_amount"] == 500
    assert quote.totals["total_amount"] == 4500


def test_buy_one_get_one_free_promotion(customer):
    promotion(
        name="BOGO",
        discount={
            "type": "unit",
            "percent": None,
            "unit_product": "p-shoe",
            "unit_quantity": 1,
            "unit_every": 2,
        },
    )
    quote = quote_checkout(checkout(items=(Item("p-shoe", "shoes", 4, 2500),)), now=NOW)
    assert quote.totals["discount_amount"] == 5000


# --- customers -----------------------------------------------------------------------------


def test_a_guest_fails_customer_rules_but_not_order_rules():
    voucher = coupon("ANYONE")
    RuleFactory(
        campaign=voucher.campaign, rules={"field": "order.amount", "op": "gte", "value": 1000}
    )
    irish = coupon("IRISH")
    RuleFactory(campaign=irish.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    quote = quote_checkout(checkout("ANYONE", "IRISH", customer=None), now=NOW)
    assert outcome(quote, code="ANYONE").applicable
    assert outcome(quote, code="IRISH").error == "customer_not_eligible"


def test_an_unknown_customer_is_judged_on_the_fields_given_and_not_stored():
    voucher = coupon("IRISH")
    RuleFactory(campaign=voucher.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    irish = CustomerInput("new-1", {"country": "IE"})
    german = CustomerInput("new-2", {"country": "DE"})
    assert reason("IRISH", customer=irish) is None
    assert reason("IRISH", customer=german) == "customer_not_eligible"
    assert not Customer.objects.exists()


def test_erased_customers_are_treated_as_unknown(customer):
    voucher = coupon("IRISH")
    RuleFactory(campaign=voucher.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    Customer.objects.filter(pk=customer.pk).update(erased_at=NOW, country="")
    assert reason("IRISH") == "customer_not_eligible"


# --- qualifications ------------------------------------------------------------------------


def test_qualifications_list_what_applies_on_its_own_best_first(customer):
    promotion(name="Small", discount={"type": "amount", "amount": 100})
    promotion(name="Too dear", discount={"type": "amount", "amount": 100})
    RuleFactory(
        campaign=Campaign.objects.get(name="Too dear"),
        rules={"field": "order.amount", "op": "gte", "value": 1_000_000},
    )
    mine = coupon("MINE", discount={"type": "percent", "percent": 20})
    mine.customer = customer
    mine.save()
    coupon("PUBLIC", discount={"type": "percent", "percent": 90})
    found = qualify_checkout(checkout(), now=NOW)
    assert [(o.code or o.campaign.name, o.discount_amount) for o in found] == [
        ("MINE", 1000),
        ("Small", 100),
    ]


def test_an_automatic_promotion_that_gives_nothing_is_not_applied(customer):
    promotion(
        name="BOGO",
        discount={
            "type": "unit",
            "percent": None,
            "unit_product": "p-shoe",
            "unit_quantity": 1,
            "unit_every": 2,
        },
    )
    promotion(name="Ship A", discount={"type": "free_shipping", "percent": None})
    promotion(name="Ship B", discount={"type": "free_shipping", "percent": None})
    quote = quote_checkout(checkout(items=(Item("p-shoe", "shoes", 1, 2500),)), now=NOW)
    # One unit: nothing free; the second free-shipping promotion has no shipping left.
    assert [r.campaign.name for r in quote.redeemables] == ["Ship A"]
    assert {p.campaign.name: p.error for p in quote.missed_promotions} == {
        "BOGO": "order_not_eligible",
        "Ship B": "order_not_eligible",
    }


def test_a_promotion_missed_by_its_rule_is_reported_with_the_reason(customer):
    ship = promotion(name="Free shipping over $50", discount={"type": "free_shipping"})
    RuleFactory(campaign=ship, rules={"field": "order.amount", "op": "gte", "value": 5000})
    quote = quote_checkout(checkout(items=(Item("p", "x", 1, 4900),)), now=NOW)
    assert quote.redeemables == []
    assert [(p.campaign.name, p.error) for p in quote.missed_promotions] == [
        ("Free shipping over $50", "order_not_eligible")
    ]


def test_a_personal_code_goes_with_its_owner(customer):
    owner = CustomerFactory(source_id="owner")
    voucher = coupon("PERSONAL")
    voucher.customer = owner
    voucher.save()
    owner.delete()
    assert reason("PERSONAL") == "voucher_not_found"
