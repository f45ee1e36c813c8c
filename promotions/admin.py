"""Admin for campaigns, vouchers and redemptions.

Campaign and voucher forms refuse what the services refuse, with the same check functions,
and campaigns and vouchers are saved through the services, which never write back the
counters the redemption service keeps. Redemptions are the record of checkouts: read-only.
"""

import csv
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin import ReadOnlyAdmin, ReadOnlyInline, format_money

from . import services
from .admin_codes import CampaignCodesMixin, VoucherImportExportMixin
from .admin_publications import (
    VariantInline,
    end_experiment_keep_winner,
    experiment_results_url,
    publish_to_customers,
)
from .errors import CampaignArchived, CampaignNotReady, VoucherCodeTaken
from .models import (
    Campaign,
    Discount,
    Redemption,
    RedemptionLine,
    ScheduleWindow,
    ValidationRule,
    Voucher,
)
from .redemptions import AlreadyRolledBack, NotRollbackable, rollback_redemption
from .rules import CHECKOUT_FIELDS
from .selectors import voucher_by_code

# --- form fields ---------------------------------------------------------------------------


class IdListField(forms.CharField):
    """A JSON list of the shop's product or category ids, edited as comma-separated text."""

    default_error_messages = {"nul": _("Ids may not contain NUL characters.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vTextField"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if "\x00" in text:
            raise forms.ValidationError(self.error_messages["nul"], code="nul")
        return [part.strip() for part in text.split(",") if part.strip()]

    def has_changed(self, initial, data):
        # An empty box is the empty list a new discount starts with, not a change.
        try:
            return list(initial or []) != self.to_python(data)
        except forms.ValidationError:
            return True


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so a rule tree reads like the docs write it."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField rule-tree"}),
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


def _add_errors(form: forms.Form, errors: dict[str, str]) -> None:
    """Put a service's field -> message errors on the form; fields it lacks go on top."""
    for name, message in errors.items():
        if name in form.errors:
            continue
        form.add_error(name if name in form.fields else None, message)


# --- campaign inlines ----------------------------------------------------------------------


class DiscountForm(forms.ModelForm):
    products = IdListField(
        label=_("Products"),
        help_text=_("Product ids, separated by commas. None and no categories: whole order."),
    )
    categories = IdListField(
        label=_("Categories"), help_text=_("Category ids, separated by commas.")
    )
    excluded_products = IdListField(
        label=_("Excluded products"), help_text=_("Never discounted, even when in scope.")
    )
    excluded_categories = IdListField(
        label=_("Excluded categories"), help_text=_("Never discounted, even when in scope.")
    )

    class Meta:
        model = Discount
        fields = list(services.DISCOUNT_FIELDS)

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in services.DISCOUNT_FIELDS}
        # The campaign form has run by now: its kind is the one being saved.
        kind = self.campaign.kind if self.campaign is not None else None
        _add_errors(self, services.discount_errors(values, kind=kind))
        return cleaned


class DiscountFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "campaign": self.instance}


class DiscountInline(admin.StackedInline):
    model = Discount
    form = DiscountForm
    formset = DiscountFormSet
    extra = 1
    max_num = 1
    verbose_name_plural = _("discount: what the campaign gives")
    fieldsets = (
        (None, {"fields": ("type",)}),
        (_("Amount"), {"fields": ("percent", "amount", "cap")}),
        (_("Free units"), {"fields": ("unit_product", "unit_quantity", "unit_every")}),
        (
            _("Scope"),
            {
                "fields": (
                    "products",
                    "categories",
                    "excluded_products",
                    "excluded_categories",
                )
            },
        ),
    )


def _rule_help() -> str:
    fields = ", ".join(CHECKOUT_FIELDS)
    return _(
        "A JSON rule tree: the segment rule language (customer fields, see docs/segments.md) "
        "plus the checkout fields %(fields)s."
    ) % {"fields": fields}


class RuleForm(forms.ModelForm):
    rules = PrettyJSONField(label=_("Rules"))

    class Meta:
        model = ValidationRule
        fields = ["name", "rules", "failure", "message", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rules"].help_text = _rule_help()
        if self.instance.pk is None and not self.is_bound:
            self.initial["rules"] = {"all": []}
        lines = self.fields["rules"].prepare_value(self.instance.rules).count("\n") + 2
        self.fields["rules"].widget.attrs["rows"] = min(max(lines, 6), 40)

    def clean_rules(self):
        tree = self.cleaned_data["rules"]
        message = services.rule_errors(tree)
        if message:
            raise forms.ValidationError(message)
        return tree


class RuleInline(admin.StackedInline):
    model = ValidationRule
    form = RuleForm
    extra = 0
    verbose_name_plural = _("validation rules: every one must hold")


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = ScheduleWindow
        fields = ["weekday", "start_time", "end_time"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            _add_errors(self, services.schedule_errors(cleaned))
        return cleaned


class ScheduleInline(admin.TabularInline):
    model = ScheduleWindow
    form = ScheduleForm
    extra = 0
    verbose_name_plural = _("weekly schedule (none: always); end 00:00 means midnight")


# --- campaigns -----------------------------------------------------------------------------


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [*services.CAMPAIGN_FIELDS, "segments"]

    def clean(self):
        cleaned = super().clean()
        values = {
            name: cleaned[name] if name in cleaned else getattr(self.instance, name)
            for name in services.CAMPAIGN_FIELDS
        }
        _add_errors(self, services.campaign_errors(values))
        if "kind" in cleaned:
            message = services.kind_change_error(self.instance, cleaned["kind"])
            if message:
                self.add_error("kind", message)
        return cleaned


def _problem_lines(problems: list[str]):
    # Lines, not a nested list: the admin styles every <li> of its message list as a message.
    return format_html_join("", "<br>&bull; {}", ((p,) for p in problems))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """The cell as text; a spreadsheet would run text starting like a formula, so that gets
    a leading apostrophe."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


EXPORT_COLUMNS = (
    ("redemption_id", lambda line: line.redemption_id),
    ("created_at", lambda line: line.redemption.created_at),
    ("redemption_status", lambda line: line.redemption.status),
    ("redemption_reason", lambda line: line.redemption.reason),
    ("test", lambda line: line.redemption.test),
    ("customer", lambda line: line.redemption.customer_source_id),
    ("order", lambda line: line.redemption.order_source_id),
    ("currency", lambda line: line.redemption.currency),
    ("order_amount", lambda line: line.redemption.order_amount),
    ("order_discount_amount", lambda line: line.redemption.discount_amount),
    ("order_total_amount", lambda line: line.redemption.total_amount),
    ("campaign_id", lambda line: line.campaign_id),
    ("campaign", lambda line: line.campaign.name if line.campaign else ""),
    ("code", lambda line: line.code),
    ("line_succeeded", lambda line: line.succeeded),
    ("line_reason", lambda line: line.reason),
    ("discount_amount", lambda line: line.discount_amount),
    ("shipping_discount_amount", lambda line: line.shipping_discount_amount),
    ("gift_card_amount", lambda line: line.gift_card_amount),
    ("client", lambda line: line.redemption.client),
    ("rolled_back_at", lambda line: line.redemption.rolled_back_at),
)


class _Echo:
    """A file-like object whose write hands the line back, for a streamed CSV."""

    def write(self, value):
        return value


def redemptions_csv(lines) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = (
        writer.writerow([spreadsheet_safe(read(line)) for _name, read in EXPORT_COLUMNS])
        for line in lines
    )
    header = writer.writerow([name for name, _read in EXPORT_COLUMNS])
    response = StreamingHttpResponse(
        (row for part in ([header], rows) for row in part), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="redemptions-{stamp}.csv"'
    return response


@admin.register(Campaign)
class CampaignAdmin(CampaignCodesMixin, admin.ModelAdmin):
    form = CampaignForm
    inlines = (DiscountInline, RuleInline, ScheduleInline, VariantInline)
    change_form_template = "admin/promotions/campaign/change_form.html"
    list_display = (
        "name",
        "kind",
        "status",
        "starts_at",
        "ends_at",
        "redemptions_count",
        "display_discount_given",
        "display_budget",
    )
    list_filter = ("kind", "status")
    search_fields = ("name",)
    autocomplete_fields = ("segments",)
    actions = (
        "activate_selected",
        "pause_selected",
        "duplicate_selected",
        "export_redemptions",
        "export_codes",
        publish_to_customers,
        end_experiment_keep_winner,
    )
    readonly_fields = (
        "status",
        "readiness",
        "experiment_results",
        "experiment_ended_at",
        "code_jobs",
        "redemptions_count",
        "display_discount_given",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "status", "readiness")}),
        (_("Dates"), {"fields": ("starts_at", "ends_at", "timezone", "schedule_timezone")}),
        (_("Audience"), {"fields": ("segments",)}),
        (
            _("Limits and budget"),
            {
                "description": _("Empty: no limit. Money in minor units (cents)."),
                "fields": (
                    "max_redemptions",
                    "max_per_customer",
                    "max_per_customer_per_day",
                    "currency",
                    "budget",
                ),
            },
        ),
        (_("Stacking"), {"fields": ("exclusive", "priority")}),
        (_("Redemptions"), {"fields": ("rollback_on_order_cancel",)}),
        (
            _("Codes and publications"),
            {
                "fields": (
                    "code_prefix",
                    "code_pattern",
                    "code_suffix",
                    "code_charset",
                    "code_custom_charset",
                    "code_exclude_ambiguous",
                    "one_code_per_customer",
                    "codes_on_demand",
                    "code_jobs",
                )
            },
        ),
        (_("A/B experiment"), {"fields": ("experiment_results", "experiment_ended_at")}),
        (_("Counters"), {"fields": ("redemptions_count", "display_discount_given")}),
        (
            _("More"),
            {"fields": ("metadata", "created_at", "updated_at"), "classes": ("collapse",)},
        ),
    )

    # --- columns and read-only fields

    @admin.display(description=_("discount given"), ordering="discount_given")
    def display_discount_given(self, obj):
        return format_money(obj.discount_given, obj.currency)

    @admin.display(description=_("budget"), ordering="budget")
    def display_budget(self, obj):
        return format_money(obj.budget, obj.currency) if obj.budget is not None else "-"

    @admin.display(description=_("results"))
    def experiment_results(self, obj):
        if obj is None or obj.pk is None or not obj.variants.exists():
            return _("No variants: add some below to run an experiment.")
        return format_html(
            '<a href="{}">{}</a>', experiment_results_url(obj), _("Results per variant")
        )

    @admin.display(description=_("readiness"))
    def readiness(self, obj):
        if obj is None or obj.pk is None:
            return _("Save the campaign first.")
        problems = services.campaign_problems(obj)
        url = self._url("readiness", obj)
        if not problems:
            return format_html('{} <a href="{}">{}</a>', _("Ready."), url, _("Details"))
        count = ngettext("%(n)d problem", "%(n)d problems", len(problems)) % {"n": len(problems)}
        return format_html('{}: <a href="{}">{}</a>', count, url, _("why it cannot go live"))

    # --- saving through the services

    def save_model(self, request, obj, form, change):
        values = {name: getattr(obj, name) for name in services.CAMPAIGN_FIELDS}
        saved = services.save_campaign(campaign=obj if change else None, values=values)
        if not change:
            obj.pk = saved.pk
            obj.refresh_from_db()

    # --- actions

    def _url(self, view: str, obj: Campaign) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}", args=[quote(obj.pk)]
        )

    def _activate(self, request, campaign: Campaign) -> bool:
        try:
            services.activate_campaign(campaign=campaign)
        except CampaignNotReady as e:
            self.message_user(
                request,
                format_html(
                    "{}{}",
                    _("“%(name)s” cannot go live:") % {"name": campaign.name},
                    _problem_lines(e.details["problems"]),
                ),
                messages.ERROR,
            )
            return False
        except CampaignArchived as e:
            self.message_user(request, f"“{campaign.name}”: {e.message}", messages.ERROR)
            return False
        return True

    def _pause(self, request, campaign: Campaign) -> bool:
        try:
            services.pause_campaign(campaign=campaign)
        except CampaignArchived as e:
            self.message_user(request, f"“{campaign.name}”: {e.message}", messages.ERROR)
            return False
        return True

    @admin.action(description=_("Activate the selected campaigns"), permissions=["change"])
    def activate_selected(self, request, queryset):
        done = sum(self._activate(request, campaign) for campaign in queryset)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d campaign is live.", "%(n)d campaigns are live.", done)
                % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(description=_("Pause the selected campaigns"), permissions=["change"])
    def pause_selected(self, request, queryset):
        done = sum(self._pause(request, campaign) for campaign in queryset)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d campaign paused.", "%(n)d campaigns paused.", done) % {"n": done},
                messages.SUCCESS,
            )

    @admin.action(
        description=_("Duplicate the selected campaigns (as drafts, without codes)"),
        permissions=["add"],
    )
    def duplicate_selected(self, request, queryset):
        copies = [services.duplicate_campaign(campaign=campaign) for campaign in queryset]
        links = format_html_join(
            ", ", '<a href="{}">{}</a>', ((self._url("change", c), c.name) for c in copies)
        )
        self.message_user(request, format_html("{} {}", _("Copied:"), links), messages.SUCCESS)
        if len(copies) == 1:
            return HttpResponseRedirect(self._url("change", copies[0]))
        return None

    @admin.action(
        description=_("Export the redemptions of the selected campaigns (CSV)"),
        permissions=["view"],
    )
    def export_redemptions(self, request, queryset):
        lines = (
            RedemptionLine.objects.filter(campaign__in=queryset)
            .select_related("redemption", "campaign")
            .order_by("redemption__created_at", "redemption_id", "pk")
            .iterator(chunk_size=2000)
        )
        return redemptions_csv(lines)

    # --- per-campaign pages: readiness, and one-click buttons on the change page

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/readiness/",
                view(self.readiness_view),
                name=f"{name}_readiness",
            ),
            path("<path:object_id>/activate/", view(self.activate_view), name=f"{name}_activate"),
            path("<path:object_id>/pause/", view(self.pause_view), name=f"{name}_pause"),
            path(
                "<path:object_id>/duplicate/",
                view(self.duplicate_view),
                name=f"{name}_duplicate",
            ),
            *super().get_urls(),
        ]

    def _campaign(self, request, object_id: str) -> Campaign:
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404(_("No campaign with this id."))
        return campaign

    def readiness_view(self, request, object_id: str):
        campaign = self._campaign(request, object_id)
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": _("Can “%(name)s” go live?") % {"name": campaign.name},
            "problems": services.campaign_problems(campaign),
            "has_change_permission": self.has_change_permission(request, campaign),
            "activate_url": self._url("activate", campaign),
            "change_url": self._url("change", campaign),
        }
        return TemplateResponse(request, "admin/promotions/campaign/readiness.html", context)

    def _post_only(self, request, object_id: str, permission: str) -> Campaign:
        campaign = self._campaign(request, object_id)
        allowed = getattr(self, f"has_{permission}_permission")
        if not (allowed(request, campaign) if permission == "change" else allowed(request)):
            raise PermissionDenied
        return campaign

    def activate_view(self, request, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._post_only(request, object_id, "change")
        if self._activate(request, campaign):
            self.message_user(
                request, _("“%(name)s” is live.") % {"name": campaign.name}, messages.SUCCESS
            )
            return HttpResponseRedirect(self._url("change", campaign))
        return HttpResponseRedirect(self._url("readiness", campaign))

    def pause_view(self, request, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._post_only(request, object_id, "change")
        if self._pause(request, campaign):
            self.message_user(
                request, _("“%(name)s” is paused.") % {"name": campaign.name}, messages.SUCCESS
            )
        return HttpResponseRedirect(self._url("change", campaign))

    def duplicate_view(self, request, object_id: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._post_only(request, object_id, "add")
        copy = services.duplicate_campaign(campaign=campaign)
        self.message_user(
            request,
            _("This is a draft copy of “%(name)s”, without codes.") % {"name": campaign.name},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._url("change", copy))


# --- vouchers ------------------------------------------------------------------------------

VOUCHER_CREATE_FIELDS = (
    "customer",
    "enabled",
    "starts_at",
    "expires_at",
    "max_redemptions",
    "gift_amount",
    "metadata",
)
VOUCHER_UPDATE_FIELDS = (
    "customer",
    "enabled",
    "starts_at",
    "expires_at",
    "max_redemptions",
    "metadata",
)


class VoucherForm(forms.ModelForm):
    class Meta:
        model = Voucher
        fields = ["code", "campaign", *VOUCHER_CREATE_FIELDS]

    def clean_code(self):
        code = (self.cleaned_data.get("code") or "").strip()
        message = services.voucher_code_error(code)
        if message:
            raise forms.ValidationError(message)
        other = voucher_by_code(code)
        if other is not None and other.pk != self.instance.pk:
            raise forms.ValidationError(VoucherCodeTaken.default_message)
        return code

    def clean(self):
        cleaned = super().clean()
        campaign = self.instance.campaign if self.instance.pk else cleaned.get("campaign")
        if campaign is None:
            return cleaned
        values = {
            name: cleaned[name] if name in cleaned else getattr(self.instance, name)
            for name in ("starts_at", "expires_at", "gift_amount")
        }
        _add_errors(self, services.voucher_errors(values, campaign))
        return cleaned


@admin.register(Voucher)
class VoucherAdmin(VoucherImportExportMixin, admin.ModelAdmin):
    form = VoucherForm
    list_display = (
        "code",
        "campaign",
        "customer",
        "enabled",
        "display_status",
        "display_used",
        "display_remaining",
        "display_gift_balance",
    )
    list_filter = ("enabled", "campaign")
    list_select_related = ("campaign", "customer")
    search_fields = ("code",)
    search_help_text = _("Code (any case)")
    autocomplete_fields = ("campaign", "customer")
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        fields = ["code", "campaign", *VOUCHER_CREATE_FIELDS]
        if obj is not None:
            fields += [
                "display_status",
                "redemptions_count",
                "display_remaining",
                "display_gift_balance",
                "created_at",
                "updated_at",
            ]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # A code, its campaign and its initial balance are what was handed out.
        return (
            "code",
            "campaign",
            "gift_amount",
            "display_status",
            "redemptions_count",
            "display_remaining",
            "display_gift_balance",
            "created_at",
            "updated_at",
        )

    @admin.display(description=_("status"))
    def display_status(self, obj):
        if not obj.enabled:
            return _("disabled")
        if obj.campaign.status != Campaign.Status.ACTIVE:
            return _("campaign %(status)s") % {"status": obj.campaign.get_status_display().lower()}
        if obj.remaining_redemptions == 0:
            return _("used up")
        return {
            services.VoucherDates.NOT_STARTED: _("not started"),
            services.VoucherDates.ACTIVE: _("active"),
            services.VoucherDates.EXPIRED: _("expired"),
        }[services.voucher_dates_status(obj)]

    @admin.display(description=_("used"), ordering="redemptions_count")
    def display_used(self, obj):
        return obj.redemptions_count

    @admin.display(description=_("remaining"))
    def display_remaining(self, obj):
        remaining = obj.remaining_redemptions
        return _("no limit") if remaining is None else remaining

    @admin.display(description=_("gift balance"), ordering="gift_balance")
    def display_gift_balance(self, obj):
        if obj.gift_balance is None:
            return "-"
        return format_money(obj.gift_balance, obj.campaign.currency)

    def save_model(self, request, obj, form, change):
        if change:
            values = {name: getattr(obj, name) for name in form.changed_data}
            services.update_voucher(
                voucher=obj,
                values={k: v for k, v in values.items() if k in VOUCHER_UPDATE_FIELDS},
            )
            return
        voucher = services.create_voucher(
            campaign=form.cleaned_data["campaign"],
            code=form.cleaned_data["code"],
            values={name: form.cleaned_data.get(name) for name in VOUCHER_CREATE_FIELDS},
        )
        obj.pk = voucher.pk
        obj.refresh_from_db()


# --- redemptions ---------------------------------------------------------------------------


class MoneyColumns:
    """Amounts of a redemption or one of its lines, in the redemption's currency."""

    @staticmethod
    def _currency(obj) -> str:
        return obj.currency if isinstance(obj, Redemption) else obj.redemption.currency

    @admin.display(description=_("discount"))
    def display_discount(self, obj):
        return format_money(obj.discount_amount, self._currency(obj))

    @admin.display(description=_("shipping discount"))
    def display_shipping_discount(self, obj):
        return format_money(obj.shipping_discount_amount, self._currency(obj))

    @admin.display(description=_("gift card"))
    def display_gift_card(self, obj):
        return format_money(obj.gift_card_amount, self._currency(obj))


class RedemptionLineInline(MoneyColumns, ReadOnlyInline):
    model = RedemptionLine
    fields = (
        "campaign",
        "voucher",
        "code",
        "succeeded",
        "reason",
        "display_discount",
        "display_shipping_discount",
        "display_gift_card",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign", "voucher", "redemption")


class NoDelete:
    """Redemptions back the counters and statistics: undone by rollback, never deleted."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Redemption)
class RedemptionAdmin(NoDelete, MoneyColumns, ReadOnlyAdmin):
    inlines = (RedemptionLineInline,)
    list_display = (
        "created_at",
        "status",
        "reason",
        "order_source_id",
        "customer_source_id",
        "display_order_amount",
        "display_discount",
        "display_total",
        "test",
        "client",
    )
    list_filter = (
        "status",
        "test",
        ("lines__campaign", admin.RelatedOnlyFieldListFilter),
        "created_at",
    )
    search_fields = ("order_source_id", "customer_source_id", "lines__code")
    search_help_text = _("Order id, customer id or code")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ("roll_back_selected",)

    @admin.action(description=_("Roll back selected redemptions"), permissions=["rollback"])
    def roll_back_selected(self, request, queryset):
        done, refused = 0, []
        for redemption in queryset.order_by("pk"):
            try:
                rollback_redemption(
                    redemption_id=redemption.pk,
                    reason=str(_("rolled back in the admin")),
                    by=f"admin:{request.user.get_username()}",
                )
            except (AlreadyRolledBack, NotRollbackable) as e:
                refused.append(f"#{redemption.pk}: {e.message}")
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%d redemption rolled back.", "%d redemptions rolled back.", done) % done,
                messages.SUCCESS,
            )
        if refused:
            self.message_user(request, "; ".join(refused), messages.WARNING)

    def has_rollback_permission(self, request):
        return request.user.has_perm("promotions.change_redemption")

    fieldsets = (
        (
            None,
            {
                "fields": (
                    "status",
                    "reason",
                    "created_at",
                    "order_source_id",
                    "customer_source_id",
                    "customer",
                )
            },
        ),
        (
            _("Amounts"),
            {
                "fields": (
                    "display_order_amount",
                    "display_discount",
                    "display_shipping_discount",
                    "display_gift_card",
                    "display_total",
                )
            },
        ),
        (_("Client"), {"fields": ("test", "client", "client_address")}),
        (_("Rollback"), {"fields": ("rolled_back_at", "rollback_reason", "rolled_back_by")}),
    )

    @admin.display(description=_("order amount"), ordering="order_amount")
    def display_order_amount(self, obj):
        return format_money(obj.order_amount, obj.currency)

    @admin.display(description=_("total"), ordering="total_amount")
    def display_total(self, obj):
        return format_money(obj.total_amount, obj.currency)


@admin.register(RedemptionLine)
class RedemptionLineAdmin(NoDelete, MoneyColumns, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "campaign",
        "succeeded",
        "reason",
        "display_discount",
        "order",
        "created_at",
    )
    list_filter = ("succeeded", "redemption__status", "redemption__test", "campaign")
    list_select_related = ("redemption", "campaign")
    search_fields = ("code", "redemption__order_source_id")
    show_full_result_count = False

    @admin.display(description=_("created at"), ordering="redemption__created_at")
    def created_at(self, obj):
        return obj.redemption.created_at

    @admin.display(description=_("order"), ordering="redemption__order_source_id")
    def order(self, obj):
        return obj.redemption.order_source_id or "-"
