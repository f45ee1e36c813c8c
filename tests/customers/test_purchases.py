"""The purchase history (what order-history segment conditions read) follows the orders."""

import datetime as dt

import pytest

from customers import services
from customers.models import Order, Purchase
from customers.services import LineInput, recompute_purchases
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db

PLACED = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
HOODIE = LineInput(product_id="hoodie", category="kids", quantity=1, unit_price=3000)
CAP = LineInput(product_id="cap", category="kids", quantity=2, unit_price=1000)
MUG = LineInput(product_id="mug", category="home", quantity=1, unit_price=800)


def push(source_id: str, status: str, *lines: LineInput, customer: str = "c-1") -> Order:
    order, _ = services.upsert_order(
        source_id=source_id,
        customer_source_id=customer,
        status=status,
        currency="USD",
        lines=list(lines),
        created_at=PLACED,
    )
    return order


def rows(**filters) -> set[tuple]:
    return set(
        Purchase.objects.filter(**filters).values_list(
            "customer__source_id",
            "order__source_id",
            "product__source_id",
            "category__source_id",
            "ordered_at",
        )
    )


@pytest.fixture(autouse=True)
def customers():
    return CustomerFactory(source_id="c-1"), CustomerFactory(source_id="c-2")


def test_paying_an_order_records_one_row_per_product_at_the_order_time():
    push("o-1", Order.Status.CREATED, HOODIE, CAP, HOODIE)
    assert rows() == set()

    push("o-1", Order.Status.PAID, HOODIE, CAP, HOODIE)

    assert Purchase.objects.count() == 2  # the hoodie's two lines make one row
    assert rows() == {
        ("c-1", "o-1", "hoodie", "kids", PLACED),
        ("c-1", "o-1", "cap", "kids", PLACED),
    }


def test_an_order_pushed_already_paid_records_its_rows():
    push("o-1", Order.Status.PAID, MUG)
    assert rows() == {("c-1", "o-1", "mug", "home", PLACED)}


@pytest.mark.parametrize("leaving_to", [Order.Status.REFUNDED, Order.Status.CANCELLED])
def test_leaving_paid_removes_the_orders_rows_only(leaving_to):
    push("o-1", Order.Status.PAID, HOODIE)
    push("o-2", Order.Status.PAID, MUG)

    push("o-1", leaving_to, HOODIE)

    assert rows() == {("c-1", "o-2", "mug", "home", PLACED)}


def test_a_cancelled_unpaid_order_records_nothing():
    push("o-1", Order.Status.CREATED, HOODIE)
    push("o-1", Order.Status.CANCELLED, HOODIE)
    assert rows() == set()


def test_recompute_gives_the_rows_the_order_service_keeps():
    push("o-1", Order.Status.PAID, HOODIE, CAP)
    push("o-2", Order.Status.PAID, MUG, HOODIE)
    push("o-2", Order.Status.REFUNDED, MUG, HOODIE)
    push("o-3", Order.Status.CREATED, MUG)
    push("o-4", Order.Status.PAID, MUG, MUG, customer="c-2")
    push("o-5", Order.Status.PAID, CAP, customer="c-2")
    push("o-5", Order.Status.CANCELLED, CAP, customer="c-2")
    kept = rows()

    Purchase.objects.all().delete()
    assert recompute_purchases() == len(kept)

    assert rows() == kept


def test_recompute_of_some_customers_leaves_the_others_alone(customers):
    first, second = customers
    push("o-1", Order.Status.PAID, HOODIE)
    push("o-2", Order.Status.PAID, MUG, customer="c-2")
    # Orders written directly (history loaded with SQL, factories) have no rows yet.
    order = OrderFactory(customer=first, status=Order.Status.PAID, created_at=PLACED)
    OrderItemFactory(order=order, product=ProductFactory(source_id="scarf", category=None))
    Purchase.objects.filter(customer=second).delete()

    recompute_purchases(customer_ids=[first.pk])

    assert rows() == {
        ("c-1", "o-1", "hoodie", "kids", PLACED),
        ("c-1", order.source_id, "scarf", None, PLACED),
    }


def test_erasure_deletes_the_purchase_history_and_recompute_keeps_it_away(customers):
    first, _ = customers
    push("o-1", Order.Status.PAID, HOODIE)
    push("o-2", Order.Status.PAID, MUG, customer="c-2")

    services.erase_customer(customer=first)
    assert Order.objects.filter(customer=first).exists()  # anonymous aggregates stay
    assert rows(customer=first) == set()

    recompute_purchases()
    assert rows() == {("c-2", "o-2", "mug", "home", PLACED)}


def test_deleting_an_order_deletes_its_rows():
    order = push("o-1", Order.Status.PAID, HOODIE)
    order.delete()
    assert rows() == set()
