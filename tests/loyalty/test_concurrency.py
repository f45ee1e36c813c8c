"""Concurrent reward redemptions never overspend points or stock (PostgreSQL, real threads
and connections; CI's second pass)."""

import pytest

from loyalty.errors import InsufficientPoints, OutOfStock
from loyalty.models import Member, PointsLot, RewardRedemption
from loyalty.services import rewards
from tests.customers.test_concurrency import run_concurrently

from .factories import ProgramFactory, RewardFactory, give, member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ATTEMPTS = 40


def test_concurrent_redemptions_never_overspend_the_balance():
    program = ProgramFactory()
    m = member(program)
    for _ in range(4):
        give(m, 250)  # four lots: spending crosses them
    reward = RewardFactory(program=program, points_cost=100)
    refused = []

    def redeem():
        try:
            rewards.redeem_reward(member=m, reward=reward)
        except InsufficientPoints:
            refused.append(1)

    assert run_concurrently([redeem] * ATTEMPTS) == []
    m.refresh_from_db()
    assert RewardRedemption.objects.count() == 10
    assert len(refused) == ATTEMPTS - 10
    assert m.points_active == 0
    assert sum(PointsLot.objects.values_list("remaining", flat=True)) == 0
    assert sum(m.entries.values_list("points", flat=True)) == 0


def test_concurrent_redemptions_never_overspend_the_stock():
    program = ProgramFactory()
    members = []
    for _ in range(ATTEMPTS):
        m = member(program)
        give(m, 100)
        members.append(m)
    reward = RewardFactory(program=program, points_cost=100, stock=5)
    refused = []

    def redeem(m):
        def call():
            try:
                rewards.redeem_reward(member=m, reward=reward)
            except OutOfStock:
                refused.append(1)

        return call

    assert run_concurrently([redeem(m) for m in members]) == []
    reward.refresh_from_db()
    assert reward.stock == 0
    assert RewardRedemption.objects.count() == 5
    assert len(refused) == ATTEMPTS - 5
    # The refused members kept their points: nothing of a failed redemption stays.
    assert Member.objects.filter(points_active=100).count() == ATTEMPTS - 5
