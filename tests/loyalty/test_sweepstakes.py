"""Sweepstakes draws: fair, reproducible from the recorded seed, audited."""

import datetime as dt

import pytest

from loyalty.errors import SweepstakeNotDrawable
from loyalty.models import Reward, Sweepstake, SweepstakeEntry
from loyalty.services import rewards, sweepstakes

from .factories import T0, ProgramFactory, RewardFactory, give, member

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def draw_with_entries():
    program = ProgramFactory()
    draw = Sweepstake.objects.create(name="Trip", prize="Paris", draw_at=T0 + DAY, winners_count=2)
    reward = RewardFactory(
        program=program, kind=Reward.Kind.SWEEPSTAKES, sweepstake=draw, points_cost=10
    )
    for n in range(5):
        m = member(program)
        give(m, 100)
        for _ in range(n + 1):
            rewards.redeem_reward(member=m, reward=reward, now=T0)
    return draw


def test_draw_picks_distinct_members_and_records_the_audit_trail(draw_with_entries):
    record = sweepstakes.draw_sweepstake(sweepstake=draw_with_entries, now=T0 + DAY)
    winners = SweepstakeEntry.objects.filter(won=True)
    assert winners.count() == 2
    assert len({w.member_id for w in winners}) == 2
    assert sorted(record.winner_entry_ids) == sorted(w.pk for w in winners)
    assert len(record.entry_ids) == 15 and len(record.seed) == 32
    assert sweepstakes.verify_draw(record)


def test_the_same_seed_gives_the_same_winners():
    entries = [(n, n % 7) for n in range(1, 100)]
    first = sweepstakes.pick_winners(entries, seed="abc", winners=3)
    assert first == sweepstakes.pick_winners(entries, seed="abc", winners=3)
    assert first != sweepstakes.pick_winners(entries, seed="abd", winners=3)


def test_tampered_entries_fail_verification(draw_with_entries):
    record = sweepstakes.draw_sweepstake(sweepstake=draw_with_entries, now=T0 + DAY)
    record.winner_entry_ids = list(reversed(record.entry_ids))[:2]
    assert not sweepstakes.verify_draw(record)


def test_every_entry_has_the_same_chance():
    # 4 members with 1, 1, 1 and 7 entries, one winner: over many seeds the member with 7
    # entries wins about 70% of draws.
    entries = [(1, 1), (2, 2), (3, 3), *((n, 4) for n in range(4, 11))]
    wins = sum(
        sweepstakes.pick_winners(entries, seed=f"s{n}", winners=1)[1] in ([n] for n in range(4, 11))
        for n in range(2000)
    )
    assert 0.66 < wins / 2000 < 0.74


def test_draw_before_its_time_is_refused(draw_with_entries):
    with pytest.raises(SweepstakeNotDrawable):
        sweepstakes.draw_sweepstake(sweepstake=draw_with_entries, now=T0)


def test_a_drawn_sweepstake_is_not_drawn_again(draw_with_entries):
    sweepstakes.draw_sweepstake(sweepstake=draw_with_entries, now=T0 + DAY)
    assert sweepstakes.draw_due_sweepstakes(now=T0 + 2 * DAY) == []
