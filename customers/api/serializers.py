from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers.api.fields import (
    AmountField,
    CountryField,
    CurrencyField,
    JSONObjectField,
    LanguageField,
    StrictInputSerializer,
    StrictIntegerField,
    TimezoneField,
)
from customers.models import Cart, Consent, Event, Order

# --- input ---------------------------------------------------------------------------------


class CustomerInSerializer(StrictInputSerializer):
    """Fields you omit keep their current value."""

    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.RegexField(
        r"^\+?[0-9 ()./-]{3,31}$",
        max_length=32,
        required=False,
        allow_blank=True,
        error_messages={"invalid": _("A phone number such as +353 1 234 5678 is required.")},
    )
    birthdate = serializers.DateField(required=False, allow_null=True)
    timezone = TimezoneField(required=False)
    language = LanguageField(required=False, allow_blank=True)
    country = CountryField(required=False, allow_blank=True, max_length=2)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )
    metadata = JSONObjectField(required=False)
    created_at = serializers.DateTimeField(
        required=False, help_text=_("Sign-up time at the shop; defaults to now.")
    )
    consents = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text=_('Purpose to yes/no, e.g. {"email": true, "tracking": false}.'),
    )

    def validate_consents(self, value):
        unknown = sorted(set(value) - set(Consent.Purpose.values))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown consent purposes: %(unknown)s. Known: %(known)s.")
                % {"unknown": ", ".join(unknown), "known": ", ".join(Consent.Purpose.values)}
            )
        return value

    def validate_birthdate(self, value):
        if value and value > timezone.localdate():
            raise serializers.ValidationError(_("A birthdate cannot be in the future."))
        return value

    def validate(self, attrs):
        if ("latitude" in attrs) != ("longitude" in attrs):
            raise serializers.ValidationError(_("Send latitude and longitude together."))
        return attrs


class LineInSerializer(StrictInputSerializer):
    product_id = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    category = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text=_("Category id; created on first sight."),
    )
    quantity = StrictIntegerField(min_value=1, max_value=100_000)
    unit_price = AmountField()


class OrderInSerializer(StrictInputSerializer):
    customer = serializers.CharField(max_length=255, help_text=_("The customer's source_id."))
    status = serializers.ChoiceField(choices=Order.Status.choices, default=Order.Status.CREATED)
    currency = CurrencyField()
    items = LineInSerializer(many=True, max_length=1000)
    shipping_amount = AmountField(default=0)
    discount_amount = AmountField(default=0)
    created_at = serializers.DateTimeField(required=False)
    metadata = JSONObjectField(required=False)


class CartInSerializer(StrictInputSerializer):
    customer = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text=_("The customer's source_id; empty for guests."),
    )
    status = serializers.ChoiceField(choices=Cart.Status.choices, default=Cart.Status.ACTIVE)
    currency = CurrencyField()
    items = LineInSerializer(many=True, max_length=1000)
    order = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text=_("source_id of the order it became."),
    )


class EventInSerializer(StrictInputSerializer):
    customer = serializers.CharField(max_length=255, help_text=_("The customer's source_id."))
    name = serializers.RegexField(
        r"^[a-zA-Z0-9_.:-]{1,100}$",
        max_length=100,
        error_messages={"invalid": _("Use letters, digits and _ . : - (at most 100).")},
    )
    kind = serializers.ChoiceField(
        choices=Event.Kind.choices,
        default=Event.Kind.BEHAVIOURAL,
        help_text=_("'behavioural' needs the customer's tracking consent."),
    )
    properties = JSONObjectField(required=False)
    occurred_at = serializers.DateTimeField(required=False)


# --- output --------------------------------------------------------------------------------
# Plain serializers with declared fields: a ModelSerializer introspects its model again on
# every request, a measurable share of a lookup's CPU (docs/benchmarks.md).


class ConsentOutSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Consent.Purpose.choices)
    granted = serializers.BooleanField()
    granted_at = serializers.DateTimeField(allow_null=True)
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()


class CustomerStatsSerializer(serializers.Serializer):
    orders_count = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    average_order_value = serializers.IntegerField()
    first_order_at = serializers.DateTimeField(allow_null=True)
    last_order_at = serializers.DateTimeField(allow_null=True)
    currency = serializers.SerializerMethodField()

    def get_currency(self, obj) -> str:
        return settings.OFFERWISE_CURRENCY


class CustomerOutSerializer(serializers.Serializer):
    source_id = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()
    birthdate = serializers.DateField(allow_null=True)
    timezone = serializers.CharField()
    language = serializers.CharField()
    country = serializers.CharField()
    city = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    metadata = serializers.JSONField()
    consents = ConsentOutSerializer(many=True)
    stats = CustomerStatsSerializer(source="*")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class LineOutSerializer(serializers.Serializer):
    product_id = serializers.CharField(source="product.source_id")
    name = serializers.CharField(source="product.name")
    category = serializers.CharField(
        source="product.category.source_id", allow_null=True, default=None
    )
    quantity = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    amount = serializers.IntegerField()


class OrderOutSerializer(serializers.Serializer):
    source_id = serializers.CharField()
    customer = serializers.CharField(source="customer.source_id")
    status = serializers.ChoiceField(choices=Order.Status.choices)
    currency = serializers.CharField()
    items = LineOutSerializer(many=True)
    items_amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    shipping_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    metadata = serializers.JSONField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    refunded_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class CartOutSerializer(serializers.Serializer):
    source_id = serializers.CharField()
    customer = serializers.CharField(source="customer.source_id", allow_null=True, default=None)
    status = serializers.ChoiceField(choices=Cart.Status.choices)
    currency = serializers.CharField()
    items = LineOutSerializer(many=True)
    items_amount = serializers.IntegerField()
    items_count = serializers.IntegerField()
    order = serializers.CharField(source="order.source_id", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()


class EventOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.CharField(source="customer.source_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    properties = serializers.JSONField()
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
