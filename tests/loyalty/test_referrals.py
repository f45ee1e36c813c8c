"""Referrals: the friend's first paid order with a member's code; the referrer's reward after
the pending period; limits per tier; self-referral and repeats refused."""

import datetime as dt

import pytest

from customers.models import Order
from loyalty.models import EarningRule, Member, Referral, ReferralProgram, ReferralTierLimit
from loyalty.services import earning, referrals
from loyalty.services.ledger import ensure_member
from promotions.models import Campaign, Voucher
from tests.factories import CustomerFactory
from tests.promotions.factories import CampaignFactory, DiscountFactory

from .factories import T0, ProgramFactory, RuleFactory, pay, three_tiers

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def program():
    made = ProgramFactory(pending_days=14)
    basic, advanced, vip = three_tiers(made)
    terms = ReferralProgram.objects.create(program=made, max_referrals=1)
    ReferralTierLimit.objects.create(referral_program=terms, tier=basic, max_referrals=3)
    ReferralTierLimit.objects.create(referral_program=terms, tier=advanced, max_referrals=5)
    ReferralTierLimit.objects.create(referral_program=terms, tier=vip, max_referrals=None)
    rule = RuleFactory(program=made, kind=EarningRule.Kind.REFERRAL, points=10)
    from loyalty.models import RuleTierValue

    RuleTierValue.objects.create(rule=rule, tier=advanced, points=15)
    RuleTierValue.objects.create(rule=rule, tier=vip, points=20)
    return made


@pytest.fixture
def referrer(program):
    return ensure_member(program=program, customer=CustomerFactory(source_id="ref"), now=T0)


def friend_orders(code, friend="f-1", source_id=None, *, when=T0):
    if not CustomerFactory._meta.model.objects.filter(source_id=friend).exists():
        CustomerFactory(source_id=friend)
    order = pay(
        source_id or f"o-{friend}",
        friend,
        [("sku-1", "shoes", 1, 5000)],
        metadata={"referral_code": code},
    )
    Order.objects.filter(pk=order.pk).update(paid_at=when)
    earning.earn_for_order(order_id=order.pk, now=when)
    return order


def test_first_paid_order_with_a_code_makes_a_pending_referral(referrer):
    friend_orders(referrer.referral_code.lower())
    referral = Referral.objects.get()
    assert (referral.referrer, referral.status) == (referrer, "pending")
    assert referral.completes_at == T0 + 14 * DAY


def test_referrer_is_rewarded_after_the_pending_period(referrer):
    friend_orders(referrer.referral_code)
    assert referrals.complete_due_referrals(now=T0 + 13 * DAY) == 0
    assert referrals.complete_due_referrals(now=T0 + 14 * DAY) == 1
    referrer.refresh_from_db()
    assert referrer.points_active == 10
    assert Referral.objects.get().status == "completed"


def test_reward_follows_the_referrers_tier(program, referrer):
    Member.objects.filter(pk=referrer.pk).update(tier=program.tiers.get(name="VIP"))
    friend_orders(referrer.referral_code)
    referrals.complete_due_referrals(now=T0 + 14 * DAY)
    referrer.refresh_from_db()
    assert referrer.points_active == 40  # 20 for VIPs, times their 2x multiplier


def test_refunded_order_gives_the_referrer_nothing(referrer):
    order = friend_orders(referrer.referral_code)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REFUNDED)
    referrals.cancel_order_referrals(order=order)
    referrals.complete_due_referrals(now=T0 + 14 * DAY)
    referrer.refresh_from_db()
    assert (referrer.points_active, Referral.objects.get().status) == (0, "cancelled")


def test_self_referral_is_refused(referrer):
    order = pay(
        "o-self",
        "ref",
        [("sku-1", "shoes", 1, 5000)],
        metadata={"referral_code": referrer.referral_code},
    )
    earning.earn_for_order(order_id=order.pk, now=T0)
    assert Referral.objects.get().reason == "self_referral"


def test_a_friend_is_referred_once(program, referrer):
    other = ensure_member(program=program, customer=CustomerFactory(source_id="ref2"), now=T0)
    friend_orders(referrer.referral_code, source_id="o-1")
    friend_orders(other.referral_code, source_id="o-2")
    assert list(Referral.objects.order_by("pk").values_list("status", "reason")) == [
        ("pending", ""),
        ("refused", "already_referred"),
    ]


def test_a_returning_customer_cannot_be_referred(referrer):
    CustomerFactory(source_id="f-1")
    old = pay("o-old", "f-1", [("sku-1", "shoes", 1, 5000)])
    Order.objects.filter(pk=old.pk).update(paid_at=T0 - 30 * DAY)
    friend_orders(referrer.referral_code)
    assert Referral.objects.get().reason == "not_first_order"


def test_referral_already_recorded_for_the_friend_is_refused_on_another_code(program, referrer):
    other = ensure_member(program=program, customer=CustomerFactory(source_id="ref2"), now=T0)
    friend = CustomerFactory(source_id="f-1")
    Referral.objects.create(referrer=other, referee=friend, code="X", status="completed")
    friend_orders(referrer.referral_code)
    assert Referral.objects.filter(referrer=referrer).get().reason == "already_referred"


@pytest.mark.parametrize("tier,limit", [("Basic", 3), ("Advanced", 5)])
def test_referral_limit_per_tier(program, referrer, tier, limit):
    Member.objects.filter(pk=referrer.pk).update(tier=program.tiers.get(name=tier))
    for n in range(limit + 1):
        friend_orders(referrer.referral_code, friend=f"f-{n}")
    statuses = list(Referral.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["pending"] * limit + ["refused"]
    assert Referral.objects.filter(status="refused").get().reason == "limit_reached"


def test_vip_referrals_are_unlimited(program, referrer):
    Member.objects.filter(pk=referrer.pk).update(tier=program.tiers.get(name="VIP"))
    for n in range(7):
        friend_orders(referrer.referral_code, friend=f"f-{n}")
    assert Referral.objects.filter(status="pending").count() == 7


def test_referral_code_is_a_voucher_of_the_referral_campaign(program):
    campaign = CampaignFactory(kind=Campaign.Kind.REFERRAL, max_per_customer=1)
    DiscountFactory(campaign=campaign, type="amount", amount=1000, percent=None)
    ReferralProgram.objects.filter(program=program).update(campaign=campaign)
    m = ensure_member(program=program, customer=CustomerFactory(), now=T0)
    voucher = Voucher.objects.get(campaign=campaign)
    assert (voucher.code, voucher.customer) == (m.referral_code, None)


def test_code_redeemed_at_checkout_makes_the_referral(program, referrer, api):
    campaign = CampaignFactory(kind=Campaign.Kind.REFERRAL)
    DiscountFactory(campaign=campaign, type="amount", amount=1000, percent=None)
    Voucher.objects.create(campaign=campaign, code=referrer.referral_code)
    CustomerFactory(source_id="f-1")
    body = {
        "customer": {"source_id": "f-1"},
        "order": {
            "source_id": "o-f",
            "currency": "USD",
            "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": 5000}],
        },
        "codes": [referrer.referral_code],
    }
    answer = api.post("/api/v1/redemptions", body)
    assert answer.status_code == 201, answer.json()
    assert answer.json()["order"]["discount_amount"] == 1000  # the friend's discount
    order = pay("o-f", "f-1", [("sku-1", "shoes", 1, 5000)], discount_amount=1000)
    earning.earn_for_order(order_id=order.pk, now=T0)
    assert Referral.objects.get().status == "pending"
