import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Order
from tests.factories import CustomerFactory, OrderFactory

TODAY = dt.date(2025, 3, 31)
LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def at(day: str, time: str = "12:00:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}+00:00")


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The period ends "today"; pin it so that day boundaries in the data are exact.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def signed_in(client, django_user_model):
    user = django_user_model.objects.create_user(username="marketer", password="x-secret-9")
    client.force_login(user)
    return client


@pytest.fixture
def old_customer(db):
    return CustomerFactory(created_at=LONG_AGO)


def order(customer, *, status=Order.Status.PAID, total, created_at):
    return OrderFactory(
        customer=customer,
        status=status,
        items_amount=total,
        total_amount=total,
        created_at=created_at,
    )


def chart_data(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="overview-data" type="application/json">(.*?)</script>', html)
    assert match, "the page embeds the chart data with json_script"
    return json.loads(match.group(1))


def shown(response, key: str) -> str:
    match = re.search(rf'data-figure="{key}">([^<]*)<', response.content.decode())
    assert match, f"figure {key} is on the page"
    return match.group(1)


def figures(response) -> dict:
    return {figure.key: figure for figure in response.context["figures"]}


def test_anonymous_user_is_sent_to_sign_in(client, db):
    response = client.get(reverse("dashboard:home"))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next=/"


def test_sign_in_page_renders_the_form_without_navigation(client, db):
    response = client.get(reverse("login"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="username"' in html and 'name="password"' in html
    assert "site-nav" not in html


def test_sign_in_page_shows_the_error_for_wrong_credentials(client, django_user_model):
    django_user_model.objects.create_user(username="marketer", password="x-secret-9")

    response = client.post(reverse("login"), {"username": "marketer", "password": "wrong"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert "correct username and password" in response.content.decode()


def test_overview_shows_paid_orders_of_the_period_against_the_previous_one(signed_in, old_customer):
    # Period 2025-03-25..31, previous period 2025-03-18..24.
    order(old_customer, total=2000, created_at=at("2025-03-25", "00:00:00"))
    order(old_customer, total=1250, created_at=at("2025-03-31", "10:00:00"))
    order(old_customer, total=750, created_at=at("2025-03-31", "23:59:59"))
    order(old_customer, total=1000, created_at=at("2025-03-24", "23:59:59"))
    order(old_customer, total=5000, created_at=at("2025-03-18", "00:00:00"))
    # Never counted: outside both periods, or not paid.
    order(old_customer, total=9999, created_at=at("2025-03-17", "23:59:59"))
    order(old_customer, total=9999, created_at=at("2025-04-01", "00:00:00"))
    for status in (Order.Status.CREATED, Order.Status.CANCELLED, Order.Status.REFUNDED):
        order(old_customer, status=status, total=9999, created_at=at("2025-03-28"))

    response = signed_in.get(reverse("dashboard:home"), {"days": 7})

    assert response.status_code == 200
    assert shown(response, "paid_orders") == "3"
    assert shown(response, "revenue") == "$40.00"
    assert shown(response, "average_order_value") == "$13.33"
    shown_figures = figures(response)
    assert shown_figures["paid_orders"].previous == "2"
    assert shown_figures["paid_orders"].change_display == "+50%"
    assert shown_figures["revenue"].previous == "$60.00"
    assert shown_figures["revenue"].change_display == "-33.3%"
    assert shown_figures["average_order_value"].previous == "$30.00"
    assert chart_data(response) == {
        "currency": "USD",
        "minorUnitDigits": 2,
        "labels": [
            "2025-03-25",
            "2025-03-26",
            "2025-03-27",
            "2025-03-28",
            "2025-03-29",
            "2025-03-30",
            "2025-03-31",
        ],
        "orders": [1, 0, 0, 0, 0, 0, 2],
        "revenue": [2000, 0, 0, 0, 0, 0, 2000],
    }


def test_overview_counts_live_customers_and_new_ones(signed_in, old_customer):
    CustomerFactory(created_at=at("2025-03-25", "00:00:00"))
    CustomerFactory(created_at=at("2025-03-31", "23:59:59"))
    CustomerFactory(created_at=at("2025-03-20"))
    CustomerFactory(created_at=at("2025-04-01", "00:00:00"))
    CustomerFactory(created_at=at("2025-03-26"), erased_at=at("2025-03-27"))

    response = signed_in.get(reverse("dashboard:home"), {"days": 7})

    assert shown(response, "customers") == "4"
    assert shown(response, "new_customers") == "2"
    shown_figures = figures(response)
    assert shown_figures["customers"].previous == "2"
    assert shown_figures["customers"].change_display == "+100%"
    assert shown_figures["new_customers"].previous == "1"


def test_change_is_not_computed_when_the_previous_period_is_empty(signed_in, old_customer):
    order(old_customer, total=500, created_at=at("2025-03-30"))

    response = signed_in.get(reverse("dashboard:home"), {"days": 7})

    assert figures(response)["paid_orders"].change is None
    assert "No data for the previous period" in response.content.decode()


def test_empty_installation_shows_zeros_for_every_day(signed_in):
    response = signed_in.get(reverse("dashboard:home"))

    data = chart_data(response)
    assert len(data["labels"]) == 30
    assert data["labels"][0] == "2025-03-02" and data["labels"][-1] == "2025-03-31"
    assert data["orders"] == [0] * 30
    assert data["revenue"] == [0] * 30
    assert shown(response, "revenue") == "$0.00"


@pytest.mark.parametrize("days", ["7", "30", "90"])
def test_period_length_comes_from_the_days_parameter(signed_in, days):
    response = signed_in.get(reverse("dashboard:home"), {"days": days})

    assert response.context["days"] == int(days)
    assert len(chart_data(response)["labels"]) == int(days)
    assert f'href="?days={days}" aria-current="page"' in response.content.decode()


@pytest.mark.parametrize(
    "days", ["", "abc", "0", "-7", "14", "7.0", "1e3", "99999999999999999999999"]
)
def test_unexpected_days_fall_back_to_thirty(signed_in, days):
    response = signed_in.get(reverse("dashboard:home"), {"days": days})

    assert response.status_code == 200
    assert response.context["days"] == 30
    assert len(chart_data(response)["labels"]) == 30


def test_chart_code_comes_from_our_static_files_not_inline(signed_in):
    html = signed_in.get(reverse("dashboard:home")).content.decode()

    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>' in html
    assert '<script src="/static/js/overview.js" defer>' in html
    # Only src= scripts and the JSON data block: nothing a strict CSP would block.
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    assert "cdn" not in html.lower()


def test_query_count_does_not_grow_with_data(signed_in, old_customer, django_assert_num_queries):
    # Session + user, then one query for customers and one for orders of both periods.
    with django_assert_num_queries(4):
        signed_in.get(reverse("dashboard:home"), {"days": 90})

    for n in range(40):
        CustomerFactory(created_at=at("2025-03-01") + dt.timedelta(days=n % 30))
        order(old_customer, total=100 + n, created_at=at("2025-01-10") + dt.timedelta(days=n * 2))

    with django_assert_num_queries(4):
        response = signed_in.get(reverse("dashboard:home"), {"days": 90})
    assert sum(chart_data(response)["orders"]) > 0


def test_navigation_links_only_pages_that_exist(signed_in, admin_client):
    html = signed_in.get(reverse("dashboard:home")).content.decode()
    assert 'href="/api/docs/"' in html
    assert 'href="/admin/"' not in html  # not staff: the admin would turn them away

    staff_html = admin_client.get(reverse("dashboard:home")).content.decode()
    assert 'href="/admin/"' in staff_html
    assert 'action="/accounts/logout/"' in staff_html


def test_page_language_and_direction_follow_the_active_language(signed_in):
    html = signed_in.get(reverse("dashboard:home"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()

    assert '<html lang="ar" dir="rtl">' in html


def test_sign_out_is_a_post(signed_in):
    response = signed_in.post(reverse("logout"))

    assert response.status_code == 302
    assert signed_in.get(reverse("dashboard:home")).status_code == 302
