"""Admin: programmes, rules and catalog refuse what cannot work; adjustments with a reason."""

import pytest

from loyalty.models import EarningRule, Member, PointsEntry, Reward

from .factories import ProgramFactory, give, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="ops", password="x-secret-9")
    client.force_login(user)
    return client


@pytest.fixture
def anna():
    m = member(ProgramFactory())
    give(m, 100)
    return m


def change(staff, m, **fields):
    return staff.post(
        f"/admin/loyalty/member/{m.pk}/change/",
        {
            "adjust_points": "",
            "adjust_reason": "",
            "entries-TOTAL_FORMS": "0",
            "entries-INITIAL_FORMS": "0",
            **fields,
        },
    )


def test_manual_adjustment_with_a_reason(staff, anna):
    response = change(staff, anna, adjust_points="-30", adjust_reason="order cancelled by phone")
    assert response.status_code == 302
    entry = PointsEntry.objects.get(kind="adjust", points=-30)
    assert (entry.reason, entry.created_by) == ("order cancelled by phone", "ops")
    assert Member.objects.get().points_active == 70


def test_adjustment_without_a_reason_is_refused(staff, anna):
    response = change(staff, anna, adjust_points="30")
    assert response.status_code == 200
    assert not PointsEntry.objects.filter(points=30).exists()


def test_adjustment_below_zero_is_refused(staff, anna):
    response = change(staff, anna, adjust_points="-101", adjust_reason="x")
    assert response.status_code == 200
    assert Member.objects.get().points_active == 100


def test_event_rule_needs_its_event_name(staff):
    program = ProgramFactory()
    response = staff.post(
        "/admin/loyalty/earningrule/add/",
        {
            "program": program.pk,
            "name": "Reviews",
            "kind": "event",
            "active": "on",
            "points": "50",
            "points_per_unit": "1",
            "category_multipliers": "{}",
            "product_multipliers": "{}",
            "excluded_categories": "[]",
            "excluded_products": "[]",
            "tier_values-TOTAL_FORMS": "0",
            "tier_values-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert not EarningRule.objects.exists()


def test_gift_card_reward_needs_a_gift_card_campaign(staff):
    program = ProgramFactory()
    response = staff.post(
        "/admin/loyalty/reward/add/",
        {"program": program.pk, "name": "Credit", "kind": "gift_card", "points_cost": "100"},
    )
    assert response.status_code == 200
    assert not Reward.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/loyalty/program/",
        "/admin/loyalty/earningrule/",
        "/admin/loyalty/reward/",
        "/admin/loyalty/member/",
        "/admin/loyalty/pointsentry/",
        "/admin/loyalty/fulfilment/",
        "/admin/loyalty/sweepstake/",
        "/admin/loyalty/referral/",
    ],
)
def test_admin_lists_open(staff, anna, url):
    assert staff.get(url).status_code == 200


def test_member_page_opens(staff, anna):
    assert staff.get(f"/admin/loyalty/member/{anna.pk}/change/").status_code == 200
