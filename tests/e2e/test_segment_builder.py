import datetime as dt
import json
import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from segments.models import Segment, SegmentSize
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e

PASSWORD = "browser-secret-42"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def marketer(django_user_model):
    return django_user_model.objects.create_user(username="marketer", password=PASSWORD)


@pytest.fixture
def shop(db):
    """Four Irish customers, two of them with at least 10 orders, and two German ones."""
    irish = [
        CustomerFactory(country="IE", city="Dublin", orders_count=12, first_name="Aoife"),
        CustomerFactory(country="IE", city="Cork", orders_count=10, first_name="Cian"),
        CustomerFactory(country="IE", city="Galway", orders_count=3, first_name="Niamh"),
        CustomerFactory(country="IE", city="Dublin", orders_count=0, first_name="Seán"),
    ]
    CustomerFactory(country="DE", city="Berlin", orders_count=40)
    CustomerFactory(country="DE", city="Munich", orders_count=1)
    return irish


def save_screenshot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / name, full_page=True)
    if os.environ.get("OFFERWISE_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name, full_page=True)


def group_button(page: Page, path: str, name: str):
    return page.locator(f'[data-path="{path}"] > .rule-group__header').get_by_role(
        "button", name=name
    )


def test_marketer_builds_a_segment_with_live_preview_and_saves_it(
    page, live_server, marketer, shop, browser_log, tmp_path
):
    page.goto(f"{live_server.url}/segments/new")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New segment", level=1)).to_be_visible()

    page.get_by_label("Name").fill("Loyal Irish customers")
    page.get_by_label("Description").fill("Ireland, and either 10+ orders")
    count = page.locator("#preview-count")
    # An empty "all of" group matches everyone.
    expect(count).to_have_text("6")

    group_button(page, "", "Add condition").click()
    first = page.locator('[data-path="all[0]"]')
    first.get_by_label("Field", exact=True).select_option("country")
    first.get_by_label("Country: Operator").select_option("eq")
    first.get_by_label("Country: Value").fill("IE")

    expect(count).to_have_text("4")
    expect(page.locator("#preview-count-label")).to_have_text("customers match")
    expect(page.locator("#preview-sample tr")).to_have_count(4)
    expect(page.locator("#preview-sample")).to_contain_text("Aoife")
    expect(page.locator("#preview-sample")).not_to_contain_text("Berlin")

    group_button(page, "", "Add group").click()
    nested = page.locator('[data-path="all[1]"]')
    expect(nested.get_by_label("Group", exact=True)).to_have_value("any")
    # An empty "any" group matches no one.
    expect(count).to_have_text("0")
    group_button(page, "all[1]", "Add condition").click()
    stat = page.locator('[data-path="all[1].any[0]"]')
    stat.get_by_label("Field", exact=True).select_option("orders_count")
    stat.get_by_label("Paid orders: Operator").select_option("gte")
    # No value yet: the refusal is shown next to this condition, not at the top.
    expect(stat.locator(".rule-error")).to_contain_text("expected a whole number")
    expect(page.locator("#preview-error")).to_be_hidden()
    stat.get_by_label("Paid orders: Value").fill("10")

    expect(count).to_have_text("2")
    expect(stat.locator(".rule-error")).to_be_hidden()
    expected_rules = {
        "all": [
            {"field": "country", "op": "eq", "value": "IE"},
            {"any": [{"field": "orders_count", "op": "gte", "value": 10}]},
        ]
    }

    json_view = page.get_by_label("Rules (JSON)")
    expect(json_view).to_be_hidden()
    page.get_by_role("button", name="JSON").click()
    expect(json_view).to_be_visible()
    assert json.loads(json_view.input_value()) == expected_rules
    # Edited as JSON, the builder follows: "Paid orders ≥ 10" becomes "≥ 11".
    json_view.fill(json.dumps(expected_rules).replace('"value": 10', '"value": 11'))
    expect(stat.get_by_label("Paid orders: Value")).to_have_value("11")
    expect(count).to_have_text("1")
    stat.get_by_label("Paid orders: Value").fill("10")
    expect(count).to_have_text("2")
    assert json.loads(json_view.input_value()) == expected_rules
    page.get_by_role("button", name="JSON").click()

    save_screenshot(page, tmp_path, "segment-builder.png")
    page.get_by_role("button", name="Save segment").click()

    segment = Segment.objects.get()
    expect(page).to_have_url(f"{live_server.url}/segments/{segment.pk}/")
    assert segment.rules == expected_rules
    expect(page.get_by_role("heading", name="Loyal Irish customers", level=1)).to_be_visible()
    expect(page.locator('[data-figure="live_count"]')).to_have_text("2")
    expect(page.locator('[data-figure="last_size"]')).to_have_text("2")
    expect(page.locator(".rule-list--root")).to_contain_text("Country is IE")
    expect(page.locator(".rule-list--root")).to_contain_text("Paid orders ≥ 10")
    expect(page.locator("#segment-size-chart")).to_be_visible()
    chart = page.evaluate(
        """() => Chart.getChart(document.getElementById("segment-size-chart")).data.datasets[0]
            .data"""
    )
    assert chart == [2]

    # Some history, to see the line move.
    now = timezone.now()
    for days, size in ((80, 1), (60, 1), (45, 2), (30, 3), (14, 3), (7, 2)):
        SegmentSize.objects.create(
            segment=segment, size=size, measured_at=now - dt.timedelta(days=days)
        )
    page.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_role("status")).to_contain_text("Refreshed: 2 members")
    chart = page.evaluate(
        """() => Chart.getChart(document.getElementById("segment-size-chart")).data.datasets[0]
            .data"""
    )
    assert chart == [1, 1, 2, 3, 3, 2, 2, 2]
    save_screenshot(page, tmp_path, "segment-detail.png")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    expect(page.locator(f'[data-live-count="{segment.pk}"]')).to_have_text("2")
    save_screenshot(page, tmp_path, "segment-list.png")

    assert browser_log == {"errors": [], "external": []}
