"""Admin for publications and A/B experiments.

Registered here: Publication (read-only), Variant (with the experiment results page),
VariantAssignment (read-only). For the campaign admin: ``VariantInline`` and the actions
``publish_to_customers`` and ``end_experiment_keep_winner``; ``experiment_results_url`` links
a campaign to its results page.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.errors import DomainError
from customers.admin import ReadOnlyAdmin, format_money
from customers.models import Customer
from segments.models import Segment
from segments.selectors import segment_members

from . import experiments, services
from .experiments import ExperimentResults
from .models import Campaign, Publication, Variant, VariantAssignment
from .publications import NoCodesLeft, publish

# Publishing runs in the admin's request: more customers than this go through the API.
MAX_ADMIN_PUBLICATIONS = 5000
TEMPLATES = "admin/promotions/experiments"


# --- variants ------------------------------------------------------------------------------


class DiscountJSONField(forms.JSONField):
    """A variant's discount, written as the campaign's discount fields in JSON."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField"}),
        )
        kwargs.setdefault(
            "help_text",
            _(
                'The discount\'s fields, e.g. {"type": "percent", "percent": "15"} or '
                '{"type": "amount", "amount": 500} (minor units).'
            ),
        )
        super().__init__(**kwargs)


class VariantForm(forms.ModelForm):
    discount = DiscountJSONField(label=_("Discount"))

    class Meta:
        model = Variant
        fields = ("campaign", "name", "weight", "message", "discount", "active")

    def __init__(self, *args, campaign: Campaign | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Given by the campaign page's inline: the variant is that campaign's.
        self.campaign = campaign
        if campaign is not None:
            self.fields.pop("campaign", None)

    def clean(self):
        cleaned = super().clean()
        campaign = self.campaign or cleaned.get("campaign")
        if campaign is None:
            return cleaned
        if campaign.kind == Campaign.Kind.PROMOTION:
            raise forms.ValidationError(
                _("An automatic promotion gives no codes, so it cannot run an experiment.")
            )
        discount = cleaned.get("discount")
        if not isinstance(discount, dict):
            self.add_error("discount", _("A JSON object with the discount's fields."))
            return cleaned
        errors = services.discount_errors(discount, kind=campaign.kind)
        if errors:
            self.add_error(
                "discount", [f"{name}: {message}" for name, message in sorted(errors.items())]
            )
        return cleaned


class VariantFormSet(forms.BaseInlineFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "campaign": self.instance}


class VariantInline(admin.TabularInline):
    """The campaign's A/B variants: each its own discount and message, split by weight."""

    model = Variant
    form = VariantForm
    formset = VariantFormSet
    fields = ("name", "weight", "discount", "message", "active", "winner")
    readonly_fields = ("winner",)
    extra = 0
    verbose_name = _("A/B variant")
    verbose_name_plural = _("A/B variants: customers are split by weight, each keeps their variant")


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    form = VariantForm
    list_display = ("name", "campaign", "weight", "active", "winner", "results_link")
    list_filter = ("active", "winner")
    list_select_related = ("campaign",)
    search_fields = ("name", "campaign__name")
    autocomplete_fields = ("campaign",)
    readonly_fields = ("winner",)

    @admin.display(description=_("results"))
    def results_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', experiment_results_url(obj.campaign), _("Results")
        )

    def get_urls(self):
        return [
            path(
                "experiment/<int:campaign_id>/",
                self.admin_site.admin_view(self.experiment_view),
                name="promotions_variant_experiment",
            ),
            *super().get_urls(),
        ]

    def experiment_view(self, request, campaign_id: int):
        """One campaign's experiment: results per variant, and ending it keeping a winner."""
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise Http404(_("No campaign with this id."))
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_end = self.has_change_permission(request)
        if request.method == "POST":
            if not can_end:
                raise PermissionDenied
            form = WinnerForm(request.POST, campaign=campaign)
            if form.is_valid() and _end(self, request, campaign, form.cleaned_data["winner"]):
                return HttpResponseRedirect(experiment_results_url(campaign))
        else:
            form = WinnerForm(campaign=campaign)
        return experiment_page(self, request, campaign, form if can_end else None)


def experiment_results_url(campaign: Campaign) -> str:
    """The results page of a campaign's experiment (to link from the campaign admin)."""
    return reverse("admin:promotions_variant_experiment", args=[campaign.pk])


class WinnerForm(forms.Form):
    winner = forms.ModelChoiceField(
        queryset=Variant.objects.none(),
        widget=forms.RadioSelect,
        label=_("Keep"),
        empty_label=None,
        help_text=_(
            "Its discount becomes the campaign's; the other variants are switched off. Codes "
            "already given keep the discount they were given."
        ),
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        winner = self.fields["winner"]
        winner.queryset = Variant.objects.filter(campaign=campaign).order_by("pk")
        winner.label_from_instance = lambda variant: variant.name


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _p_value(comparison: experiments.Comparison | None) -> str:
    if comparison is None or comparison.p_value is None:
        return "-"
    return f"{comparison.p_value:.4f}"


def results_rows(results: ExperimentResults) -> list[dict]:
    """The results table, formatted for a page."""
    currency = results.campaign.currency
    return [
        {
            "variant": r.variant,
            "published": r.published,
            "redeemed": r.redeemed,
            "converted": r.converted,
            "conversion_rate": _percent(r.conversion_rate),
            "discount_cost": format_money(r.discount_cost, currency),
            "revenue": format_money(r.revenue, currency),
            "p_value": _p_value(r.versus_control),
            "significant": r.versus_control is not None and r.versus_control.significant,
            "control": i == 0,
        }
        for i, r in enumerate(results.variants)
    ]


def experiment_page(model_admin, request, campaign: Campaign, form, *, action: str = ""):
    results = experiments.experiment_results(campaign)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Campaign._meta,
        "title": _("Experiment of “%(name)s”") % {"name": campaign.name},
        "campaign": campaign,
        "results": results,
        "rows": results_rows(results),
        "leaders": results.leaders,
        "alpha": experiments.ALPHA,
        "form": form if results.running else None,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "change_url": reverse("admin:promotions_campaign_change", args=[campaign.pk]),
    }
    return TemplateResponse(request, f"{TEMPLATES}/experiment.html", context)


def _end(model_admin, request, campaign: Campaign, winner: Variant) -> bool:
    try:
        experiments.end_experiment(campaign=campaign, winner=winner)
    except DomainError as e:
        model_admin.message_user(request, f"“{campaign.name}”: {e.message}", messages.ERROR)
        return False
    model_admin.message_user(
        request,
        _("“%(name)s” keeps “%(winner)s”: its discount is now the campaign's.")
        % {"name": campaign.name, "winner": winner.name},
        messages.SUCCESS,
    )
    return True


# --- campaign actions ----------------------------------------------------------------------


@admin.action(
    description=_("End the experiment and keep a winner (one campaign)"),
    permissions=["change"],
)
def end_experiment_keep_winner(model_admin, request, queryset):
    """For ``CampaignAdmin.actions``: shows the results with p-values, then keeps the chosen
    variant."""
    campaigns = list(queryset[:2])
    if len(campaigns) != 1:
        model_admin.message_user(
            request, _("Choose one campaign to end its experiment."), messages.WARNING
        )
        return None
    campaign = campaigns[0]
    if not Variant.objects.filter(campaign=campaign).exists():
        model_admin.message_user(
            request, _("“%(name)s” has no variants.") % {"name": campaign.name}, messages.ERROR
        )
        return None
    if "apply" in request.POST:
        form = WinnerForm(request.POST, campaign=campaign)
        if form.is_valid() and _end(model_admin, request, campaign, form.cleaned_data["winner"]):
            return None
    else:
        form = WinnerForm(campaign=campaign)
    return experiment_page(
        model_admin, request, campaign, form, action="end_experiment_keep_winner"
    )


def _source_ids(text: str) -> list[str]:
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text) if part))


class PublishForm(forms.Form):
    customers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        label=_("Customers"),
        help_text=_("Their source_ids, separated by commas, spaces or new lines."),
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.order_by("name"),
        required=False,
        label=_("Or a segment"),
        help_text=_("Every current member (at most %(n)s).") % {"n": MAX_ADMIN_PUBLICATIONS},
    )

    def clean(self):
        cleaned = super().clean()
        source_ids = _source_ids(cleaned.get("customers") or "")
        segment = cleaned.get("segment")
        if bool(source_ids) == bool(segment):
            raise forms.ValidationError(_("Give either customers or a segment."))
        if segment is not None:
            members = list(segment_members(segment).order_by("pk")[: MAX_ADMIN_PUBLICATIONS + 1])
            if len(members) > MAX_ADMIN_PUBLICATIONS:
                raise forms.ValidationError(
                    _(
                        "“%(name)s” has more than %(n)s members: publish to them through the "
                        "API (POST /api/v1/publications)."
                    )
                    % {"name": segment.name, "n": MAX_ADMIN_PUBLICATIONS}
                )
            cleaned["members"], cleaned["unknown"] = members, []
            return cleaned
        if len(source_ids) > MAX_ADMIN_PUBLICATIONS:
            raise forms.ValidationError(
                _("At most %(n)s customers at a time.") % {"n": MAX_ADMIN_PUBLICATIONS}
            )
        found = {
            c.source_id: c
            for c in Customer.objects.filter(source_id__in=source_ids, erased_at__isnull=True)
        }
        cleaned["members"] = [found[s] for s in source_ids if s in found]
        cleaned["unknown"] = [s for s in source_ids if s not in found]
        return cleaned


@admin.action(description=_("Publish codes to customers or a segment"), permissions=["change"])
def publish_to_customers(model_admin, request, queryset):
    """For ``CampaignAdmin.actions``: give each customer (listed, or a segment's members) a
    code of each selected campaign, as ``POST /api/v1/publications`` would."""
    campaigns = list(queryset)
    if "apply" in request.POST:
        form = PublishForm(request.POST)
        if form.is_valid():
            for campaign in campaigns:
                _publish_all(model_admin, request, campaign, form.cleaned_data["members"])
            unknown = form.cleaned_data["unknown"]
            if unknown:
                model_admin.message_user(
                    request,
                    _("No customer with these source_ids: %(ids)s")
                    % {"ids": ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")},
                    messages.WARNING,
                )
            return None
    else:
        form = PublishForm()
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": _("Publish codes"),
        "campaigns": campaigns,
        "form": form,
        "action": "publish_to_customers",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, f"{TEMPLATES}/publish.html", context)


def _publish_all(model_admin, request, campaign: Campaign, customers: list[Customer]) -> None:
    made = kept = 0
    failures: dict[str, int] = {}
    for i, customer in enumerate(customers):
        try:
            publication = publish(campaign=campaign, customer=customer, source="admin")
        except NoCodesLeft as e:
            # The pool is empty for everyone left as well.
            failures[e.message] = failures.get(e.message, 0) + len(customers) - i
            break
        except DomainError as e:
            failures[e.message] = failures.get(e.message, 0) + 1
            continue
        if publication.created:
            made += 1
        else:
            kept += 1
    if made or kept:
        text = ngettext(
            "“%(name)s”: %(n)d code published.", "“%(name)s”: %(n)d codes published.", made
        ) % {"name": campaign.name, "n": made}
        if kept:
            text += " " + ngettext(
                "%(n)d customer already had theirs.", "%(n)d customers already had theirs.", kept
            ) % {"n": kept}
        model_admin.message_user(request, text, messages.SUCCESS)
    for message, count in failures.items():
        model_admin.message_user(
            request,
            ngettext(
                "“%(name)s”: %(n)d customer got no code: %(why)s",
                "“%(name)s”: %(n)d customers got no code: %(why)s",
                count,
            )
            % {"name": campaign.name, "n": count, "why": message},
            messages.ERROR,
        )


# --- publications and assignments: the record ----------------------------------------------


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    list_display = ("code", "campaign", "customer_id_display", "variant", "source", "created_at")
    list_filter = ("source", "single", "campaign", "created_at")
    list_select_related = ("voucher", "campaign", "customer", "variant")
    search_fields = ("voucher__code", "customer__source_id")
    search_help_text = _("Code or customer source_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ("campaign", "customer", "voucher", "variant", "single", "source", "created_at")
    raw_id_fields = ("customer", "voucher")

    @admin.display(description=_("code"), ordering="voucher__code")
    def code(self, obj):
        return obj.voucher.code

    @admin.display(description=_("customer"), ordering="customer__source_id")
    def customer_id_display(self, obj):
        return obj.customer.source_id


@admin.register(VariantAssignment)
class VariantAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("customer", "campaign", "variant", "created_at")
    list_filter = ("campaign",)
    list_select_related = ("customer", "campaign", "variant")
    search_fields = ("customer__source_id",)
    show_full_result_count = False
    raw_id_fields = ("customer",)
