"""Reactions to the domain signals, the periodic schedules, privacy."""

import pytest
from django_celery_beat.models import PeriodicTask

from customers import services as customer_services
from loyalty import tasks
from loyalty.models import EarningRule, Fulfilment, Member, Reward
from loyalty.services import rewards
from segments import services as segment_services
from segments.models import Segment, SegmentMember
from tests.factories import CustomerFactory

from .factories import ProgramFactory, RewardFactory, RuleFactory, give, member

pytestmark = pytest.mark.django_db


def test_periodic_tasks_are_stored_in_the_database():
    names = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "loyalty.activate_pending_points",
        "loyalty.expire_points",
        "loyalty.review_tiers",
        "loyalty.draw_sweepstakes",
    } <= names


def test_periodic_tasks_run_and_find_nothing_twice():
    assert tasks.activate_pending_points() == {"activated": 0, "referrals": 0}
    assert tasks.expire_points() == 0
    assert tasks.draw_sweepstakes() == []


def test_entering_a_segment_on_refresh_earns(django_capture_on_commit_callbacks):
    program = ProgramFactory()
    customer = CustomerFactory()
    segment = Segment.objects.create(name="Fans", kind=Segment.Kind.STATIC)
    RuleFactory(program=program, kind=EarningRule.Kind.SEGMENT, segment=segment, points=200)
    SegmentMember.objects.create(segment=segment, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        segment_services.refresh_segment(segment_id=segment.pk)
    assert Member.objects.get(customer=customer).points_active == 200


def test_erasure_blanks_shipping_addresses():
    program = ProgramFactory()
    m = member(program)
    give(m, 100)
    reward = RewardFactory(program=program, kind=Reward.Kind.PRODUCT)
    rewards.redeem_reward(member=m, reward=reward, address="1 Main St")
    customer_services.erase_customer(customer=m.customer)
    assert Fulfilment.objects.get().address == ""


def test_export_has_a_loyalty_section(api):
    program = ProgramFactory()
    m = member(program, source_id="c-1")
    give(m, 40)
    section = api.get("/api/v1/customers/c-1/export").json()["loyalty"]
    assert section[0]["points_active"] == 40
    assert section[0]["entries"][0]["points"] == 40
