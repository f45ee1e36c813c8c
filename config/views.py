"""The dashboard shell and the site-wide error pages (JSON under /api/)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, format_percent
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import path
from django.utils import timezone
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error

from config.api import api_not_found, api_server_error
from customers.currencies import minor_unit_digits
from customers.selectors import DailySales, customer_counts, paid_orders_per_day

PERIOD_CHOICES = (7, 30, 90)
DEFAULT_PERIOD = 30


def period_days(raw: str | None) -> int:
    """The ``days`` query parameter, falling back to the default for anything unexpected."""
    try:
        days = int(raw or "")
    except ValueError:
        return DEFAULT_PERIOD
    return days if days in PERIOD_CHOICES else DEFAULT_PERIOD


def _babel_locale() -> Locale:
    try:
        return Locale.parse(to_locale(get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@dataclass(frozen=True)
class Figure:
    """One headline number of the overview with its change against the previous period."""

    key: str  # stable name for templates and tests; the label is translated
    label: str
    value: str
    previous: str
    change: float | None  # None when the previous period had nothing to compare with
    change_display: str

    @property
    def trend(self) -> str:
        if self.change is None or self.change == 0:
            return "flat"
        return "up" if self.change > 0 else "down"


def _figure(key, label, current: int, previous: int, display, locale: Locale) -> Figure:
    change = (current - previous) / previous if previous else None
    if change is None:
        change_display = ""
    elif change == 0:
        change_display = format_percent(0, locale=locale)
    else:
        change_display = format_percent(change, locale=locale, format="+#,##0.#%;-#,##0.#%")
    return Figure(key, label, display(current), display(previous), change, change_display)


def _average(total: int, count: int) -> int:
    # Half-up rounding to whole minor units; Python's round() would round half to even.
    return (2 * total + count) // (2 * count) if count else 0


@login_required
def home(request):
    days = period_days(request.GET.get("days"))
    end = timezone.localdate()
    start = end - datetime.timedelta(days=days - 1)
    previous_start = start - datetime.timedelta(days=days)

    # Both periods in one query; the first half is the previous period.
    sales = paid_orders_per_day(start=previous_start, end=end)
    previous_sales, current_sales = sales[:days], sales[days:]
    customers = customer_counts(start=start, end=end)

    currency = settings.OFFERWISE_CURRENCY
    digits = minor_unit_digits(currency)
    locale = _babel_locale()

    def money(minor: int) -> str:
        return format_currency(Decimal(minor).scaleb(-digits), currency, locale=locale)

    def number(value: int) -> str:
        return format_decimal(value, locale=locale)

    def totals(rows: list[DailySales]) -> tuple[int, int]:
        return sum(r.orders for r in rows), sum(r.revenue for r in rows)

    orders, revenue = totals(current_sales)
    prev_orders, prev_revenue = totals(previous_sales)
    figures = [
        _figure(
            "customers", _("Customers"), customers.total, customers.total_before, number, locale
        ),
        _figure(
            "new_customers",
            _("New customers"),
            customers.new,
            customers.new_in_previous,
            number,
            locale,
        ),
        _figure("paid_orders", _("Paid orders"), orders, prev_orders, number, locale),
        _figure("revenue", _("Revenue"), revenue, prev_revenue, money, locale),
        _figure(
            "average_order_value",
            _("Average order value"),
            _average(revenue, orders),
            _average(prev_revenue, prev_orders),
            money,
            locale,
        ),
    ]
    chart = {
        "currency": currency,
        "minorUnitDigits": digits,
        "labels": [row.day.isoformat() for row in current_sales],
        "orders": [row.orders for row in current_sales],
        "revenue": [row.revenue for row in current_sales],
    }
    daily_rows = [(row.day, number(row.orders), money(row.revenue)) for row in current_sales]
    return render(
        request,
        "dashboard/home.html",
        {
            "days": days,
            "period_choices": PERIOD_CHOICES,
            "start": start,
            "end": end,
            "previous_start": previous_start,
            "previous_end": start - datetime.timedelta(days=1),
            "figures": figures,
            "chart": chart,
            "daily_rows": daily_rows,
        },
    )


dashboard_urls = [path("", home, name="home")]


def favicon(request):
    # Browsers ask for /favicon.ico on pages that do not link ours (Swagger UI, admin).
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return api_server_error(request)
    return html_server_error(request)
