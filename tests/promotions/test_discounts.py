"""The discount arithmetic, pinned: rounding, caps, allocation, scopes, units, shipping, gift."""

from decimal import Decimal

import pytest

from promotions.discounts import (
    DiscountSpec,
    Item,
    Ledger,
    allocate,
    apply_discount,
    order_totals,
    percent_of,
)


def ledger(*items: Item, shipping: int = 0) -> Ledger:
    return Ledger(items, shipping)


SHOE = Item("p-shoe", "shoes", 2, 2500)
SOCK = Item("p-sock", "socks", 3, 333)


def test_percent_rounds_half_up_to_the_minor_unit():
    assert percent_of(250, Decimal("1")) == 3  # 2.5 -> 3
    assert percent_of(249, Decimal("1")) == 2  # 2.49 -> 2
    assert percent_of(1999, Decimal("12.5")) == 250  # 249.875 -> 250
    assert percent_of(5, Decimal("10")) == 1  # 0.5 -> 1


def test_percent_refuses_more_than_two_decimals():
    with pytest.raises(ValueError):
        percent_of(100, Decimal("10.001"))


def test_percent_discount_is_taken_on_the_items_not_shipping():
    effect = apply_discount(
        DiscountSpec("percent", percent=Decimal("10")), ledger(SHOE, shipping=500)
    )
    assert effect.discount == 500
    assert effect.shipping == 0


def test_cap_applies_after_rounding():
    spec = DiscountSpec("percent", percent=Decimal("50"), cap=1000)
    assert apply_discount(spec, ledger(SHOE)).discount == 1000


def test_amount_off_never_exceeds_what_is_left():
    effect = apply_discount(DiscountSpec("amount", amount=10_000), ledger(SHOE))
    assert effect.items == (5000,)


def test_shares_are_proportional_and_add_up_exactly():
    # 1000 off 5000 + 999: shares 833.47 and 166.53 -> the larger fraction gets the cent.
    effect = apply_discount(DiscountSpec("amount", amount=1000), ledger(SHOE, SOCK))
    assert effect.items == (833, 167)
    assert sum(effect.items) == 1000


def test_allocate_gives_remainders_to_the_largest_fractions_then_the_first():
    assert allocate(10, [4, 4, 4]) == [4, 3, 3]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    assert allocate(0, [5, 5]) == [0, 0]


def test_allocate_refuses_more_than_the_weights():
    with pytest.raises(ValueError):
        allocate(11, [5, 5])


def test_scope_by_category_with_product_exclusion():
    spec = DiscountSpec(
        "percent",
        percent=Decimal("50"),
        categories=frozenset({"shoes", "socks"}),
        excluded_products=frozenset({"p-sock"}),
    )
    assert apply_discount(spec, ledger(SHOE, SOCK)).items == (2500, 0)


def test_no_item_in_scope_is_not_eligible():
    spec = DiscountSpec("amount", amount=100, categories=frozenset({"perfume"}))
    effect = apply_discount(spec, ledger(SHOE))
    assert not effect.eligible
    assert effect.discount == 0


def test_fixed_price_per_unit_skips_cheaper_items():
    spec = DiscountSpec("fixed_price", amount=1000)
    # Shoes: 2 x 2500 -> 2 x 1000 (1500 off each unit); socks already below 1000 a unit.
    assert apply_discount(spec, ledger(SHOE, SOCK)).items == (3000, 0)


def test_unit_discount_frees_units_of_the_product():
    spec = DiscountSpec("unit", unit_product="p-sock", unit_quantity=2)
    assert apply_discount(spec, ledger(SHOE, SOCK)).items == (0, 666)


def test_unit_discount_never_frees_more_units_than_the_cart_holds():
    spec = DiscountSpec("unit", unit_product="p-shoe", unit_quantity=5)
    assert apply_discount(spec, ledger(SHOE)).items == (5000,)


@pytest.mark.parametrize(("quantity", "free"), [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2)])
def test_buy_one_get_one_free(quantity, free):
    spec = DiscountSpec("unit", unit_product="p-shoe", unit_quantity=1, unit_every=2)
    item = Item("p-shoe", "shoes", quantity, 2500)
    assert apply_discount(spec, ledger(item)).discount == free * 2500


def test_unit_discount_frees_the_cheapest_units_first():
    spec = DiscountSpec("unit", unit_product="p-shoe", unit_quantity=1)
    dear, cheap = Item("p-shoe", "shoes", 1, 3000), Item("p-shoe", "shoes", 1, 2000)
    assert apply_discount(spec, ledger(dear, cheap)).items == (0, 2000)


def test_free_shipping_takes_what_is_left_of_shipping():
    effect = apply_discount(DiscountSpec("free_shipping"), ledger(SHOE, shipping=799))
    assert (effect.discount, effect.shipping) == (0, 799)


def test_budget_caps_a_discount_and_keeps_shares_proportional():
    spec = DiscountSpec("percent", percent=Decimal("50"))
    effect = apply_discount(spec, ledger(SHOE, SOCK), budget_left=300)
    assert effect.discount == 300
    assert effect.items == (250, 50)  # 250.04 and 49.96


def test_gift_card_pays_the_rest_including_shipping_up_to_its_balance():
    book = ledger(SHOE, shipping=500)
    book.take(apply_discount(DiscountSpec("amount", amount=1000), book))
    assert apply_discount(DiscountSpec("gift_card"), book, gift_balance=10_000).gift_card == 4500
    assert apply_discount(DiscountSpec("gift_card"), book, gift_balance=700).gift_card == 700


def test_discounts_stack_on_what_the_previous_left():
    book = ledger(SHOE)
    first = apply_discount(DiscountSpec("percent", percent=Decimal("10")), book)
    book.take(first)
    second = apply_discount(DiscountSpec("percent", percent=Decimal("10")), book)
    assert (first.discount, second.discount) == (500, 450)


def test_order_totals_follow_the_contract():
    book = ledger(SHOE, shipping=500)
    effects = []
    for spec, balance in (
        (DiscountSpec("amount", amount=500), 0),
        (DiscountSpec("free_shipping"), 0),
        (DiscountSpec("gift_card"), 1000),
    ):
        effect = apply_discount(spec, book, gift_balance=balance)
        book.take(effect)
        effects.append(effect)
    assert order_totals(book, effects) == {
        "amount": 5000,
        "shipping_amount": 500,
        "discount_amount": 500,
        "shipping_discount_amount": 500,
        "gift_card_amount": 1000,
        "total_amount": 3500,
    }


def test_ledger_refuses_a_share_larger_than_the_item():
    book = ledger(SOCK)
    with pytest.raises(ValueError):
        book.take(type(apply_discount(DiscountSpec("free_shipping"), book))((2000,)))
