"""Read queries of the promotions app, shared by the checkout engine, the API and the admin.

The checkout's reads (customer, vouchers, automatic promotions, usage) are on the hot path of
every validation and redemption: they are written as SQL once per process (``_Rows``) and turned
into model instances directly, which costs a fraction of building and compiling a queryset
per request. Campaign settings (rules, schedule, segments) are kept per process and read again
when the campaign's ``updated_at`` moves (``promotions.receivers`` moves it on every change).
"""

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet, Sum

from config.prepared import fetch_all
from customers.models import Customer

from .models import (
    Campaign,
    CampaignDayStats,
    CustomerUsage,
    Discount,
    ScheduleWindow,
    ValidationRule,
    Variant,
    Voucher,
)


class _Rows:
    """A model's concrete columns as a SELECT list under an alias, and rows back into
    instances, with the database backend's converters (as the ORM would apply them)."""

    def __init__(
        self,
        model: type[Model],
        alias: str,
        only: tuple[str, ...] = (),
        skip: tuple[str, ...] = (),
    ):
        self.model = model
        self.fields = [
            f
            for f in model._meta.concrete_fields
            if f.primary_key or ((not only or f.name in only) and f.name not in skip)
        ]
        self.attnames = [f.attname for f in self.fields]
        self.select = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        self._converters: dict[str, list] = {}

    def converters(self) -> list:
        vendor = connection.vendor
        if vendor not in self._converters:
            table = self.model._meta.db_table
            found = []
            for i, f in enumerate(self.fields):
                col = f.get_col(table)
                fns = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if fns:
                    found.append((i, col, fns))
            self._converters[vendor] = found
        return self._converters[vendor]

    def take(self, row: tuple, start: int) -> tuple[Model | None, int]:
        """The instance in ``row`` from column ``start`` (None when its id is NULL, as after
        a LEFT JOIN), and the column after it."""
        end = start + len(self.fields)
        values = list(row[start:end])
        if values[0] is None and self.fields[0].primary_key:
            return None, end
        for i, col, fns in self.converters():
            value = values[i]
            for fn in fns:
                value = fn(value, col, connection)
            values[i] = value
        return self.model.from_db(connection.alias, self.attnames, values), end


# What judging and redeeming read of a customer; the other fields load if asked for.
_CUSTOMER = _Rows(Customer, "cu", only=("source_id", "timezone", "erased_at"))
# Fields no checkout reads are left out (they load if asked for): fewer columns to parse.
_VOUCHER = _Rows(Voucher, "v", skip=("job", "published_at", "metadata", "created_at"))
_CAMPAIGN = _Rows(
    Campaign,
    "c",
    skip=(
        "description",
        "code_prefix",
        "code_suffix",
        "code_pattern",
        "code_charset",
        "code_custom_charset",
        "code_exclude_ambiguous",
        "codes_on_demand",
        "experiment_ended_at",
        "metadata",
        "created_at",
    ),
)
_DISCOUNT = _Rows(Discount, "d")
_VARIANT = _Rows(Variant, "va")
_USAGE = _Rows(CustomerUsage, "u")


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _campaign_from(row: tuple, start: int) -> tuple[Campaign, int]:
    campaign, at = _CAMPAIGN.take(row, start)
    discount, at = _DISCOUNT.take(row, at)
    Campaign.discount.related.set_cached_value(campaign, discount)
    if discount is not None:
        Discount.campaign.field.set_cached_value(discount, campaign)
    return campaign, at


def _customer_sql(source_id: str) -> tuple[str, list]:
    return (
        f"SELECT {_CUSTOMER.select} FROM {Customer._meta.db_table} cu "  # noqa: S608
        "WHERE cu.source_id = %s AND cu.erased_at IS NULL",
        [source_id],
    )


def _customer_from(rows: list[tuple]) -> Customer | None:
    return _CUSTOMER.take(rows[0], 0)[0] if rows else None


def checkout_customer(source_id: str) -> Customer | None:
    """A live (not erased) customer by ``source_id``."""
    return _customer_from(_fetch(*_customer_sql(source_id)))


def _vouchers_sql(wanted: list[str]) -> tuple[str, list]:
    # Table names come from the models; the codes go in as parameters.
    return (
        f"SELECT {_VOUCHER.select}, {_CAMPAIGN.select}, {_DISCOUNT.select}, {_VARIANT.select}, "  # noqa: S608
        "UPPER(v.code) "
        f"FROM {Voucher._meta.db_table} v "
        f"JOIN {Campaign._meta.db_table} c ON c.id = v.campaign_id "
        f"LEFT JOIN {Discount._meta.db_table} d ON d.campaign_id = c.id "
        f"LEFT JOIN {Variant._meta.db_table} va ON va.id = v.variant_id "
        f"WHERE UPPER(v.code) IN ({', '.join(['%s'] * len(wanted))})",
        wanted,
    )


def _vouchers_from(rows: list[tuple]) -> dict[str, Voucher]:
    found = {}
    for row in rows:
        voucher, at = _VOUCHER.take(row, 0)
        campaign, at = _campaign_from(row, at)
        variant, at = _VARIANT.take(row, at)
        Voucher.campaign.field.set_cached_value(voucher, campaign)
        Voucher.variant.field.set_cached_value(voucher, variant)
        found[row[-1]] = voucher
    return found


def vouchers_by_codes(codes: Iterable[str]) -> dict[str, Voucher]:
    """Vouchers (with campaign, discount and variant) by upper-cased code: one query on the
    ``voucher_code_unique`` index."""
    wanted = sorted({code.upper() for code in codes})
    if not wanted:
        return {}
    return _vouchers_from(_fetch(*_vouchers_sql(wanted)))


def voucher_by_code(code: str) -> Voucher | None:
    return vouchers_by_codes([code]).get(code.upper())


def _live_statuses(include_drafts: bool) -> list[str]:
    statuses = [Campaign.Status.ACTIVE]
    if include_drafts:
        statuses.append(Campaign.Status.DRAFT)
    return statuses


def _promotions_sql(include_drafts: bool) -> tuple[str, list]:
    statuses = _live_statuses(include_drafts)
    return (
        f"SELECT {_CAMPAIGN.select}, {_DISCOUNT.select} "  # noqa: S608
        f"FROM {Campaign._meta.db_table} c "
        f"LEFT JOIN {Discount._meta.db_table} d ON d.campaign_id = c.id "
        f"WHERE c.kind = %s AND c.status IN ({', '.join(['%s'] * len(statuses))}) "
        "ORDER BY c.priority DESC, c.name, c.id",
        [Campaign.Kind.PROMOTION, *statuses],
    )


def automatic_promotions(*, include_drafts: bool = False) -> list[Campaign]:
    """Automatic promotions that may apply (active; drafts too for sandbox keys), highest
    priority first. Dates and schedules are judged by the engine."""
    rows = _fetch(*_promotions_sql(include_drafts))
    return [_campaign_from(row, 0)[0] for row in rows]


def _live_usage_sql(source_id: str, include_drafts: bool) -> tuple[str, list]:
    statuses = _live_statuses(include_drafts)
    return (
        f"SELECT {_USAGE.select} FROM {CustomerUsage._meta.db_table} u "  # noqa: S608
        f"JOIN {Customer._meta.db_table} cu ON cu.id = u.customer_id "
        f"JOIN {Campaign._meta.db_table} c ON c.id = u.campaign_id "
        "WHERE cu.source_id = %s AND cu.erased_at IS NULL "
        f"AND c.status IN ({', '.join(['%s'] * len(statuses))})",
        [source_id, *statuses],
    )


@dataclass
class CheckoutRows:
    customer: Customer | None
    vouchers: dict[str, Voucher]
    promotions: list[Campaign]
    # The customer's usage of every live campaign (only live ones can apply), by campaign.
    usage: dict[int, CustomerUsage]


def checkout_rows(
    *, source_id: str | None, codes: Iterable[str], promotions: bool, include_drafts: bool
) -> CheckoutRows:
    """What a checkout reads before judging: the customer, the requested vouchers (with
    campaign, discount and variant), the automatic promotions and the customer's usage of
    live campaigns. Up to four statements, in one round trip on PostgreSQL."""
    wanted = sorted({code.upper() for code in codes})
    statements = []
    if source_id is not None:
        statements += [_customer_sql(source_id), _live_usage_sql(source_id, include_drafts)]
    if wanted:
        statements.append(_vouchers_sql(wanted))
    if promotions:
        statements.append(_promotions_sql(include_drafts))
    results = iter(fetch_all(statements))
    customer, usage = None, {}
    if source_id is not None:
        customer = _customer_from(next(results))
        rows = [_USAGE.take(row, 0)[0] for row in next(results)]
        usage = {row.campaign_id: row for row in rows}
    vouchers = _vouchers_from(next(results)) if wanted else {}
    found = [_campaign_from(row, 0)[0] for row in next(results)] if promotions else []
    return CheckoutRows(customer, vouchers, found, usage)


def owned_vouchers(customer: Customer, *, limit: int = 100) -> list[Voucher]:
    """A customer's own enabled vouchers (with campaign and discount)."""
    return list(
        Voucher.objects.select_related("campaign", "campaign__discount", "variant")
        .filter(customer=customer, enabled=True)
        .order_by("-created_at", "pk")[:limit]
    )


Settings = tuple[
    dict[int, list[ValidationRule]], dict[int, list[ScheduleWindow]], dict[int, list[int]]
]
_SETTINGS_CACHE_SIZE = 4096
_settings_cache: dict[tuple[int, Any], tuple[list, list, list]] = {}
_settings_lock = threading.Lock()


def cached_campaign_settings(campaigns: Iterable[Campaign]) -> Settings:
    """``campaign_settings`` kept per process, by campaign and its ``updated_at``: a campaign
    read again after a change of its rules, schedule or segments is a new key. No query when
    every campaign is known."""
    rules: dict[int, list[ValidationRule]] = defaultdict(list)
    windows: dict[int, list[ScheduleWindow]] = defaultdict(list)
    segments: dict[int, list[int]] = defaultdict(list)
    missing = {}
    for campaign in campaigns:
        key = (campaign.pk, campaign.updated_at)
        found = _settings_cache.get(key)
        if found is None:
            missing[campaign.pk] = key
        else:
            rules[campaign.pk], windows[campaign.pk], segments[campaign.pk] = found
    if missing:
        loaded = campaign_settings(missing)
        with _settings_lock:
            if len(_settings_cache) > _SETTINGS_CACHE_SIZE:
                _settings_cache.clear()
            for pk, key in missing.items():
                found = (loaded[0][pk], loaded[1][pk], loaded[2][pk])
                _settings_cache[key] = found
                rules[pk], windows[pk], segments[pk] = found
    return rules, windows, segments


def clear_settings_cache() -> None:
    _settings_cache.clear()


def campaign_settings(campaign_ids: Iterable[int]) -> Settings:
    """Rules, schedule windows and target segment ids of campaigns: three queries in all."""
    ids = set(campaign_ids)
    rules: dict[int, list[ValidationRule]] = defaultdict(list)
    windows: dict[int, list[ScheduleWindow]] = defaultdict(list)
    segments: dict[int, list[int]] = defaultdict(list)
    if not ids:
        return rules, windows, segments
    for rule in ValidationRule.objects.filter(campaign_id__in=ids).order_by("position", "pk"):
        rules[rule.campaign_id].append(rule)
    for window in ScheduleWindow.objects.filter(campaign_id__in=ids).order_by("pk"):
        windows[window.campaign_id].append(window)
    links = Campaign.segments.through.objects.filter(campaign_id__in=ids).order_by("segment_id")
    for campaign_id, segment_id in links.values_list("campaign_id", "segment_id"):
        segments[campaign_id].append(segment_id)
    return rules, windows, segments


def customer_usage(
    customer: Customer | None, campaign_ids: Iterable[int]
) -> dict[int, CustomerUsage]:
    ids = sorted(set(campaign_ids))
    if customer is None or customer.pk is None or not ids:
        return {}
    rows = _fetch(
        f"SELECT {_USAGE.select} FROM {CustomerUsage._meta.db_table} u "  # noqa: S608
        f"WHERE u.customer_id = %s AND u.campaign_id IN ({', '.join(['%s'] * len(ids))})",
        [customer.pk, *ids],
    )
    usage = [_USAGE.take(row, 0)[0] for row in rows]
    return {row.campaign_id: row for row in usage}


def campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("discount").order_by("-created_at", "-pk")


DAY_STAT_FIELDS = ("succeeded", "failed", "rolled_back", "discount_given", "revenue")


def campaign_day_stats(campaign_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Each campaign's figures per day, summed over the day's slices, newest day first:
    ``{"campaign_id", "day", "succeeded", "failed", "rolled_back", "discount_given",
    "revenue"}``."""
    rows = CampaignDayStats.objects.all()
    if campaign_ids is not None:
        rows = rows.filter(campaign_id__in=list(campaign_ids))
    summed = (
        rows.values("campaign_id", "day")
        .annotate(**{f"sum_{name}": Sum(name) for name in DAY_STAT_FIELDS})
        .order_by("campaign_id", "-day")
    )
    return [
        {
            "campaign_id": row["campaign_id"],
            "day": row["day"],
            **{name: row[f"sum_{name}"] for name in DAY_STAT_FIELDS},
        }
        for row in summed
    ]
