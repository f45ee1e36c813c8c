import datetime as dt
import os
import random
from collections import defaultdict
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from customers.models import Order
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.e2e

TODAY = dt.date(2025, 3, 31)
PASSWORD = "browser-secret-42"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "overview.png"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The live server runs in a thread of this process, so the patch reaches the view.
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_user(username="marketer", password=PASSWORD)


@pytest.fixture
def staff_marketer(django_user_model):
    return django_user_model.objects.create_user(
        username="marketer", password=PASSWORD, is_staff=True
    )


def paid_order(customer, *, total: int, created_at: dt.datetime) -> Order:
    return OrderFactory(
        customer=customer,
        status=Order.Status.PAID,
        items_amount=total,
        total_amount=total,
        created_at=created_at,
    )


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def sign_in(page: Page, live_server, *, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def chart_datasets(page: Page) -> list[dict]:
    return page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById("overview-chart"));
            return chart.data.datasets.map((d) => ({label: d.label, data: d.data}));
        }"""
    )


def test_wrong_password_shows_an_error_and_stays_on_sign_in(page, live_server, marketer):
    sign_in(page, live_server, username="marketer", password="not-the-password")

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)


def test_marketer_signs_in_and_sees_the_chart_of_paid_orders(
    page, live_server, marketer, browser_log
):
    customer = CustomerFactory(created_at=noon(TODAY - dt.timedelta(days=400)))
    paid_order(customer, total=1999, created_at=noon(TODAY))
    paid_order(customer, total=1, created_at=noon(TODAY))
    paid_order(customer, total=12345, created_at=noon(TODAY - dt.timedelta(days=2)))
    OrderFactory(
        customer=customer, status=Order.Status.CANCELLED, created_at=noon(TODAY - dt.timedelta(1))
    )

    sign_in(page, live_server, username="marketer", password=PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.locator('[data-figure="paid_orders"]')).to_have_text("3")
    expect(page.locator('[data-figure="revenue"]')).to_have_text("$143.45")
    canvas = page.locator("#overview-chart")
    expect(canvas).to_be_visible()
    assert canvas.bounding_box()["height"] > 200

    orders, revenue = chart_datasets(page)
    assert orders == {"label": "Paid orders", "data": [0] * 27 + [1, 0, 2]}
    assert revenue == {"label": "Revenue", "data": [0] * 27 + [123.45, 0, 20.0]}

    page.get_by_role("link", name="7 days").click()
    expect(page).to_have_url(f"{live_server.url}/?days=7")
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    assert chart_datasets(page)[0]["data"] == [0, 0, 0, 0, 1, 0, 2]

    assert browser_log == {"errors": [], "external": []}


def test_navigation_reaches_the_api_docs_and_signs_out(page, live_server, marketer, browser_log):
    sign_in(page, live_server, username="marketer", password=PASSWORD)
    nav = page.get_by_role("navigation", name="Main")

    nav.get_by_role("link", name="API docs").click()

    expect(page).to_have_url(f"{live_server.url}/api/docs/")
    # Swagger UI is drawn by its JavaScript from the schema: this only appears if its assets
    # and the schema both loaded.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Offerwise API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")

    assert browser_log == {"errors": [], "external": []}


def test_overview_screenshot(page, live_server, staff_marketer, tmp_path, browser_log):
    """A month of plausible shop activity, to look at the page (docs/screenshots/)."""
    rng = random.Random(7)
    expected = defaultdict(int)
    customers = [
        CustomerFactory(created_at=noon(TODAY - dt.timedelta(days=rng.randrange(0, 120))))
        for _ in range(60)
    ]
    for back in range(60):
        day = TODAY - dt.timedelta(days=back)
        for _ in range(rng.randrange(0, 6) + (2 if day.weekday() >= 5 else 0)):
            created = noon(day) + dt.timedelta(minutes=rng.randrange(-600, 600))
            paid_order(rng.choice(customers), total=rng.randrange(1500, 18000), created_at=created)
            expected[day] += 1

    sign_in(page, live_server, username="marketer", password=PASSWORD)
    expect(page.locator('[data-figure="paid_orders"]')).to_be_visible()

    days = [TODAY - dt.timedelta(days=back) for back in range(29, -1, -1)]
    assert chart_datasets(page)[0]["data"] == [expected[day] for day in days]

    # Tall enough for the whole page at this width, without empty space below it.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=tmp_path / "overview.png", full_page=True)
    if os.environ.get("OFFERWISE_UPDATE_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
    assert browser_log == {"errors": [], "external": []}
