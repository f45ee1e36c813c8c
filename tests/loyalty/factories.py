"""Factories and helpers of the loyalty tests."""

import datetime as dt
from decimal import Decimal

import factory

from customers import services as customer_services
from customers.services import LineInput
from loyalty.models import EarningRule, Member, Program, Reward, Tier
from loyalty.services import ledger
from tests.factories import CustomerFactory

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # a Monday


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Programme {n}")
    points_name = "Stars"
    pending_days = 0
    currency = "USD"


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    threshold = 0
    multiplier = Decimal("1")


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarningRule

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = EarningRule.Kind.ORDER
    points_per_unit = Decimal("1")


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    program = factory.SubFactory(ProgramFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = Reward.Kind.PRODUCT
    points_cost = 100


def three_tiers(program: Program) -> tuple[Tier, Tier, Tier]:
    return (
        TierFactory(program=program, name="Basic", threshold=0),
        TierFactory(program=program, name="Advanced", threshold=500, multiplier=Decimal("1.5")),
        TierFactory(program=program, name="VIP", threshold=2000, multiplier=Decimal("2")),
    )


def member(program: Program, customer=None, *, now=T0, **customer_fields) -> Member:
    customer = customer or CustomerFactory(**customer_fields)
    return ledger.ensure_member(program=program, customer=customer, now=now)


def give(m: Member, points: int, *, now=T0) -> None:
    ledger.adjust(member=m, points=points, reason="test", now=now)


def pay(source_id: str, customer: str, lines: list[tuple], *, status="paid", **kwargs):
    """Push an order through the customers service (lines: product, category, qty, price)."""
    order, _ = customer_services.upsert_order(
        source_id=source_id,
        customer_source_id=customer,
        status=status,
        currency="USD",
        lines=[
            LineInput(product_id=p, category=c, quantity=q, unit_price=price)
            for p, c, q, price in lines
        ],
        **kwargs,
    )
    return order
