"""Writes that race, with real threads and connections (PostgreSQL; CI's second pass)."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from customers import services
from customers.models import Cart, Customer, Order
from customers.services import LineInput

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Start every call at once (a barrier), each on its own connection; return errors."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def worker(call):
        try:
            barrier.wait()
            call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def pay(source_id: str, amount: int, status: str = "paid") -> Callable[[], object]:
    return lambda: services.upsert_order(
        source_id=source_id,
        customer_source_id="c-1",
        status=status,
        currency="USD",
        lines=[LineInput(product_id="sku-1", quantity=1, unit_price=amount)],
    )


def test_concurrent_payments_and_refunds_keep_stats_exact():
    services.upsert_customer(source_id="c-1", data={})
    for n in range(40):
        pay(f"o-{n}", 1000 + n, status="created" if n < 30 else "paid")()

    # 30 orders get paid while 10 already-paid ones are refunded, all at the same time.
    calls = [pay(f"o-{n}", 1000 + n) for n in range(30)]
    calls += [pay(f"o-{n}", 1000 + n, status="refunded") for n in range(30, 40)]
    errors = run_concurrently(calls)

    assert errors == []
    customer = Customer.objects.get(source_id="c-1")
    expected = sum(1000 + n for n in range(30))
    assert customer.orders_count == 30
    assert customer.total_spent == expected
    assert customer.average_order_value == expected // 30
    assert Order.objects.filter(status="refunded").count() == 10


def test_concurrent_first_upserts_of_one_customer_make_one_row():
    calls = [
        (lambda n=n: services.upsert_customer(source_id="c-new", data={"city": f"City {n}"}))
        for n in range(20)
    ]
    errors = run_concurrently(calls)
    assert errors == []
    assert Customer.objects.filter(source_id="c-new").count() == 1


def test_concurrent_pushes_of_one_order_pay_it_once():
    services.upsert_customer(source_id="c-1", data={})
    errors = run_concurrently([pay("o-1", 5000) for _ in range(20)])
    assert errors == []
    assert Order.objects.count() == 1
    customer = Customer.objects.get(source_id="c-1")
    assert (customer.orders_count, customer.total_spent) == (1, 5000)


def test_concurrent_first_puts_of_one_cart_make_one_cart():
    services.upsert_customer(source_id="c-1", data={})
    calls = [
        (
            lambda n=n: services.put_cart(
                source_id="cart-1",
                customer_source_id="c-1",
                currency="USD",
                lines=[LineInput(product_id=f"sku-{n % 3}", quantity=n + 1, unit_price=100)],
            )
        )
        for n in range(20)
    ]
    errors = run_concurrently(calls)
    assert errors == []
    cart = Cart.objects.get(source_id="cart-1")
    # Whichever put came last wins whole: its one line, and the totals that match it.
    line = cart.items.get()
    assert (cart.items_count, cart.items_amount) == (line.quantity, line.amount)
