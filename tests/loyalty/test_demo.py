"""The demo programme: three tiers, rules, a catalog with each reward type, members with
history; loading twice changes nothing."""

import datetime as dt

import pytest

from customers.demo import build_demo_shop
from loyalty.demo import MEMBERS, PROGRAM, create_demo_loyalty
from loyalty.models import (
    EarningRule,
    Member,
    PointsEntry,
    Program,
    Referral,
    Reward,
    RewardRedemption,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            build_demo_shop(seed=7, customers=200, now=NOW)
            yield Program.objects.get(name=PROGRAM)
            transaction.set_rollback(True)


def test_three_tiers_and_every_kind_of_rule(demo):
    assert list(demo.tiers.values_list("name", flat=True)) == ["Basic", "Silver", "Gold"]
    assert set(demo.rules.values_list("kind", flat=True)) == set(EarningRule.Kind.values)


def test_a_reward_of_each_type(demo):
    assert set(demo.rewards.values_list("kind", flat=True)) == set(Reward.Kind.values)


def test_members_have_history(demo):
    assert Member.objects.filter(program=demo).count() == MEMBERS
    kinds = set(PointsEntry.objects.values_list("kind", flat=True))
    assert {"earn", "activate", "redeem", "expire"} <= kinds
    assert RewardRedemption.objects.exists()
    assert Referral.objects.exists()


def test_balances_add_up(demo):
    for member in Member.objects.filter(program=demo):
        entries = list(member.entries.values_list("kind", "balance", "points"))
        active = sum(p for _k, b, p in entries if b == "active")
        assert member.points_active == active >= 0


def test_loading_again_changes_nothing(demo):
    before = PointsEntry.objects.count()
    line = create_demo_loyalty(now=NOW)
    assert "0 new members" in line
    assert PointsEntry.objects.count() == before
