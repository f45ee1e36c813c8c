"""Invariants of the checkout engine on random carts, codes and campaigns (hypothesis).

For every cart: totals are never negative and follow the contract formula, item shares add up
to the discount and none exceeds its item, shipping is never over-discounted, gift cards never
pay more than their balance, and a validation writes nothing.
"""

import datetime as dt

import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promotions.checkout import Checkout, CustomerInput, quote_checkout
from promotions.discounts import Item
from promotions.models import Campaign, Voucher
from tests.factories import CustomerFactory
from tests.promotions.factories import RuleFactory, coupon, promotion

NOW = dt.datetime(2026, 3, 16, 10, 0, tzinfo=dt.UTC)
PRODUCTS = ["p-shoe", "p-sock", "p-scent", "p-cover"]
CATEGORIES = ["shoes", "socks", "perfume", "phone"]

CODES = {
    "PCT15": {"type": "percent", "percent": "15"},
    "PCT33": {"type": "percent", "percent": "33.33", "cap": 2000},
    "AMT7": {"type": "amount", "amount": 700},
    "FIX": {"type": "fixed_price", "amount": 999, "categories": ["shoes"]},
    "BOGO": {
        "type": "unit",
        "percent": None,
        "unit_product": "p-sock",
        "unit_quantity": 1,
        "unit_every": 2,
    },
    "SHIP": {"type": "free_shipping", "percent": None},
    "SCENT": {
        "type": "percent",
        "percent": "50",
        "categories": ["perfume"],
        "excluded_products": ["p-cover"],
    },
}


@pytest.fixture
def shop(db):
    CustomerFactory(source_id="c-1", country="IE")
    for code, discount in CODES.items():
        coupon(
            code,
            discount=discount,
            exclusive=code == "AMT7",
            budget=5000 if code == "PCT33" else None,
        )
    card = coupon(
        "GIFT", kind=Campaign.Kind.GIFT_CARDS, discount={"type": "gift_card", "percent": None}
    )
    card.gift_amount = card.gift_balance = 3000
    card.save()
    over = promotion(name="Over 50", priority=2, discount={"type": "amount", "amount": 500})
    RuleFactory(campaign=over, rules={"field": "order.amount", "op": "gte", "value": 5000})
    irish = promotion(name="Irish", priority=1, discount={"type": "percent", "percent": "5"})
    RuleFactory(campaign=irish, rules={"field": "country", "op": "eq", "value": "IE"})
    promotion(
        name="Exclusive", priority=0, exclusive=True, discount={"type": "percent", "percent": "1"}
    )


items = st.lists(
    st.builds(
        Item,
        product_id=st.sampled_from(PRODUCTS),
        category=st.sampled_from(CATEGORIES),
        quantity=st.integers(1, 5),
        unit_price=st.integers(0, 20_000),
    ),
    min_size=1,
    max_size=10,
)
codes = st.lists(st.sampled_from([*CODES, "GIFT", "NOPE"]), unique=True, max_size=7)
customers = st.sampled_from([None, CustomerInput("c-1"), CustomerInput("new", {"country": "IE"})])


def snapshot() -> dict[str, int]:
    counts = {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in ("customers", "segments", "promotions")
    }
    counts["counters"] = hash(
        tuple(Campaign.objects.values_list("redemptions_count", "discount_given"))
        + tuple(Voucher.objects.values_list("redemptions_count", "gift_balance"))
    )
    return counts


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=items,
    codes=codes,
    shipping=st.integers(0, 3000),
    customer=customers,
    promos=st.booleans(),
)
def test_totals_shares_and_no_writes(shop, items, codes, shipping, customer, promos):
    before = snapshot()
    checkout = Checkout(
        items=tuple(items),
        currency="USD",
        shipping_amount=shipping,
        customer=customer,
        codes=tuple(codes),
        apply_promotions=promos,
    )
    quote = quote_checkout(checkout, now=NOW)
    totals = quote.totals
    applied = quote.applied

    assert totals["total_amount"] >= 0
    assert totals["total_amount"] == (
        totals["amount"]
        + totals["shipping_amount"]
        - totals["discount_amount"]
        - totals["shipping_discount_amount"]
        - totals["gift_card_amount"]
    )
    assert totals["amount"] == sum(i.amount for i in items)
    assert sum(quote.item_discounts) == totals["discount_amount"]
    assert sum(r.discount_amount for r in applied) == totals["discount_amount"]
    for item, share in zip(items, quote.item_discounts, strict=True):
        assert 0 <= share <= item.amount
    for r in applied:
        assert sum(r.effect.items) == r.discount_amount
    assert 0 <= totals["shipping_discount_amount"] <= shipping
    assert totals["gift_card_amount"] <= 3000
    # Exclusive redeemables never combine with another discount (gift cards are payments).
    discounts = [r for r in applied if r.code != "GIFT"]
    if any(r.campaign.exclusive for r in discounts):
        assert len(discounts) == 1
    # Every requested code is answered, in request order.
    assert [r.code for r in quote.redeemables if r.type == "voucher"] == codes
    assert quote.valid == all(r.applicable for r in quote.redeemables if r.type == "voucher")
    assert snapshot() == before
