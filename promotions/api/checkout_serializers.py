"""The checkout contract: what validations, qualifications (and redemptions) take and answer."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from customers.api.fields import (
    AmountField,
    CurrencyField,
    StrictInputSerializer,
    StrictIntegerField,
)
from customers.api.serializers import CustomerInSerializer
from promotions.checkout import MAX_CODES, REASON_CODES

MAX_ITEMS = 1000
REDEEMABLE_STATUSES = ["applicable", "inapplicable"]
MAX_REQUESTED_CODES = 50


class CheckoutCustomerInSerializer(CustomerInSerializer):
    """The customer by their id; the other fields only count for a customer the shop has not
    pushed yet (judged on them, stored by a redemption as the customers API would)."""

    source_id = serializers.CharField(max_length=255)


class CheckoutItemInSerializer(StrictInputSerializer):
    product_id = serializers.CharField(max_length=255)
    category = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    quantity = StrictIntegerField(min_value=1, max_value=100_000)
    unit_price = AmountField()


class CheckoutOrderInSerializer(StrictInputSerializer):
    source_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    currency = CurrencyField()
    shipping_amount = AmountField(default=0)
    items = CheckoutItemInSerializer(many=True, max_length=MAX_ITEMS)


class CheckoutInSerializer(StrictInputSerializer):
    customer = CheckoutCustomerInSerializer(required=False, allow_null=True)
    order = CheckoutOrderInSerializer()
    codes = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=MAX_REQUESTED_CODES,
        help_text=_("Applied in this order; at most %(n)s per order, more are refused.")
        % {"n": MAX_CODES},
    )
    apply_promotions = serializers.BooleanField(default=True)

    def validate_codes(self, value):
        seen = set()
        for code in value:
            if code.upper() in seen:
                raise serializers.ValidationError(
                    _("The code %(code)s is sent twice (codes ignore case).") % {"code": code}
                )
            seen.add(code.upper())
        return value


CHECKOUT_EXAMPLE = OpenApiExample(
    "A cart with a code",
    request_only=True,
    value={
        "customer": {"source_id": "c-1"},
        "order": {
            "source_id": "o-1",
            "currency": "USD",
            "shipping_amount": 500,
            "items": [
                {"product_id": "p-1", "category": "shoes", "quantity": 2, "unit_price": 2500}
            ],
        },
        "codes": ["SUMMER10"],
        "apply_promotions": True,
    },
)


class ErrorOutSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=REASON_CODES)
    message = serializers.CharField()


class RedeemableOutSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["voucher", "promotion"])
    code = serializers.CharField(allow_null=True)
    campaign = serializers.CharField(allow_null=True, help_text=_("The campaign's name"))
    campaign_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=REDEEMABLE_STATUSES)
    discount_amount = serializers.IntegerField()
    shipping_discount_amount = serializers.IntegerField()
    gift_card_amount = serializers.IntegerField()
    error = ErrorOutSerializer(required=False)


class CheckoutItemOutSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()


class CheckoutOrderOutSerializer(serializers.Serializer):
    source_id = serializers.CharField(required=False)
    currency = serializers.CharField()
    amount = serializers.IntegerField()
    shipping_amount = serializers.IntegerField()
    discount_amount = serializers.IntegerField()
    shipping_discount_amount = serializers.IntegerField()
    gift_card_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    items = CheckoutItemOutSerializer(many=True)


class ValidationOutSerializer(serializers.Serializer):
    valid = serializers.BooleanField(help_text=_("True when every requested code is applicable."))
    order = CheckoutOrderOutSerializer()
    redeemables = RedeemableOutSerializer(many=True)


class QualificationOutSerializer(serializers.Serializer):
    redeemables = RedeemableOutSerializer(many=True)
