"""The points ledger: pending then active, reversals, FIFO spending and expiry, adjustments."""

import datetime as dt

import pytest

from loyalty.errors import InsufficientPoints, InvalidAdjustment
from loyalty.models import Member, PointsEntry, PointsLot, Program
from loyalty.services import earning, ledger
from tests.factories import CustomerFactory

from .factories import T0, ProgramFactory, RuleFactory, give, member, pay

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def balances(m: Member) -> tuple[int, int]:
    m.refresh_from_db()
    return m.points_active, m.points_pending


@pytest.fixture
def program():
    made = ProgramFactory(pending_days=14)
    RuleFactory(program=made)
    return made


def paid(source_id="o-1", *, amount=5000, customer="c-1"):
    if not CustomerFactory._meta.model.objects.filter(source_id=customer).exists():
        CustomerFactory(source_id=customer)
    order = pay(source_id, customer, [("sku-1", "shoes", 1, amount)])
    type(order).objects.filter(pk=order.pk).update(paid_at=T0)
    order.refresh_from_db()
    return order


def test_order_points_are_pending_during_the_pending_period(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    m = Member.objects.get()
    assert balances(m) == (0, 50)


def test_pending_points_become_active_after_the_period(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    assert ledger.activate_due_points(now=T0 + 13 * DAY) == 0
    assert ledger.activate_due_points(now=T0 + 14 * DAY) == 1
    m = Member.objects.get()
    assert balances(m) == (50, 0)
    assert list(m.entries.order_by("pk").values_list("kind", "balance", "points")) == [
        ("earn", "pending", 50),
        ("activate", "active", 50),
    ]


def test_without_pending_period_points_are_active_at_once():
    program = ProgramFactory(pending_days=0)
    RuleFactory(program=program)
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    assert balances(Member.objects.get()) == (50, 0)


def test_an_order_earns_once_however_often_it_is_processed(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    earning.earn_for_order(order_id=order.pk, now=T0 + DAY)
    assert balances(Member.objects.get()) == (0, 50)


def test_refund_before_activation_cancels_the_pending_points(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    pay("o-1", "c-1", [("sku-1", "shoes", 1, 5000)], status="refunded")
    ledger.reverse_order_points(order=order, now=T0 + DAY)
    ledger.activate_due_points(now=T0 + 30 * DAY)
    m = Member.objects.get()
    assert balances(m) == (0, 0)
    assert m.entries.filter(kind="reversal", balance="pending", points=-50).exists()


def test_refund_after_activation_takes_the_points_back(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    ledger.activate_due_points(now=T0 + 14 * DAY)
    give(Member.objects.get(), 20, now=T0 + 15 * DAY)
    ledger.reverse_order_points(order=order, now=T0 + 20 * DAY)
    m = Member.objects.get()
    assert balances(m) == (20, 0)
    assert m.entries.get(kind="reversal").points == -50


def test_refund_after_the_points_were_spent_never_goes_below_zero(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    ledger.activate_due_points(now=T0 + 14 * DAY)
    m = Member.objects.get()
    ledger.adjust(member=m, points=-40, reason="spent elsewhere", now=T0 + 15 * DAY)
    ledger.reverse_order_points(order=order, now=T0 + 16 * DAY)
    assert balances(m) == (0, 0)
    assert m.entries.get(kind="reversal").points == -10


def test_a_second_refund_reverses_nothing_more(program):
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    assert ledger.reverse_order_points(order=order, now=T0) == 50
    assert ledger.reverse_order_points(order=order, now=T0) == 0


def test_spending_takes_the_oldest_points_first():
    program = ProgramFactory()
    m = member(program)
    give(m, 30, now=T0)
    give(m, 50, now=T0 + DAY)
    with_entry = ledger.spend(member=m, points=40, now=T0 + 2 * DAY)
    assert with_entry.points == -40
    lots = list(PointsLot.objects.order_by("earned_at").values_list("remaining", "status"))
    assert lots == [(0, "used"), (40, "active")]


def test_spending_more_than_the_active_balance_is_refused():
    m = member(ProgramFactory())
    give(m, 30)
    with pytest.raises(InsufficientPoints):
        ledger.spend(member=m, points=31)
    assert balances(m) == (30, 0)


def test_rolling_expiry_expires_the_oldest_points_first_with_time_travel():
    program = ProgramFactory(expiry=Program.Expiry.ROLLING, expiry_months=6)
    m = member(program)
    give(m, 100, now=T0)  # expires 2026-09-02
    give(m, 70, now=T0 + 60 * DAY)
    ledger.spend(member=m, points=30, now=T0 + 61 * DAY)  # from the first lot
    assert ledger.expire_due_points(now=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)) == 0
    assert ledger.expire_due_points(now=dt.datetime(2026, 9, 3, tzinfo=dt.UTC)) == 70
    assert balances(m) == (70, 0)
    assert m.entries.get(kind="expire").points == -70


def test_expiry_runs_once():
    program = ProgramFactory(expiry=Program.Expiry.ROLLING, expiry_months=1)
    m = member(program)
    give(m, 10, now=T0)
    later = T0 + 40 * DAY
    assert ledger.expire_due_points(now=later) == 10
    assert ledger.expire_due_points(now=later) == 0


def test_fixed_period_expiry_is_the_end_of_the_period_earned_in():
    program = ProgramFactory(expiry=Program.Expiry.FIXED, expiry_months=12)
    assert ledger.expiry_for(program, T0) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    program.expiry_months = 3
    assert ledger.expiry_for(program, T0) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_points_that_never_expire_have_no_expiry():
    assert ledger.expiry_for(ProgramFactory(), T0) is None


def test_manual_adjustment_records_the_reason_and_who():
    m = member(ProgramFactory())
    entry = ledger.adjust(member=m, points=25, reason="goodwill", by="alice", now=T0)
    assert (entry.kind, entry.points, entry.reason, entry.created_by) == (
        "adjust",
        25,
        "goodwill",
        "alice",
    )
    assert balances(m) == (25, 0)


def test_a_deduction_is_an_adjustment_too():
    m = member(ProgramFactory())
    give(m, 25)
    entry = ledger.adjust(member=m, points=-5, reason="correction", by="bob")
    assert (entry.kind, entry.points, entry.created_by) == ("adjust", -5, "bob")
    assert balances(m) == (20, 0)


@pytest.mark.parametrize("points,reason", [(0, "x"), (5, ""), (5, "   "), (True, "x")])
def test_an_adjustment_needs_points_and_a_reason(points, reason):
    m = member(ProgramFactory())
    with pytest.raises(InvalidAdjustment):
        ledger.adjust(member=m, points=points, reason=reason)


def test_rounding_follows_the_programme():
    program = ProgramFactory(rounding=Program.Rounding.DOWN)
    from decimal import Decimal

    assert ledger.round_points(program, Decimal("2.5")) == 2
    program.rounding = Program.Rounding.HALF_UP
    assert ledger.round_points(program, Decimal("2.5")) == 3
    program.rounding = Program.Rounding.UP
    assert ledger.round_points(program, Decimal("2.1")) == 3


def test_entries_add_up_to_the_balances():
    program = ProgramFactory(pending_days=14, expiry=Program.Expiry.ROLLING, expiry_months=1)
    RuleFactory(program=program)
    order = paid()
    earning.earn_for_order(order_id=order.pk, now=T0)
    m = Member.objects.get()
    give(m, 40, now=T0 + 10 * DAY)
    ledger.spend(member=m, points=15, now=T0 + 11 * DAY)  # the order's points still pending
    ledger.activate_due_points(now=T0 + 14 * DAY)
    ledger.expire_due_points(now=T0 + 33 * DAY)  # the order's 50 expire, not the 25 left
    active, pending = balances(m)
    entries = PointsEntry.objects.filter(member=m)
    pending_sum = sum(e.points for e in entries if e.balance == "pending") - sum(
        e.points for e in entries if e.kind == "activate"
    )
    active_sum = sum(e.points for e in entries if e.balance == "active")
    assert (active, pending) == (active_sum, pending_sum) == (25, 0)


def test_entries_cannot_be_edited():
    m = member(ProgramFactory())
    entry = ledger.adjust(member=m, points=5, reason="x")
    entry.points = 500
    with pytest.raises(ValueError, match="immutable"):
        entry.save()
