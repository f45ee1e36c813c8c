"""The programme page: members per tier, points per week, top rewards, charities."""

import json
import re

import pytest
from django.utils import timezone

from loyalty.models import Charity, Member, Program, Reward
from loyalty.services import ledger, rewards

from .factories import ProgramFactory, RewardFactory, give, member, three_tiers

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, django_user_model):
    user = django_user_model.objects.create_user(username="marketer", password="x-secret-9")
    client.force_login(user)
    return client


@pytest.fixture
def program():
    made = ProgramFactory(name="Club", expiry=Program.Expiry.ROLLING, expiry_months=1)
    _basic, advanced, _vip = three_tiers(made)
    now = timezone.now()
    for n in range(3):
        m = member(made, now=now)
        give(m, 300, now=now)
        if n == 0:
            Member.objects.filter(pk=m.pk).update(tier=advanced)
    charity = Charity.objects.create(name="Trees")
    donation = RewardFactory(
        program=made, name="Plant a tree", kind=Reward.Kind.CHARITY, charity=charity, amount=500
    )
    rewards.redeem_reward(member=Member.objects.first(), reward=donation)
    return made


def chart(response) -> dict:
    html = response.content.decode()
    found = re.search(r'<script id="loyalty-data" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_program_page_shows_members_per_tier(signed_in, program):
    response = signed_in.get(f"/loyalty/{program.pk}/")
    assert response.status_code == 200
    data = chart(response)
    assert dict(zip(data["tiers"]["labels"], data["tiers"]["members"], strict=True)) == {
        "Basic": 2,
        "Advanced": 1,
        "VIP": 0,
    }


def test_program_page_shows_points_issued_and_redeemed_this_week(signed_in, program):
    data = chart(signed_in.get(f"/loyalty/{program.pk}/"))
    assert data["weeks"]["issued"][-1] == 900
    assert data["weeks"]["redeemed"][-1] == 100
    assert len(data["weeks"]["labels"]) >= 12


def test_program_page_shows_expired_points(signed_in, program):
    m = Member.objects.first()
    ledger.adjust(member=m, points=5, reason="x", now=timezone.now() - timezone.timedelta(days=40))
    ledger.expire_due_points()
    data = chart(signed_in.get(f"/loyalty/{program.pk}/"))
    assert sum(data["weeks"]["expired"]) == 5


def test_program_page_lists_top_rewards_and_charities(signed_in, program):
    html = signed_in.get(f"/loyalty/{program.pk}/").content.decode()
    assert 'data-reward="Plant a tree">1<' in html
    assert "Trees" in html


def test_program_list_links_programmes(signed_in, program):
    html = signed_in.get("/loyalty/").content.decode()
    assert f'href="/loyalty/{program.pk}/"' in html


def test_pages_need_a_sign_in(client, program):
    assert client.get(f"/loyalty/{program.pk}/").status_code == 302


def test_unknown_programme_is_404(signed_in, db):
    assert signed_in.get("/loyalty/999/").status_code == 404
