"""Admin for shop data. The shop's API is the source of truth for orders, carts and events,
so those are read-only here; customers and consents are written through the services."""

from collections.abc import Callable
from decimal import Decimal

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from rest_framework_api_key.admin import APIKeyModelAdmin

from customers.api.authentication import forget_verified_keys
from customers.api.serializers import CustomerInSerializer
from customers.currencies import minor_unit_digits
from customers.models import (
    ApiKey,
    Cart,
    CartItem,
    Category,
    Consent,
    Customer,
    Event,
    Order,
    OrderItem,
    Product,
)
from customers.resources import (
    CustomerResource,
    OrderResource,
    ProductResource,
    check_with_api_field,
)
from customers.services import (
    CUSTOMER_FIELDS,
    recompute_customer_stats,
    recompute_purchases,
    set_consents,
    upsert_customer,
)


def format_money(amount: int | None, currency: str | None = None) -> str:
    """Minor units shown as the active language writes money: 123456 USD -> $1,234.56."""
    if amount is None:
        return "-"
    currency = currency or settings.OFFERWISE_CURRENCY
    value = Decimal(amount).scaleb(-minor_unit_digits(currency))
    try:
        locale = Locale.parse(to_locale(get_language() or settings.LANGUAGE_CODE))
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse(settings.LANGUAGE_CODE)
    return format_currency(value, currency, locale=locale)


class ImportExportAdmin(ImportExportModelAdmin):
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]

    # import-export lets any staff user import and export unless told otherwise; an import
    # creates and changes rows, an export reads them all.
    def has_import_permission(self, request):
        opts = self.opts
        return all(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("add", "change")
        )

    def has_export_permission(self, request):
        return self.has_view_permission(request)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the shop's API (or kept on another page): viewed here, not edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- API keys ------------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "mode", "created", "expiry_date", "_has_expired", "revoked")
    list_filter = ("mode", "revoked", "created")
    actions = ["revoke_keys"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A sandbox key turned live would let a test integration write real data: make a
        # new key instead.
        return fields if obj is None else (*fields, "mode")

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_keys(self, request, queryset):
        revoked = queryset.filter(revoked=False).update(revoked=True)
        forget_verified_keys()
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


# --- customers -----------------------------------------------------------------------------

_customer_in = CustomerInSerializer().fields


class CustomerForm(forms.ModelForm):
    """Checks values like the API does, so the admin cannot store what the API refuses."""

    API_CHECKED = ("first_name", "last_name", "email", "phone", "timezone", "language", "country")

    class Meta:
        model = Customer
        fields = ["source_id", *CUSTOMER_FIELDS]

    def clean(self):
        cleaned = super().clean()
        for name in self.API_CHECKED:
            value = cleaned.get(name)
            if name not in self.errors and value not in (None, ""):
                try:
                    cleaned[name] = check_with_api_field(_customer_in[name], value)
                except ValueError as e:
                    self.add_error(name, str(e))
        metadata = cleaned.get("metadata")
        if "metadata" not in self.errors and not isinstance(metadata, dict):
            self.add_error("metadata", _("A JSON object is required."))
        if (cleaned.get("latitude") is None) != (cleaned.get("longitude") is None):
            self.add_error("latitude", _("Give latitude and longitude together."))
        return cleaned


class ConsentForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = ["purpose", "granted"]

    def clean_purpose(self):
        purpose = self.cleaned_data["purpose"]
        # An answer belongs to its purpose; moving it would rewrite what was consented to.
        if self.instance.pk and purpose != self.instance.purpose:
            raise forms.ValidationError(_("Add a row for another purpose instead."))
        return purpose


class ConsentInline(admin.TabularInline):
    model = Consent
    form = ConsentForm
    extra = 0
    can_delete = False
    fields = ("purpose", "granted", "granted_at", "withdrawn_at", "source", "updated_at")
    readonly_fields = ("granted_at", "withdrawn_at", "source", "updated_at")


class ConsentGivenFilter(admin.SimpleListFilter):
    title = _("consent given")
    parameter_name = "consent"

    def lookups(self, request, model_admin):
        return Consent.Purpose.choices

    def queryset(self, request, queryset):
        if self.value() in Consent.Purpose.values:
            granted = Consent.objects.filter(
                customer=OuterRef("pk"), purpose=self.value(), granted=True
            )
            return queryset.filter(Exists(granted))
        return queryset


# Sections that later apps add to a customer's admin page, below the form (loyalty adds the
# customer's points and a manual adjustment). Each takes the request and the customer and
# returns HTML, or "" to show nothing; those apps register them, so this one imports none.
CUSTOMER_PAGE_SECTIONS: list[Callable[[HttpRequest, Customer], str]] = []


@admin.register(Customer)
class CustomerAdmin(ImportExportAdmin):
    resource_classes = [CustomerResource]
    form = CustomerForm
    inlines = [ConsentInline]
    list_display = (
        "source_id",
        "display_name",
        "email",
        "country",
        "city",
        "orders_count",
        "display_total_spent",
        "last_order_at",
    )
    list_filter = (
        ConsentGivenFilter,
        "country",
        "created_at",
        "last_order_at",
        ("erased_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("source_id", "email", "first_name", "last_name", "phone", "city")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    actions = ["recompute_stats"]
    readonly_fields = (
        "orders_count",
        "display_total_spent",
        "display_average_order_value",
        "first_order_at",
        "last_order_at",
        "orders_link",
        "birthday_mmdd",
        "updated_at",
        "erased_at",
    )
    fieldsets = (
        (None, {"fields": ("source_id", "first_name", "last_name", "email", "phone")}),
        (
            _("Profile"),
            {
                "fields": (
                    "birthdate",
                    "birthday_mmdd",
                    "timezone",
                    "language",
                    "country",
                    "city",
                    ("latitude", "longitude"),
                    "metadata",
                )
            },
        ),
        (
            _("Orders"),
            {
                "fields": (
                    "orders_count",
                    "display_total_spent",
                    "display_average_order_value",
                    "first_order_at",
                    "last_order_at",
                    "orders_link",
                )
            },
        ),
        (_("Record"), {"fields": ("created_at", "updated_at", "erased_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        # The shop looks customers up by source_id: changing it would cut that link.
        if obj is not None:
            return (*self.readonly_fields, "source_id")
        return self.readonly_fields

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            sections = (section(request, obj) for section in CUSTOMER_PAGE_SECTIONS)
            context["extra_sections"] = [html for html in sections if html]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_change_permission(self, request, obj=None):
        # An erased customer must stay erased; editing would bring personal data back.
        if obj is not None and obj.erased_at is not None:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("name"), ordering="last_name")
    def display_name(self, obj):
        return obj.name

    @admin.display(description=_("total spent"), ordering="total_spent")
    def display_total_spent(self, obj):
        return format_money(obj.total_spent)

    @admin.display(description=_("average order value"))
    def display_average_order_value(self, obj):
        return format_money(obj.average_order_value)

    @admin.display(description=_("orders"))
    def orders_link(self, obj):
        if obj.pk is None:
            return "-"
        url = reverse("admin:customers_order_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("See this customer's orders"))

    def save_model(self, request, obj, form, change):
        # Through the service, so segments hear about the change like they do from the API.
        data = {
            name: form.cleaned_data[name] for name in CUSTOMER_FIELDS if name in form.cleaned_data
        }
        customer, _created = upsert_customer(source_id=obj.source_id, data=data)
        obj.pk = customer.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        if formset.model is not Consent:
            return super().save_formset(request, form, formset, change)
        # set_consents keeps when each answer was given or withdrawn.
        answers = {
            f.cleaned_data["purpose"]: f.cleaned_data["granted"]
            for f in formset.forms
            if f.has_changed() and f.cleaned_data.get("purpose")
        }
        if answers:
            set_consents(customer=form.instance, consents=answers, source="admin")
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    @admin.action(description=_("Recompute order stats of selected customers"))
    def recompute_stats(self, request, queryset):
        count = recompute_customer_stats(customer_ids=queryset.values_list("pk", flat=True))
        # The purchase history segments read is derived from the same orders.
        recompute_purchases(customer_ids=queryset.values("pk"))
        self.message_user(
            request,
            ngettext(
                "Stats recomputed for %(count)d customer.",
                "Stats recomputed for %(count)d customers.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    """Read-only list; answers are changed on the customer's page, where their times are kept."""

    list_display = ("customer", "purpose", "granted", "granted_at", "withdrawn_at", "source")
    list_filter = ("purpose", "granted", "source", "updated_at")
    search_fields = ("customer__source_id", "customer__email")
    list_select_related = ("customer",)
    date_hierarchy = "updated_at"
    show_full_result_count = False


# --- catalogue -----------------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("source_id", "name", "parent")
    search_fields = ("source_id", "name")
    list_select_related = ("parent",)
    autocomplete_fields = ("parent",)


@admin.register(Product)
class ProductAdmin(ImportExportAdmin):
    resource_classes = [ProductResource]
    list_display = ("source_id", "name", "category", "display_price", "created_at")
    list_filter = ("category", "created_at")
    search_fields = ("source_id", "name", "category__name")
    list_select_related = ("category",)
    autocomplete_fields = ("category",)
    readonly_fields = ("updated_at",)
    show_full_result_count = False

    @admin.display(description=_("price"), ordering="price")
    def display_price(self, obj):
        return format_money(obj.price, obj.currency or None)


# --- orders --------------------------------------------------------------------------------


class LineInline(ReadOnlyInline):
    """Lines of an order or a cart; amounts in the currency of their owner."""

    owner_field: str
    fields = ("product", "quantity", "display_unit_price", "display_amount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", self.owner_field)

    @admin.display(description=_("unit price"))
    def display_unit_price(self, obj):
        return format_money(obj.unit_price, getattr(obj, self.owner_field).currency)

    @admin.display(description=_("amount"))
    def display_amount(self, obj):
        return format_money(obj.amount, getattr(obj, self.owner_field).currency)


class OrderItemInline(LineInline):
    model = OrderItem
    owner_field = "order"


@admin.register(Order)
class OrderAdmin(ImportExportAdmin):
    """Orders come from the shop's API, which moves their statuses and keeps the customer's
    stats exact (upsert_order). Editing status or amounts here would diverge from the shop
    and skip what a status change triggers, so only metadata can be edited; deleting
    recomputes the stats of the customers concerned.
    """

    resource_classes = [OrderResource]
    inlines = [OrderItemInline]
    list_display = ("source_id", "customer", "status", "display_total", "created_at")
    list_filter = ("status", "created_at", "paid_at")
    search_fields = ("source_id", "customer__source_id", "customer__email")
    search_help_text = _("Order id, customer id or customer e-mail")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "source_id",
        "customer",
        "status",
        "currency",
        "display_items_amount",
        "display_discount_amount",
        "display_shipping_amount",
        "display_total",
        "metadata",
        "created_at",
        "paid_at",
        "cancelled_at",
        "refunded_at",
        "updated_at",
    )
    readonly_fields = tuple(name for name in fields if name != "metadata")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer")

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("total"), ordering="total_amount")
    def display_total(self, obj):
        return format_money(obj.total_amount, obj.currency)

    @admin.display(description=_("items"))
    def display_items_amount(self, obj):
        return format_money(obj.items_amount, obj.currency)

    @admin.display(description=_("discount"))
    def display_discount_amount(self, obj):
        return format_money(obj.discount_amount, obj.currency)

    @admin.display(description=_("shipping"))
    def display_shipping_amount(self, obj):
        return format_money(obj.shipping_amount, obj.currency)

    def delete_model(self, request, obj):
        customer_id = obj.customer_id
        super().delete_model(request, obj)
        recompute_customer_stats(customer_ids=[customer_id])

    def delete_queryset(self, request, queryset):
        customer_ids = set(queryset.values_list("customer_id", flat=True))
        super().delete_queryset(request, queryset)
        recompute_customer_stats(customer_ids=customer_ids)


# --- carts and events ----------------------------------------------------------------------


class CartItemInline(LineInline):
    model = CartItem
    owner_field = "cart"


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    """Carts are the shop's live view (put by the API); read-only here."""

    inlines = [CartItemInline]
    list_display = (
        "source_id",
        "customer",
        "status",
        "items_count",
        "display_items_amount",
        "last_activity_at",
    )
    list_filter = ("status", "last_activity_at", "created_at")
    search_fields = ("source_id", "customer__source_id", "customer__email")
    list_select_related = ("customer",)
    date_hierarchy = "last_activity_at"
    show_full_result_count = False

    @admin.display(description=_("items amount"), ordering="items_amount")
    def display_items_amount(self, obj):
        return format_money(obj.items_amount, obj.currency)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Events are what customers did, as the shop reported it: a log, read-only."""

    list_display = ("name", "kind", "customer", "occurred_at")
    list_filter = ("kind", "name", "occurred_at")
    search_fields = ("name", "customer__source_id", "customer__email")
    list_select_related = ("customer",)
    date_hierarchy = "occurred_at"
    show_full_result_count = False
