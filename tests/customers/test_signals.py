"""Domain events fire once, after the transaction that caused them commits."""

import pytest
from django.db import transaction

from customers import services, signals
from customers.services import LineInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def receiver(sender, signal, **kwargs):
        calls.append(kwargs)

    signals.order_status_changed.connect(receiver)
    yield calls
    signals.order_status_changed.disconnect(receiver)


def push(status: str):
    return services.upsert_order(
        source_id="o-1",
        customer_source_id="c-1",
        status=status,
        currency="USD",
        lines=[LineInput(product_id="sku-1", quantity=1, unit_price=100)],
    )


def test_status_change_is_announced_after_commit(received, django_capture_on_commit_callbacks):
    services.upsert_customer(source_id="c-1", data={})
    push("created")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order, _ = push("paid")
    assert received == []  # nothing is announced before the commit
    for callback in callbacks:
        callback()
    assert received == [
        {
            "order_id": order.pk,
            "customer_id": order.customer_id,
            "old_status": "created",
            "new_status": "paid",
        }
    ]


def test_repeated_status_is_not_announced(received, django_capture_on_commit_callbacks):
    services.upsert_customer(source_id="c-1", data={})
    push("paid")
    with django_capture_on_commit_callbacks(execute=True):
        push("paid")
    assert [c["new_status"] for c in received] == []


def test_rolled_back_change_is_not_announced(received, django_capture_on_commit_callbacks):
    services.upsert_customer(source_id="c-1", data={})
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        push("paid")
        raise RuntimeError("checkout crashed")
    assert received == []
