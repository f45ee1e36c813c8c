"""Tiers: up at once when a member qualifies, re-evaluated (and maybe down) when the period
ends."""

import datetime as dt

import pytest

from customers.models import Order
from loyalty.models import Member, Program, TierChange
from loyalty.services import earning, ledger, tiers
from tests.factories import CustomerFactory

from .factories import T0, ProgramFactory, RuleFactory, member, pay, three_tiers

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def program():
    made = ProgramFactory(qualifying_months=12)
    three_tiers(made)
    return made


def earn(m: Member, points: int, now=T0):
    ledger.earn(member=m, points=points, now=now)
    m.refresh_from_db()
    return m


def test_a_new_member_starts_in_the_entry_tier(program):
    assert member(program).tier.name == "Basic"


def test_upgrade_happens_at_once(program):
    m = earn(member(program), 500)
    assert m.tier.name == "Advanced"
    assert TierChange.objects.get().reason == "upgrade"


def test_upgrade_can_skip_a_tier(program):
    assert earn(member(program), 2500).tier.name == "VIP"


def test_pending_points_count_towards_the_tier(program):
    m = member(program)
    ledger.earn(member=m, points=600, pending_until=T0 + 14 * DAY, now=T0)
    m.refresh_from_db()
    assert m.tier.name == "Advanced"


def test_spending_points_does_not_lower_the_tier(program):
    m = earn(member(program), 600)
    ledger.spend(member=m, points=600, now=T0)
    m.refresh_from_db()
    assert m.tier.name == "Advanced"


def test_no_downgrade_before_the_review(program):
    m = earn(member(program), 600)
    assert tiers.review_tiers(now=T0 + 300 * DAY)["reviewed"] == 0
    m.refresh_from_db()
    assert m.tier.name == "Advanced"


def test_downgrade_at_the_review_when_the_period_earned_too_little(program):
    m = earn(member(program), 600)
    earn(m, 100, now=T0 + 200 * DAY)
    counts = tiers.review_tiers(now=T0 + 366 * DAY)
    m.refresh_from_db()
    assert m.tier.name == "Basic"
    assert counts == {"reviewed": 1, "down": 1, "up": 0}
    assert m.tier_review_at == dt.datetime(2028, 3, 3, 12, 0, tzinfo=dt.UTC)


def test_tier_kept_at_the_review_when_the_period_earned_enough(program):
    m = earn(member(program), 600)
    earn(m, 500, now=T0 + 300 * DAY)
    tiers.review_tiers(now=T0 + 366 * DAY)
    m.refresh_from_db()
    assert m.tier.name == "Advanced"
    assert TierChange.objects.count() == 1


def test_reversed_points_do_not_count(program):
    RuleFactory(program=program)
    CustomerFactory(source_id="c-1")
    order = pay("o-1", "c-1", [("sku-1", "shoes", 1, 60000)])
    Order.objects.filter(pk=order.pk).update(paid_at=T0)
    earning.earn_for_order(order_id=order.pk, now=T0)
    m = Member.objects.get()
    assert m.tier.name == "Advanced"
    ledger.reverse_order_points(order=order, now=T0 + DAY)
    tiers.review_tiers(now=T0 + 366 * DAY)
    m.refresh_from_db()
    assert m.tier.name == "Basic"


def test_spend_based_tiers_upgrade_on_payment():
    program = ProgramFactory(tier_basis=Program.TierBasis.SPEND)
    _basic, advanced, _vip = three_tiers(program)
    advanced.threshold = 50000
    advanced.save()
    CustomerFactory(source_id="c-1")
    order = pay("o-1", "c-1", [("sku-1", "shoes", 1, 60000)])
    earning.earn_for_order(order_id=order.pk)
    assert Member.objects.get().tier.name == "Advanced"


def test_progress_to_the_next_tier(program):
    from loyalty.selectors import tier_progress

    m = earn(member(program), 200)
    progress = tier_progress(m, now=T0)
    assert (progress["next_tier"].name, progress["missing"], progress["progress"]) == (
        "Advanced",
        300,
        0.4,
    )
