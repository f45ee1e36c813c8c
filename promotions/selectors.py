"""Read queries of the promotions app, shared by the checkout engine, the API and the admin."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet
from django.db.models.functions import Upper

from customers.models import Customer

from .models import Campaign, CustomerUsage, ScheduleWindow, ValidationRule, Voucher


def vouchers_by_codes(codes: Iterable[str]) -> dict[str, Voucher]:
    """Vouchers (with campaign and discount) by upper-cased code: one query on the
    ``voucher_code_unique`` index."""
    wanted = {code.upper() for code in codes}
    if not wanted:
        return {}
    found = (
        Voucher.objects.select_related("campaign", "campaign__discount", "variant")
        .annotate(upper_code=Upper("code"))
        .filter(upper_code__in=wanted)
    )
    return {voucher.upper_code: voucher for voucher in found}


def voucher_by_code(code: str) -> Voucher | None:
    return vouchers_by_codes([code]).get(code.upper())


def automatic_promotions(*, include_drafts: bool = False) -> list[Campaign]:
    """Automatic promotions that may apply (active; drafts too for sandbox keys), highest
    priority first. Dates and schedules are judged by the engine."""
    statuses = [Campaign.Status.ACTIVE]
    if include_drafts:
        statuses.append(Campaign.Status.DRAFT)
    return list(
        Campaign.objects.select_related("discount")
        .filter(kind=Campaign.Kind.PROMOTION, status__in=statuses)
        .order_by("-priority", "name", "pk")
    )


def owned_vouchers(customer: Customer, *, limit: int = 100) -> list[Voucher]:
    """A customer's own enabled vouchers (with campaign and discount)."""
    return list(
        Voucher.objects.select_related("campaign", "campaign__discount", "variant")
        .filter(customer=customer, enabled=True)
        .order_by("-created_at", "pk")[:limit]
    )


def campaign_settings(
    campaign_ids: Iterable[int],
) -> tuple[dict[int, list[ValidationRule]], dict[int, list[ScheduleWindow]], dict[int, list[int]]]:
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
    ids = set(campaign_ids)
    if customer is None or customer.pk is None or not ids:
        return {}
    rows = CustomerUsage.objects.filter(customer=customer, campaign_id__in=ids)
    return {row.campaign_id: row for row in rows}


def campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("discount").order_by("-created_at", "-pk")
