"""Admin for loyalty programmes, tiers, earning rules, the catalog, members and referrals.

Balances and the ledger are never edited here: a member's page takes a manual adjustment
(points and a reason), made through ``loyalty.services.ledger.adjust`` like any other
movement. Redemptions are records; fulfilments have an editable status.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin import CUSTOMER_PAGE_SECTIONS, ReadOnlyAdmin, ReadOnlyInline, format_money
from customers.models import Customer
from loyalty import selectors
from loyalty.errors import LoyaltyError
from loyalty.models import (
    Charity,
    EarningRule,
    Fulfilment,
    Member,
    PointsEntry,
    Program,
    Referral,
    ReferralProgram,
    ReferralTierLimit,
    Reward,
    RewardRedemption,
    RuleTierValue,
    Sweepstake,
    SweepstakeDraw,
    Tier,
)
from loyalty.services import ledger, sweepstakes, tiers
from promotions.models import Campaign

# --- programmes and tiers -------------------------------------------------------------------


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["name", "points_name", "active", "pending_days", "expiry", "dashboard_link"]
    inlines = [TierInline]
    fieldsets = [
        (None, {"fields": ["name", "points_name", "active", "currency", "rounding"]}),
        (_("Pending and expiry"), {"fields": ["pending_days", "expiry", "expiry_months"]}),
        (_("Caps"), {"fields": ["max_points_per_order", "max_points_per_day"]}),
        (_("Tiers"), {"fields": ["tier_basis", "qualifying_months", "expiring_soon_days"]}),
    ]

    @admin.display(description=_("Dashboard"))
    def dashboard_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("loyalty:program", args=[obj.pk]), _("Open")
        )


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "threshold", "multiplier"]
    list_filter = ["program"]


# --- earning rules --------------------------------------------------------------------------


class RuleTierValueInline(admin.TabularInline):
    model = RuleTierValue
    extra = 0


def multiplier_errors(value) -> str | None:
    if not isinstance(value, dict):
        return _('A JSON object of ids to multipliers, e.g. {"shoes": "2"}.')
    for key, factor in value.items():
        try:
            ok = isinstance(key, str) and Decimal(str(factor)) >= 0
        except InvalidOperation:
            ok = False
        if not ok:
            return _("Multipliers are numbers of 0 or more (%(id)s).") % {"id": key}
    return None


class EarningRuleForm(forms.ModelForm):
    class Meta:
        model = EarningRule
        fields = [
            "program",
            "name",
            "kind",
            "active",
            "starts_at",
            "ends_at",
            "points",
            "points_per_unit",
            "category_multipliers",
            "product_multipliers",
            "excluded_categories",
            "excluded_products",
            "event_name",
            "daily_limit",
            "segment",
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        for name in ("category_multipliers", "product_multipliers"):
            error = multiplier_errors(data.get(name, {}))
            if error:
                self.add_error(name, error)
        for name in ("excluded_categories", "excluded_products"):
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.add_error(name, _('A JSON list of ids, e.g. ["gift-cards"].'))
        if kind == EarningRule.Kind.EVENT and not data.get("event_name"):
            self.add_error("event_name", _("An event rule needs the event's name."))
        if kind == EarningRule.Kind.SEGMENT and not data.get("segment"):
            self.add_error("segment", _("A segment rule needs its segment."))
        if kind != EarningRule.Kind.ORDER and not data.get("points"):
            self.add_error("points", _("Give the points this rule earns."))
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        return data


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    form = EarningRuleForm
    list_display = ["name", "program", "kind", "active", "points", "points_per_unit", "ends_at"]
    list_filter = ["program", "kind", "active"]
    inlines = [RuleTierValueInline]
    autocomplete_fields = ["segment"]
    fieldsets = [
        (None, {"fields": ["program", "name", "kind", "active", "starts_at", "ends_at"]}),
        (
            _("Paid orders"),
            {
                "fields": [
                    "points_per_unit",
                    "category_multipliers",
                    "product_multipliers",
                    "excluded_categories",
                    "excluded_products",
                ]
            },
        ),
        (
            _("Events, segments, referrals"),
            {"fields": ["points", "event_name", "daily_limit", "segment"]},
        ),
    ]


# --- catalog --------------------------------------------------------------------------------


class RewardForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = [
            "program",
            "name",
            "description",
            "kind",
            "points_cost",
            "active",
            "starts_at",
            "ends_at",
            "stock",
            "tiers",
            "segments",
            "campaign",
            "amount",
            "charity",
            "sweepstake",
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        campaign = data.get("campaign")
        if kind == Reward.Kind.VOUCHER and (
            campaign is None or campaign.kind in (Campaign.Kind.PROMOTION, Campaign.Kind.GIFT_CARDS)
        ):
            self.add_error("campaign", _("A voucher reward publishes codes of a code campaign."))
        if kind == Reward.Kind.GIFT_CARD and (
            campaign is None or campaign.kind != Campaign.Kind.GIFT_CARDS
        ):
            self.add_error("campaign", _("A gift card reward needs a gift card campaign."))
        if kind in (Reward.Kind.GIFT_CARD, Reward.Kind.CHARITY) and not data.get("amount"):
            self.add_error("amount", _("Give the amount in minor units."))
        if kind == Reward.Kind.CHARITY and not data.get("charity"):
            self.add_error("charity", _("A donation needs its charity."))
        if kind == Reward.Kind.SWEEPSTAKES and not data.get("sweepstake"):
            self.add_error("sweepstake", _("A sweepstakes entry needs its sweepstake."))
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end must be after the start."))
        return data


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    form = RewardForm
    list_display = ["name", "program", "kind", "points_cost", "stock", "active", "taken"]
    list_filter = ["program", "kind", "active"]
    search_fields = ["name"]
    filter_horizontal = ["tiers", "segments"]
    autocomplete_fields = ["campaign"]

    @admin.display(description=_("Taken"))
    def taken(self, obj):
        return obj.redemptions.count()


@admin.register(Charity)
class CharityAdmin(admin.ModelAdmin):
    list_display = ["name", "donations", "donated"]

    @admin.display(description=_("Donations"))
    def donations(self, obj):
        return obj.donations.count()

    @admin.display(description=_("Donated"))
    def donated(self, obj):
        total = sum(obj.donations.values_list("amount", flat=True).exclude(amount=None))
        return format_money(total)


class SweepstakeDrawInline(ReadOnlyInline):
    model = SweepstakeDraw
    fields = ["seed", "algorithm", "entries_digest", "winner_entry_ids", "drawn_at", "drawn_by"]
    readonly_fields = fields


@admin.register(Sweepstake)
class SweepstakeAdmin(admin.ModelAdmin):
    list_display = ["name", "prize", "draw_at", "winners_count", "status", "entries_count"]
    readonly_fields = ["status"]
    inlines = [SweepstakeDrawInline]
    actions = ["draw_now"]

    @admin.display(description=_("Entries"))
    def entries_count(self, obj):
        return obj.entries.count()

    @admin.action(description=_("Draw the winners (sweepstakes whose draw time has come)"))
    def draw_now(self, request, queryset):
        drawn = 0
        for sweepstake in queryset:
            try:
                sweepstakes.draw_sweepstake(sweepstake=sweepstake, by=request.user.get_username())
                drawn += 1
            except LoyaltyError as e:
                messages.error(request, f"{sweepstake}: {e.message}")
        if drawn:
            messages.success(
                request, ngettext("%d sweepstake drawn.", "%d sweepstakes drawn.", drawn) % drawn
            )


# --- members and the ledger -----------------------------------------------------------------


class EntryInline(ReadOnlyInline):
    model = PointsEntry
    fields = ["created_at", "kind", "balance", "points", "reason", "created_by", "expires_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    max_num = 0
    can_delete = False


class MemberForm(forms.ModelForm):
    adjust_points = forms.IntegerField(
        required=False,
        label=_("Adjust points"),
        help_text=_("Signed: -50 takes 50 active points away (the oldest first)."),
        min_value=-ledger.MAX_ADJUSTMENT,
        max_value=ledger.MAX_ADJUSTMENT,
    )
    adjust_reason = forms.CharField(
        required=False, max_length=255, label=_("Reason"), help_text=_("Required to adjust.")
    )

    class Meta:
        model = Member
        fields: list[str] = []

    def clean(self):
        data = super().clean()
        points, reason = data.get("adjust_points"), (data.get("adjust_reason") or "").strip()
        if points and not reason:
            self.add_error("adjust_reason", _("Say why the points are adjusted."))
        if reason and not points:
            self.add_error("adjust_points", _("Give the points (not 0)."))
        if points and points < 0 and self.instance.points_active + points < 0:
            self.add_error(
                "adjust_points",
                _("Only %(n)s active points can be taken away.")
                % {"n": self.instance.points_active},
            )
        return data


class CustomerAdjustmentForm(forms.Form):
    """A manual adjustment made from the customer's page (the customer may not be a member
    yet: a positive adjustment makes them one)."""

    program = forms.ModelChoiceField(queryset=Program.objects.all(), widget=forms.HiddenInput)
    points = forms.IntegerField(
        label=_("Points"),
        help_text=_("Signed: -50 takes 50 active points away (the oldest first)."),
        min_value=-ledger.MAX_ADJUSTMENT,
        max_value=ledger.MAX_ADJUSTMENT,
    )
    reason = forms.CharField(max_length=255, label=_("Reason"))

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Give the points (not 0)."))
        return points

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the points are adjusted."))
        return reason


def customer_loyalty_section(request: HttpRequest, customer: Customer) -> str:
    """The customer's loyalty standing on their admin page: per programme (active ones, and
    any they belong to) the tier, balances, points expiring soon, links to the history; and
    the adjustment form for users who may change members. Reads only."""
    user = request.user
    if not (user.has_perm("loyalty.view_member") or user.has_perm("loyalty.change_member")):
        return ""
    members = {
        m.program_id: m
        for m in Member.objects.filter(customer=customer).select_related("program", "tier")
    }
    programs = {p.pk: p for p in ledger.active_programs()}
    programs.update({m.program_id: m.program for m in members.values()})
    if not programs:
        return ""
    can_adjust = user.has_perm("loyalty.change_member") and customer.erased_at is None
    can_see_history = user.has_perm("loyalty.view_pointsentry")
    rows = []
    for program in sorted(programs.values(), key=lambda p: (not p.active, p.pk)):
        member = members.get(program.pk)
        expiring = selectors.expiring_soon(member) if member else []
        rows.append(
            {
                "program": program,
                "member": member,
                "expiring": expiring,
                "expiring_total": sum(row["points"] for row in expiring),
                "history_url": member
                and can_see_history
                and reverse("admin:loyalty_pointsentry_changelist")
                + f"?member__id__exact={member.pk}",
                "member_url": member and reverse("admin:loyalty_member_change", args=[member.pk]),
                "form": CustomerAdjustmentForm(
                    initial={"program": program.pk}, auto_id=f"id_loyalty_{program.pk}_%s"
                )
                if can_adjust and program.active
                else None,
            }
        )
    return render_to_string(
        "loyalty/customer_section.html",
        {
            "customer": customer,
            "rows": rows,
            "adjust_url": reverse("admin:loyalty_member_adjust_customer", args=[customer.pk]),
        },
        request=request,
    )


CUSTOMER_PAGE_SECTIONS.append(customer_loyalty_section)


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    form = MemberForm
    list_display = ["customer", "program", "tier", "points_active", "points_pending", "joined_at"]
    list_filter = ["program", "tier"]
    search_fields = ["customer__source_id", "customer__email", "referral_code"]
    list_select_related = ["customer", "program", "tier"]
    readonly_fields = [
        "customer_link",
        "program",
        "tier",
        "tier_since",
        "tier_review_at",
        "points_active",
        "points_pending",
        "referral_code",
        "joined_at",
    ]
    fieldsets = [
        (None, {"fields": readonly_fields}),
        (_("Manual adjustment"), {"fields": ["adjust_points", "adjust_reason"]}),
    ]
    inlines = [EntryInline]
    actions = ["review_tier_now"]

    def has_add_permission(self, request):
        return False  # members join by earning, or by an adjustment or a redemption

    def get_urls(self):
        adjust = self.admin_site.admin_view(self.adjust_customer_view)
        return [
            path(
                "adjust-customer/<int:customer_id>/",
                adjust,
                name="loyalty_member_adjust_customer",
            ),
            *super().get_urls(),
        ]

    def adjust_customer_view(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        """The adjustment form of the customer's page: records the points with the reason and
        the user, then goes back to that page with what happened."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("loyalty.change_member"):
            raise PermissionDenied
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise Http404(_("No customer with this id."))
        back = redirect(reverse("admin:customers_customer_change", args=[customer.pk]) + "#loyalty")
        if customer.erased_at is not None:
            messages.error(request, _("This customer was erased: their points cannot change."))
            return back
        form = CustomerAdjustmentForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
            return back
        program = form.cleaned_data["program"]
        points, reason = form.cleaned_data["points"], form.cleaned_data["reason"]
        member = Member.objects.filter(program=program, customer=customer).first()
        active = member.points_active if member else 0
        if points < 0 and active + points < 0:
            messages.error(
                request,
                _(
                    "Only %(n)s %(name)s can be taken away: the balance cannot go below zero. "
                    "Nothing was changed."
                )
                % {"n": active, "name": program.points_name},
            )
            return back
        try:
            with transaction.atomic():
                member = member or ledger.ensure_member(program=program, customer=customer)
                ledger.adjust(
                    member=member, points=points, reason=reason, by=request.user.get_username()
                )
        except LoyaltyError as e:  # e.g. points spent meanwhile
            messages.error(request, f"{e.message} {_('Nothing was changed.')}")
        else:
            messages.success(
                request,
                _("%(n)+d %(name)s recorded: %(reason)s")
                % {"n": points, "name": program.points_name, "reason": reason},
            )
        return back

    @admin.display(description=_("Customer"))
    def customer_link(self, obj):
        url = reverse("admin:customers_customer_change", args=[obj.customer_id])
        return format_html('<a href="{}">{}</a>', url, obj.customer)

    def save_model(self, request, obj, form, change):
        points = form.cleaned_data.get("adjust_points")
        if not points:
            return
        try:
            ledger.adjust(
                member=obj,
                points=points,
                reason=form.cleaned_data["adjust_reason"],
                by=request.user.get_username(),
            )
        except LoyaltyError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, _("%(n)+d points recorded.") % {"n": points})

    @admin.action(description=_("Re-evaluate the tier now (may go down)"))
    def review_tier_now(self, request, queryset):
        now = timezone.now()
        queryset.update(tier_review_at=now)
        counts = tiers.review_tiers(now=now)
        messages.success(
            request,
            _("%(reviewed)s reviewed: %(up)s up, %(down)s down.") % counts,
        )


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "kind", "balance", "points", "reason", "created_by"]
    list_filter = ["kind", "balance", "member__program"]
    search_fields = ["member__customer__source_id", "reason"]
    list_select_related = ["member__customer", "member__program"]


# --- redemptions and fulfilment -------------------------------------------------------------


class FulfilmentInline(admin.StackedInline):
    model = Fulfilment
    extra = 0
    can_delete = False


@admin.register(RewardRedemption)
class RewardRedemptionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "reward", "kind", "points", "fulfilment_status"]
    list_filter = ["kind", "reward"]
    search_fields = ["member__customer__source_id", "reward__name"]
    list_select_related = ["member__customer", "reward", "fulfilment"]

    @admin.display(description=_("Fulfilment"))
    def fulfilment_status(self, obj):
        fulfilment = getattr(obj, "fulfilment", None)
        return fulfilment.get_status_display() if fulfilment else "—"


@admin.register(Fulfilment)
class FulfilmentAdmin(admin.ModelAdmin):
    list_display = ["redemption", "status", "tracking", "updated_at"]
    list_editable = ["status", "tracking"]
    list_filter = ["status"]
    readonly_fields = ["redemption"]

    def has_add_permission(self, request):
        return False


# --- referrals ------------------------------------------------------------------------------


class ReferralTierLimitInline(admin.TabularInline):
    model = ReferralTierLimit
    extra = 0


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    list_display = ["program", "campaign", "active", "max_referrals"]
    inlines = [ReferralTierLimitInline]
    autocomplete_fields = ["campaign"]


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "referrer", "referee", "code", "status", "reason"]
    list_filter = ["status", "reason"]
    search_fields = ["code", "referee__source_id", "referrer__customer__source_id"]
