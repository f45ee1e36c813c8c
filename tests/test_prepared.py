"""Prepared statements on PostgreSQL (``config.prepared``) give the same answers as Django's
cursor, and the checkout really uses them outside a transaction."""

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings

from config import prepared
from customers.models import Order
from segments.rules import check_customer, is_member
from tests.segments.test_rules_property import NOW, create, customer, trees

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SPECS = [
    customer(country="IE", city="Cork", consents={"email": True}, total_spent=50_000),
    customer(country="DE", metadata={"tier": "gold", "age": 10}, last_order_days=29),
    customer(timezone="Pacific/Auckland", orders=[(["kids"], Order.Status.PAID, 29)]),
    customer(events=[("viewed", {"category": "kids"}, 1)] * 2, created_days=30),
]
_made: list[int] = []


def prepared_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        return cursor.fetchone()[0]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(trees)
def test_a_prepared_check_answers_as_the_segment_query(tree):
    if not _made:
        _made[:] = create(SPECS)
    assert not connection.in_atomic_block
    for pk in _made:
        expected = is_member(tree, pk, now=NOW)
        assert check_customer([tree, tree], pk, now=NOW) == [expected, expected], tree
    # Every statement went the prepared way (none fell back to Django's cursor).
    assert not prepared._refused, prepared._refused


def test_the_checkout_reads_go_through_prepared_statements():
    (pk,) = create([customer(country="IE")])
    tree = {"field": "country", "op": "eq", "value": "IE"}
    before = prepared_statements()
    assert check_customer([tree], pk, now=NOW) == [True]
    assert prepared_statements() == before + 1


def test_a_validation_outside_a_transaction_reads_its_rows_prepared():
    from promotions.checkout import Checkout, CustomerInput, quote_checkout
    from promotions.discounts import Item
    from tests.factories import CustomerFactory
    from tests.promotions.factories import RuleFactory, coupon, promotion

    CustomerFactory(source_id="c-1", country="IE")
    voucher = coupon("SAVE10", max_per_customer=3)
    RuleFactory(campaign=voucher.campaign, rules={"field": "country", "op": "eq", "value": "IE"})
    promotion(discount={"type": "amount", "amount": 100})
    checkout = Checkout(
        items=(Item("p-1", "shoes", 2, 2500),),
        currency="USD",
        customer=CustomerInput("c-1"),
        codes=("save10",),
    )
    before = prepared_statements()
    quote = quote_checkout(checkout)
    assert quote.valid
    assert quote.totals["discount_amount"] == 100 + 490  # 100 off, then 10% of 4,900
    # customer, usage, vouchers, promotions, and the customer conditions
    assert prepared_statements() == before + 5
    assert not prepared._refused


def test_prepared_statements_can_be_turned_off(settings):
    settings.OFFERWISE_PREPARED_STATEMENTS = False
    (pk,) = create([customer(country="IE")])
    before = prepared_statements()
    tree = {"field": "country", "op": "eq", "value": "IE"}
    assert check_customer([tree], pk, now=NOW) == [True]
    assert prepared_statements() == before
