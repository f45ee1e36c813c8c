"""The customer's admin page: their loyalty standing, and a manual adjustment with a reason."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from loyalty.models import Member, PointsEntry, Program
from loyalty.services import ledger
from tests.factories import CustomerFactory

from .factories import ProgramFactory, give, three_tiers

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    made = ProgramFactory(points_name="Corks", expiry=Program.Expiry.ROLLING, expiry_months=1)
    three_tiers(made)
    return made


@pytest.fixture
def anna(program):
    m = ledger.ensure_member(program=program, customer=CustomerFactory(source_id="c-1"))
    give(m, 100, now=timezone.now() - dt.timedelta(days=20))  # expires in about 10 days
    return m


@pytest.fixture
def marketer(client, django_user_model):
    """Staff who may view customers, read the ledger and change loyalty members."""
    user = django_user_model.objects.create_user(username="mia", password="x", is_staff=True)
    codenames = ["view_customer", "change_customer", "view_member", "change_member"]
    user.user_permissions.set(
        Permission.objects.filter(codename__in=[*codenames, "view_pointsentry"])
    )
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client, django_user_model):
    """Staff who may see customers and members, not change points."""
    user = django_user_model.objects.create_user(username="vic", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_customer", "view_member"])
    )
    client.force_login(user)
    return client


def page(client, customer) -> str:
    response = client.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def adjust(client, customer, program, **fields):
    return client.post(
        f"/admin/loyalty/member/adjust-customer/{customer.pk}/",
        {"program": program.pk, **fields},
    )


def messages_of(client, response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_customer_page_shows_tier_balances_expiring_and_history(marketer, anna):
    html = page(marketer, anna.customer)
    assert 'id="loyalty"' in html
    assert 'data-loyalty="tier">Basic' in html
    assert 'data-loyalty="active">100 Corks' in html
    assert 'data-loyalty="pending">0 Corks' in html
    assert 'data-loyalty="expiring">100 Corks' in html
    assert f"/admin/loyalty/pointsentry/?member__id__exact={anna.pk}" in html
    assert 'action="/admin/loyalty/member/adjust-customer/' in html


def test_history_link_lists_only_this_members_entries(marketer, anna, program):
    other = ledger.ensure_member(program=program, customer=CustomerFactory())
    give(other, 7)
    response = marketer.get(f"/admin/loyalty/pointsentry/?member__id__exact={anna.pk}")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(anna.entries.all())


def test_a_customer_who_is_not_a_member_is_shown_as_such(marketer, program):
    customer = CustomerFactory()
    assert 'data-loyalty="not-member"' in page(marketer, customer)
    assert not Member.objects.exists()


def test_users_without_the_permission_see_no_adjustment_form(viewer, anna):
    html = page(viewer, anna.customer)
    assert 'data-loyalty="active">100 Corks' in html
    assert "adjust-customer" not in html


def test_adjustment_without_the_permission_is_refused(viewer, anna, program):
    response = adjust(viewer, anna.customer, program, points="50", reason="goodwill")
    assert response.status_code == 403
    assert not PointsEntry.objects.filter(points=50).exists()


def test_adjustment_is_recorded_with_its_reason_and_user(marketer, anna, program):
    response = adjust(marketer, anna.customer, program, points="-30", reason="  parcel lost ")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/customers/customer/{anna.customer.pk}/change/#loyalty"
    entry = PointsEntry.objects.get(kind="adjust", points=-30)
    assert (entry.reason, entry.created_by) == ("parcel lost", "mia")
    anna.refresh_from_db()
    assert anna.points_active == 70
    assert messages_of(marketer, response) == ["-30 Corks recorded: parcel lost"]


def test_adjustment_below_zero_is_refused_with_a_message(marketer, anna, program):
    response = adjust(marketer, anna.customer, program, points="-101", reason="oops")
    assert response.status_code == 302
    assert messages_of(marketer, response) == [
        "Only 100 Corks can be taken away: the balance cannot go below zero. Nothing was changed."
    ]
    anna.refresh_from_db()
    assert anna.points_active == 100
    assert not PointsEntry.objects.filter(kind="adjust", points__lt=0).exists()


def test_a_deduction_from_a_non_member_is_refused_and_enrols_nobody(marketer, program):
    customer = CustomerFactory()
    response = adjust(marketer, customer, program, points="-1", reason="x")
    assert response.status_code == 302
    assert "cannot go below zero" in messages_of(marketer, response)[0]
    assert not Member.objects.exists()


def test_a_credit_to_a_non_member_makes_them_a_member(marketer, program):
    customer = CustomerFactory()
    adjust(marketer, customer, program, points="25", reason="welcome gesture")
    member = Member.objects.get(customer=customer)
    assert (member.points_active, member.tier.name) == (25, "Basic")


@pytest.mark.parametrize(
    "fields",
    [{"points": "10", "reason": "  "}, {"points": "0", "reason": "x"}, {"points": "ten"}, {}],
)
def test_an_incomplete_adjustment_is_refused_with_a_message(marketer, anna, program, fields):
    response = adjust(marketer, anna.customer, program, **fields)
    assert response.status_code == 302
    assert messages_of(marketer, response)
    assert PointsEntry.objects.filter(kind="adjust").count() == 1  # the fixture's


def test_adjustment_of_an_erased_customer_is_refused(marketer, anna, program):
    type(anna.customer).objects.filter(pk=anna.customer_id).update(erased_at=timezone.now())
    response = adjust(marketer, anna.customer, program, points="5", reason="x")
    assert response.status_code == 302
    assert PointsEntry.objects.filter(kind="adjust").count() == 1


def test_the_adjustment_url_takes_only_posts(marketer, anna):
    response = marketer.get(f"/admin/loyalty/member/adjust-customer/{anna.customer.pk}/")
    assert response.status_code == 405
