"""Campaign and voucher writes, and the checks that decide whether a campaign can go live.

The admin and the management API both call these, so they refuse the same things.
"""

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from segments.errors import InvalidRules
from segments.models import Segment

from .codes import code_settings_errors
from .errors import (
    CampaignArchived,
    CampaignNotReady,
    InvalidCampaign,
    InvalidVoucher,
    VoucherCodeTaken,
)
from .giftcards import issue_gift_card
from .models import Campaign, Discount, ScheduleWindow, ValidationRule, Voucher
from .rules import validate_campaign_rules

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CAMPAIGN_FIELDS = (
    "name",
    "description",
    "kind",
    "starts_at",
    "ends_at",
    "timezone",
    "schedule_timezone",
    "currency",
    "max_redemptions",
    "max_per_customer",
    "max_per_customer_per_day",
    "budget",
    "exclusive",
    "priority",
    "rollback_on_order_cancel",
    "code_prefix",
    "code_pattern",
    "code_suffix",
    "code_charset",
    "code_custom_charset",
    "code_exclude_ambiguous",
    "one_code_per_customer",
    "codes_on_demand",
    "metadata",
)
DISCOUNT_FIELDS = (
    "type",
    "percent",
    "amount",
    "cap",
    "unit_product",
    "unit_quantity",
    "unit_every",
    "products",
    "categories",
    "excluded_products",
    "excluded_categories",
)
ID_LIST_FIELDS = ("products", "categories", "excluded_products", "excluded_categories")
MAX_IDS = 1000
MIDNIGHT = dt.time(0, 0)


class VoucherDates:
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    EXPIRED = "expired"
    CHOICES = (NOT_STARTED, ACTIVE, EXPIRED)


# --- checks --------------------------------------------------------------------------------


def discount_errors(values: dict[str, Any], *, kind: str | None = None) -> dict[str, str]:
    """What is wrong with a discount's fields (field -> message); empty when it is whole."""
    errors: dict[str, str] = {}
    kind_of = values.get("type")
    if kind_of not in Discount.Type.values:
        return {"type": _("Choose one of: %s.") % ", ".join(Discount.Type.values)}
    percent, amount = values.get("percent"), values.get("amount")
    if kind_of == Discount.Type.PERCENT:
        try:
            value = Decimal(str(percent)) if percent is not None else None
        except InvalidOperation:
            value = None
        if value is None or not Decimal("0") < value <= Decimal("100"):
            errors["percent"] = _("A percent discount needs a percent above 0, at most 100.")
        elif value != value.quantize(Decimal("0.01")):
            errors["percent"] = _("A percent has at most two decimals.")
    elif percent is not None:
        errors["percent"] = _("Only a percent discount has a percent.")
    if kind_of in (Discount.Type.AMOUNT, Discount.Type.FIXED_PRICE):
        if not isinstance(amount, int) or amount < 0 or (kind_of == "amount" and amount == 0):
            errors["amount"] = _("Give the amount in minor units (cents), a whole number.")
    elif amount is not None:
        errors["amount"] = _("Only amount and fixed price discounts have an amount.")
    cap = values.get("cap")
    if cap is not None and (kind_of != Discount.Type.PERCENT or cap < 0):
        errors["cap"] = _("Only a percent discount has a cap, of at least 0.")
    if kind_of == Discount.Type.UNIT:
        if not values.get("unit_product"):
            errors["unit_product"] = _("Name the product whose units are free.")
        if not values.get("unit_quantity"):
            errors["unit_quantity"] = _("Say how many units are free.")
    else:
        for name in ("unit_product", "unit_quantity", "unit_every"):
            if values.get(name):
                errors[name] = _("Only a free-units discount has this.")
    for name in ID_LIST_FIELDS:
        ids = values.get(name) or []
        if (
            not isinstance(ids, list)
            or len(ids) > MAX_IDS
            or not all(isinstance(i, str) and 0 < len(i) <= 255 for i in ids)
        ):
            errors[name] = _("A list of at most %(n)s product or category ids.") % {"n": MAX_IDS}
    whole_order = (Discount.Type.FREE_SHIPPING, Discount.Type.GIFT_CARD)
    if kind_of in whole_order and any(values.get(name) for name in ID_LIST_FIELDS):
        errors["products"] = _("This discount applies to the whole order.")
    if kind is not None:
        gift_kind = kind == Campaign.Kind.GIFT_CARDS
        if gift_kind != (kind_of == Discount.Type.GIFT_CARD):
            errors["type"] = _("Gift card campaigns, and only they, give a gift card balance.")
    return errors


def campaign_errors(values: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a campaign's own fields (field -> message)."""
    errors: dict[str, str] = {}
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The end must be after the start.")
    try:
        ZoneInfo(values.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("Unknown time zone; use a name like Europe/Dublin.")
    currency = values.get("currency") or settings.OFFERWISE_CURRENCY
    if currency != settings.OFFERWISE_CURRENCY:
        errors["currency"] = _("This installation works in %(c)s.") % {
            "c": settings.OFFERWISE_CURRENCY
        }
    budget = values.get("budget")
    if budget is not None and budget < 0:
        errors["budget"] = _("A budget is at least 0.")
    errors.update(code_settings_errors(values))
    return errors


def rule_errors(tree: Any) -> str | None:
    """What is wrong with a validation rule tree, starting with the path of the bad node."""
    try:
        validate_campaign_rules(tree)
    except InvalidRules as e:
        return e.message
    return None


def schedule_errors(window: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a weekly schedule window (field -> message)."""
    errors: dict[str, str] = {}
    weekday = window.get("weekday")
    if isinstance(weekday, bool) or weekday not in ScheduleWindow.Weekday.values:
        errors["weekday"] = _("A weekday from 1 (Monday) to 7 (Sunday).")
    start = window.get("start_time", MIDNIGHT)
    end = window.get("end_time", MIDNIGHT)
    if not isinstance(start, dt.time) or not isinstance(end, dt.time):
        errors["start_time"] = _("Times of day like 09:00.")
    elif end != MIDNIGHT and end <= start:
        errors["end_time"] = _("The end must be after the start (00:00 as the end: midnight).")
    return errors


def kind_change_error(campaign: Campaign, kind: str) -> str | None:
    """Why a saved campaign cannot change to this kind, or None."""
    if campaign.pk is None or kind == campaign.kind:
        return None
    if campaign.vouchers.exists():
        return _("A campaign with codes keeps its kind.")
    return None


def campaign_problems(campaign: Campaign, *, now=None) -> list[str]:
    """Why the campaign cannot go live, in words for the marketer; empty when it can."""
    now = now or timezone.now()
    problems = []
    if campaign.status == Campaign.Status.ARCHIVED:
        problems.append(_("The campaign is archived."))
    for message in campaign_errors(
        {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS}
    ).values():
        problems.append(message)
    try:
        discount = campaign.discount
    except Discount.DoesNotExist:
        problems.append(_("It has no discount: say what it gives."))
    else:
        values = {name: getattr(discount, name) for name in DISCOUNT_FIELDS}
        for name, message in discount_errors(values, kind=campaign.kind).items():
            problems.append(f"{_('Discount')} {name}: {message}")
    if campaign.ends_at and campaign.ends_at <= now:
        problems.append(_("It ended on %(when)s.") % {"when": campaign.ends_at.isoformat()})
    if campaign.kind != Campaign.Kind.PROMOTION and not campaign.vouchers.exists():
        problems.append(_("It has no codes yet: add a voucher or generate codes."))
    if campaign.kind == Campaign.Kind.PROMOTION and campaign.vouchers.exists():
        problems.append(_("An automatic promotion has no codes; remove its vouchers."))
    for rule in campaign.rules.all():
        message = rule_errors(rule.rules)
        if message:
            problems.append(
                _("Rule “%(name)s”: %(message)s") % {"name": rule.name, "message": message}
            )
    if (
        campaign.max_redemptions is not None
        and campaign.redemptions_count >= campaign.max_redemptions
    ):
        problems.append(_("Its redemption limit is reached."))
    if campaign.budget is not None and campaign.discount_given >= campaign.budget:
        problems.append(_("Its budget is used up."))
    return problems


# --- campaigns -----------------------------------------------------------------------------


def _check(
    campaign_values: dict,
    discount: dict | None,
    rules: list[dict],
    schedule: list[dict],
    kind: str,
) -> None:
    errors: dict[str, Any] = dict(campaign_errors(campaign_values))
    if discount is not None:
        errors.update({f"discount.{k}": v for k, v in discount_errors(discount, kind=kind).items()})
    for i, rule in enumerate(rules):
        message = rule_errors(rule.get("rules"))
        if message:
            errors[f"rules[{i}].rules"] = message
    for i, window in enumerate(schedule):
        errors.update({f"schedule[{i}].{k}": v for k, v in schedule_errors(window).items()})
    if errors:
        raise InvalidCampaign(details=errors)


def _kept_discount_errors(campaign: Campaign, kind: str) -> dict[str, str]:
    """A kind change must still fit the discount the campaign keeps."""
    try:
        discount = campaign.discount
    except Discount.DoesNotExist:
        return {}
    values = {name: getattr(discount, name) for name in DISCOUNT_FIELDS}
    return {f"discount.{k}": v for k, v in discount_errors(values, kind=kind).items()}


@transaction.atomic
def save_campaign(
    *,
    campaign: Campaign | None = None,
    values: dict[str, Any],
    discount: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    schedule: list[dict[str, Any]] | None = None,
    segment_ids: Iterable[int] | None = None,
) -> Campaign:
    """Create a campaign (``campaign`` None, as a draft) or change the parts given; rules,
    schedule and segments given replace the old ones. Raises InvalidCampaign."""
    creating = campaign is None
    campaign = campaign or Campaign()
    merged = {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS}
    merged.update({k: v for k, v in values.items() if k in CAMPAIGN_FIELDS})
    if not creating:
        message = kind_change_error(campaign, merged["kind"])
        if message:
            raise InvalidCampaign(details={"kind": message})
        if discount is None and merged["kind"] != campaign.kind:
            errors = _kept_discount_errors(campaign, merged["kind"])
            if errors:
                raise InvalidCampaign(details=errors)
    _check(merged, discount, rules or [], schedule or [], merged["kind"])
    if Campaign.objects.filter(name=merged["name"]).exclude(pk=campaign.pk).exists():
        raise InvalidCampaign(details={"name": _("Another campaign has this name.")})
    for name, value in merged.items():
        setattr(campaign, name, value)
    try:
        with transaction.atomic():
            if creating:
                campaign.save()
            else:
                # Never the counters: the redemption service moves them with guarded
                # UPDATEs, and a full save would write back the values read here.
                campaign.save(update_fields=[*CAMPAIGN_FIELDS, "updated_at"])
    except IntegrityError:
        raise InvalidCampaign(details={"name": _("Another campaign has this name.")}) from None
    if discount is not None:
        Discount.objects.update_or_create(
            campaign=campaign, defaults={k: discount.get(k, _empty(k)) for k in DISCOUNT_FIELDS}
        )
    if rules is not None:
        campaign.rules.all().delete()
        ValidationRule.objects.bulk_create(
            ValidationRule(
                campaign=campaign,
                name=rule.get("name") or f"Rule {i + 1}",
                rules=rule["rules"],
                failure=rule.get("failure", ""),
                message=rule.get("message", ""),
                position=i,
            )
            for i, rule in enumerate(rules)
        )
    if schedule is not None:
        campaign.schedule.all().delete()
        ScheduleWindow.objects.bulk_create(
            ScheduleWindow(campaign=campaign, **window) for window in schedule
        )
    if segment_ids is not None:
        ids = list(segment_ids)
        found = set(Segment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            raise InvalidCampaign(details={"segments": _("No segment with id %s.") % missing})
        campaign.segments.set(ids)
    if rules is not None or schedule is not None or segment_ids is not None:
        # Last, after every part is written: see touch_campaign.
        touch_campaign(campaign.pk)
        campaign.refresh_from_db(fields=["updated_at"])
    return campaign


def touch_campaign(campaign_id: int) -> None:
    """Move a campaign's ``updated_at`` after a change of its rules, schedule or segments:
    checkouts keep those per process by campaign and ``updated_at``
    (``selectors.cached_campaign_settings``), so the touch must come after the change."""
    Campaign.objects.filter(pk=campaign_id).update(updated_at=timezone.now())


def _empty(name: str) -> Any:
    if name in ID_LIST_FIELDS:
        return []
    if name == "unit_product":
        return ""
    return None


@transaction.atomic
def activate_campaign(*, campaign: Campaign) -> Campaign:
    """Put a campaign live. Raises CampaignNotReady with the problems, CampaignArchived."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        raise CampaignArchived()
    problems = campaign_problems(campaign)
    if problems:
        raise CampaignNotReady(details={"problems": problems})
    if campaign.status != Campaign.Status.ACTIVE:
        campaign.status = Campaign.Status.ACTIVE
        campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def pause_campaign(*, campaign: Campaign) -> Campaign:
    """Stop a live campaign for now. Raises CampaignArchived."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status == Campaign.Status.ARCHIVED:
        raise CampaignArchived()
    if campaign.status == Campaign.Status.ACTIVE:
        campaign.status = Campaign.Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def archive_campaign(*, campaign: Campaign) -> Campaign:
    campaign.status = Campaign.Status.ARCHIVED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


@transaction.atomic
def duplicate_campaign(*, campaign: Campaign) -> Campaign:
    """A draft copy with the same discount, rules, schedule and segments; no codes, no
    counters."""
    # Room for the suffixes within the name's 200 characters.
    base = _("%(name)s (copy)") % {"name": campaign.name[:180]}
    name, n = base, 2
    while Campaign.objects.filter(name=name).exists():
        name, n = f"{base} {n}", n + 1
    copy = Campaign.objects.get(pk=campaign.pk)
    copy.pk = None
    copy.name = name
    copy.status = Campaign.Status.DRAFT
    copy.redemptions_count = 0
    copy.discount_given = 0
    copy.created_at = timezone.now()
    copy.save()
    # Fresh rows, so the caller's campaign keeps its own related objects.
    discount = Discount.objects.filter(campaign_id=campaign.pk).first()
    if discount is not None:
        discount.pk = None
        discount.campaign = copy
        discount.save()
    for rule in campaign.rules.all():
        rule.pk, rule.campaign = None, copy
        rule.save()
    for window in campaign.schedule.all():
        window.pk, window.campaign = None, copy
        window.save()
    copy.segments.set(campaign.segments.all())
    return copy


# --- vouchers ------------------------------------------------------------------------------


def voucher_code_error(code: str) -> str | None:
    """Why a text cannot be a voucher code, or None."""
    if CODE_PATTERN.fullmatch(code or ""):
        return None
    return _("1 to 64 letters, digits, '-' or '_', starting with one of the first two.")


def voucher_errors(values: dict[str, Any], campaign: Campaign) -> dict[str, str]:
    """What is wrong with a voucher's fields in this campaign (field -> message)."""
    errors: dict[str, str] = {}
    starts, expires = values.get("starts_at"), values.get("expires_at")
    if starts and expires and expires <= starts:
        errors["expires_at"] = _("The expiry must be after the start.")
    gift = values.get("gift_amount")
    if campaign.kind == Campaign.Kind.GIFT_CARDS:
        if gift is None or gift <= 0:
            errors["gift_amount"] = _("A gift card needs a balance above 0 (minor units).")
    elif gift is not None:
        errors["gift_amount"] = _("Only gift card campaigns have a balance.")
    if campaign.kind == Campaign.Kind.PROMOTION:
        errors["campaign"] = _("An automatic promotion has no codes.")
    return errors


@transaction.atomic
def create_voucher(
    *, campaign: Campaign, code: str, values: dict[str, Any] | None = None
) -> Voucher:
    """A new code in a campaign. Raises InvalidVoucher, VoucherCodeTaken."""
    values = dict(values or {})
    code = (code or "").strip()
    message = voucher_code_error(code)
    if message:
        raise InvalidVoucher(details={"code": message})
    errors = voucher_errors(values, campaign)
    if errors:
        raise InvalidVoucher(details=errors)
    if "gift_amount" in values and values["gift_amount"] is not None:
        values["gift_balance"] = values["gift_amount"]
    try:
        with transaction.atomic():
            voucher = Voucher.objects.create(campaign=campaign, code=code, **values)
    except IntegrityError:
        raise VoucherCodeTaken(details={"code": code}) from None
    # A gift card's ledger starts with its initial balance, so it adds up to the balance.
    issue_gift_card(voucher=voucher)
    return voucher


@transaction.atomic
def update_voucher(*, voucher: Voucher, values: dict[str, Any]) -> Voucher:
    """Change a voucher's owner, dates, limit, enabled flag or metadata. Raises InvalidVoucher.
    The gift balance only moves through redemptions."""
    allowed = {"customer", "enabled", "starts_at", "expires_at", "max_redemptions", "metadata"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise InvalidVoucher(details={name: _("Cannot be changed.") for name in unknown})
    merged = {"starts_at": voucher.starts_at, "expires_at": voucher.expires_at, **values}
    errors = voucher_errors({**merged, "gift_amount": voucher.gift_amount}, voucher.campaign)
    if errors:
        raise InvalidVoucher(details=errors)
    for name, value in values.items():
        setattr(voucher, name, value)
    # Only the fields given: the counters and the gift balance move with redemptions.
    voucher.save(update_fields=[*values, "updated_at"])
    return voucher


def voucher_dates_status(voucher: Voucher, *, now: dt.datetime | None = None) -> str:
    """``not_started``, ``active`` or ``expired``, by the voucher's and its campaign's dates
    (as the checkout judges them)."""
    now = now or timezone.now()
    campaign = voucher.campaign
    if any(t and now < t for t in (campaign.starts_at, voucher.starts_at)):
        return VoucherDates.NOT_STARTED
    if any(t and now >= t for t in (campaign.ends_at, voucher.expires_at)):
        return VoucherDates.EXPIRED
    return VoucherDates.ACTIVE
