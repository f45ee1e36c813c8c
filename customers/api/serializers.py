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
from customers.models import Cart, Consent, Customer, Event, Order

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


class ConsentOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["purpose", "granted", "granted_at", "withdrawn_at", "source"]


class CustomerStatsSerializer(serializers.Serializer):
    orders_count = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    average_order_value = serializers.IntegerField()
    first_order_at = serializers.DateTimeField(allow_null=True)
    last_order_at = serializers.DateTimeField(allow_null=True)
    currency = serializers.SerializerMethodField()

    def get_currency(self, obj) -> str:
        return settings.OFFERWISE_CURRENCY


class CustomerOutSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    consents = ConsentOutSerializer(many=True, read_only=True)
    stats = CustomerStatsSerializer(source="*", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "source_id",
            "first_name",
            "last_name",
            "name",
            "email",
            "phone",
            "birthdate",
            "timezone",
            "language",
            "country",
            "city",
            "latitude",
            "longitude",
            "metadata",
            "consents",
            "stats",
            "created_at",
            "updated_at",
        ]


class LineOutSerializer(serializers.Serializer):
    product_id = serializers.CharField(source="product.source_id")
    name = serializers.CharField(source="product.name")
    category = serializers.CharField(
        source="product.category.source_id", allow_null=True, default=None
    )
    quantity = serializers.IntegerField()
    unit_price = serializers.IntegerField()
    amount = serializers.IntegerField()


class OrderOutSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.source_id")
    items = LineOutSerializer(many=True)

    class Meta:
        model = Order
        fields = [
            "source_id",
            "customer",
            "status",
            "currency",
            "items",
            "items_amount",
            "discount_amount",
            "shipping_amount",
            "total_amount",
            "metadata",
            "created_at",
            "paid_at",
            "cancelled_at",
            "refunded_at",
            "updated_at",
        ]


class CartOutSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.source_id", allow_null=True, default=None)
    order = serializers.CharField(source="order.source_id", allow_null=True, default=None)
    items = LineOutSerializer(many=True)

    class Meta:
        model = Cart
        fields = [
            "source_id",
            "customer",
            "status",
            "currency",
            "items",
            "items_amount",
            "items_count",
            "order",
            "created_at",
            "last_activity_at",
        ]


class EventOutSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField()
    customer = serializers.CharField(source="customer.source_id")

    class Meta:
        model = Event
        fields = ["id", "customer", "name", "kind", "properties", "occurred_at", "created_at"]
