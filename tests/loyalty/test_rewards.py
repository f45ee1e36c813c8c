"""The reward catalog: every reward type, stock, availability per tier and segment."""

import datetime as dt

import pytest

from loyalty import selectors
from loyalty.errors import InsufficientPoints, OutOfStock, RewardUnavailable
from loyalty.models import (
    Charity,
    Fulfilment,
    Member,
    Reward,
    Sweepstake,
    SweepstakeEntry,
)
from loyalty.services import rewards
from promotions.models import Campaign, Voucher
from promotions.publications import NoCodesLeft
from segments.models import Segment, SegmentMember
from tests.promotions.factories import CampaignFactory, DiscountFactory, VoucherFactory

from .factories import T0, ProgramFactory, RewardFactory, give, member, three_tiers

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def program():
    return ProgramFactory()


@pytest.fixture
def rich(program):
    m = member(program)
    give(m, 1000)
    return m


def active(m: Member) -> int:
    m.refresh_from_db()
    return m.points_active


def test_voucher_reward_publishes_a_code_to_the_member(program, rich):
    campaign = CampaignFactory(
        kind=Campaign.Kind.REWARD, codes_on_demand=True, code_pattern="R-####"
    )
    DiscountFactory(campaign=campaign)
    reward = RewardFactory(program=program, kind=Reward.Kind.VOUCHER, campaign=campaign)
    redemption = rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert redemption.voucher.customer == rich.customer
    assert redemption.voucher.code.startswith("R-")
    assert active(rich) == 900


def test_voucher_reward_with_no_codes_left_takes_no_points(program, rich):
    campaign = CampaignFactory(kind=Campaign.Kind.REWARD)
    DiscountFactory(campaign=campaign)
    VoucherFactory(campaign=campaign, customer=rich.customer)  # owned: not in the pool
    VoucherFactory(campaign=campaign, customer=rich.customer)
    reward = RewardFactory(program=program, kind=Reward.Kind.VOUCHER, campaign=campaign)
    with pytest.raises(NoCodesLeft):
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert active(rich) == 1000
    assert not reward.redemptions.exists()


def gift_campaign():
    campaign = CampaignFactory(kind=Campaign.Kind.GIFT_CARDS)
    DiscountFactory(campaign=campaign, type="gift_card", percent=None)
    return campaign


def test_gift_card_reward_gives_a_new_card_with_the_credit(program, rich):
    reward = RewardFactory(
        program=program, kind=Reward.Kind.GIFT_CARD, campaign=gift_campaign(), amount=2500
    )
    redemption = rewards.redeem_reward(member=rich, reward=reward, now=T0)
    card = redemption.voucher
    assert (card.customer, card.gift_balance) == (rich.customer, 2500)


def test_gift_card_reward_tops_up_the_members_card(program, rich):
    campaign = gift_campaign()
    card = VoucherFactory(
        campaign=campaign, customer=rich.customer, gift_amount=1000, gift_balance=400
    )
    reward = RewardFactory(
        program=program, kind=Reward.Kind.GIFT_CARD, campaign=campaign, amount=2500
    )
    rewards.redeem_reward(member=rich, reward=reward, now=T0)
    card.refresh_from_db()
    assert card.gift_balance == 2900
    assert card.gift_ledger.get().amount == 2500


def test_physical_reward_creates_a_fulfilment(program, rich):
    reward = RewardFactory(program=program, kind=Reward.Kind.PRODUCT, stock=3)
    redemption = rewards.redeem_reward(member=rich, reward=reward, address="1 Main St", now=T0)
    assert redemption.fulfilment.status == Fulfilment.Status.REQUESTED
    assert redemption.fulfilment.address == "1 Main St"
    reward.refresh_from_db()
    assert reward.stock == 2


def test_charity_donations_are_totalled_per_charity(program, rich):
    charity = Charity.objects.create(name="Trees")
    reward = RewardFactory(program=program, kind=Reward.Kind.CHARITY, charity=charity, amount=500)
    rewards.redeem_reward(member=rich, reward=reward, now=T0)
    rewards.redeem_reward(member=rich, reward=reward, now=T0)
    totals = list(selectors.charity_totals(program))
    assert [(c.name, c.donations_count, c.donated) for c in totals] == [("Trees", 2, 1000)]


def test_sweepstakes_reward_adds_an_entry(program, rich):
    draw = Sweepstake.objects.create(name="Trip", prize="Paris", draw_at=T0 + DAY)
    reward = RewardFactory(program=program, kind=Reward.Kind.SWEEPSTAKES, sweepstake=draw)
    rewards.redeem_reward(member=rich, reward=reward, now=T0)
    rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert SweepstakeEntry.objects.filter(sweepstake=draw, member=rich).count() == 2


def test_sweepstakes_closes_at_the_draw(program, rich):
    draw = Sweepstake.objects.create(name="Trip", prize="Paris", draw_at=T0)
    reward = RewardFactory(program=program, kind=Reward.Kind.SWEEPSTAKES, sweepstake=draw)
    with pytest.raises(RewardUnavailable) as refused:
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert refused.value.details["reason"] == "sweepstake_closed"


def test_not_enough_points_is_refused_and_takes_no_stock(program):
    poor = member(program)
    give(poor, 99)
    reward = RewardFactory(program=program, stock=5)
    with pytest.raises(InsufficientPoints):
        rewards.redeem_reward(member=poor, reward=reward, now=T0)
    reward.refresh_from_db()
    assert (reward.stock, active(poor)) == (5, 99)


def test_out_of_stock_is_refused_and_takes_no_points(program, rich):
    reward = RewardFactory(program=program, stock=0)
    with pytest.raises(OutOfStock):
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert active(rich) == 1000


def test_reward_for_other_tiers_is_refused(program, rich):
    basic, _advanced, vip = three_tiers(program)
    Member.objects.filter(pk=rich.pk).update(tier=basic)
    reward = RewardFactory(program=program)
    reward.tiers.set([vip])
    with pytest.raises(RewardUnavailable) as refused:
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert refused.value.details["reason"] == "tier_not_eligible"


def test_reward_for_a_segment_needs_membership(program, rich):
    segment = Segment.objects.create(name="Fans", kind=Segment.Kind.STATIC)
    reward = RewardFactory(program=program)
    reward.segments.set([segment])
    with pytest.raises(RewardUnavailable):
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    SegmentMember.objects.create(segment=segment, customer=rich.customer)
    assert rewards.redeem_reward(member=rich, reward=reward, now=T0).points == 100


@pytest.mark.parametrize(
    "window,reason", [({"starts_at": T0 + DAY}, "not_started"), ({"ends_at": T0}, "ended")]
)
def test_reward_outside_its_window_is_refused(program, rich, window, reason):
    reward = RewardFactory(program=program, **window)
    with pytest.raises(RewardUnavailable) as refused:
        rewards.redeem_reward(member=rich, reward=reward, now=T0)
    assert refused.value.details["reason"] == reason


def test_catalog_lists_what_the_member_can_take(program, rich):
    basic, _advanced, vip = three_tiers(program)
    Member.objects.filter(pk=rich.pk).update(tier=basic)
    rich.refresh_from_db()
    cheap = RewardFactory(program=program, points_cost=10)
    dear = RewardFactory(program=program, points_cost=5000)
    vip_only = RewardFactory(program=program)
    vip_only.tiers.set([vip])
    RewardFactory(program=program, active=False)
    RewardFactory(program=program, stock=0)
    items = selectors.catalog_for(rich, now=T0)
    assert [(i.reward, i.affordable) for i in items] == [(cheap, True), (dear, False)]


def test_redeeming_spends_the_points_in_the_ledger(program, rich):
    reward = RewardFactory(program=program, points_cost=250)
    redemption = rewards.redeem_reward(member=rich, reward=reward, now=T0)
    entry = rich.entries.get(kind="redeem")
    assert (entry.points, entry.reward_redemption) == (-250, redemption)
    assert Voucher.objects.count() == 0
