"""Checkout endpoints: validate a cart's codes and promotions, list what a customer qualifies
for. Both only read."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from promotions import abuse
from promotions.api.checkout_input import plain_checkout
from promotions.api.checkout_serializers import (
    CHECKOUT_EXAMPLE,
    CheckoutInSerializer,
    QualificationOutSerializer,
    ValidationOutSerializer,
)
from promotions.api.throttles import CheckoutThrottle
from promotions.checkout import (
    Checkout,
    CustomerInput,
    Outcome,
    Quote,
    Reason,
    qualify_checkout,
    quote_checkout,
)
from promotions.discounts import Item


def checkout_from(data: dict, *, sandbox: bool) -> Checkout:
    """The engine's input from a validated checkout body."""
    order = data["order"]
    customer = data.get("customer")
    if customer is not None:
        fields = dict(customer)
        fields.pop("consents", None)
        fields.pop("created_at", None)
        customer = CustomerInput(source_id=fields.pop("source_id"), data=fields)
    return Checkout(
        items=tuple(
            Item(i["product_id"], i.get("category", ""), i["quantity"], i["unit_price"])
            for i in order["items"]
        ),
        currency=order["currency"],
        shipping_amount=order["shipping_amount"],
        customer=customer,
        codes=tuple(data.get("codes", ())),
        apply_promotions=data["apply_promotions"],
        order_source_id=order.get("source_id", ""),
        sandbox=sandbox,
    )


def render_outcome(outcome: Outcome) -> dict:
    body = {
        "type": outcome.type,
        "code": outcome.code,
        "campaign": outcome.campaign.name if outcome.campaign else None,
        "campaign_id": outcome.campaign.pk if outcome.campaign else None,
        "status": outcome.status,
        "discount_amount": outcome.discount_amount,
        "shipping_discount_amount": outcome.shipping_discount_amount,
        "gift_card_amount": outcome.gift_card_amount,
    }
    if outcome.error:
        body["error"] = {"code": outcome.error, "message": outcome.message}
    return body


def render_quote(quote: Quote) -> dict:
    checkout = quote.checkout
    order = {
        "currency": checkout.currency,
        **quote.totals,
        "items": [
            {
                "product_id": item.product_id,
                "quantity": item.quantity,
                "amount": item.amount,
                "discount_amount": discount,
            }
            for item, discount in zip(checkout.items, quote.item_discounts, strict=True)
        ],
    }
    if checkout.order_source_id:
        order = {"source_id": checkout.order_source_id, **order}
    return {
        "valid": quote.valid,
        "order": order,
        "redeemables": [render_outcome(r) for r in quote.redeemables],
    }


def checkout_data(request, serializer_class=CheckoutInSerializer, **plain) -> dict:
    """The validated body: read plainly when it is in its final form, else by the serializer
    (which raises ValidationError with the field errors)."""
    data = plain_checkout(request.data, **plain)
    if data is None:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
    return data


def _sandbox(request) -> bool:
    return bool(getattr(request.user, "is_test", False))


def guess_subjects(request, data: dict) -> list[str]:
    """Who a checkout request counts against for code guessing (``CheckoutThrottle`` has
    refused blocked ones already)."""
    customer = data.get("customer") or {}
    return abuse.subjects(customer.get("source_id"), request.META.get("REMOTE_ADDR"))


class ValidationView(APIView):
    throttle_classes = [CheckoutThrottle]

    @extend_schema(
        request=CheckoutInSerializer,
        responses=ValidationOutSerializer,
        examples=[CHECKOUT_EXAMPLE],
        description=(
            "What the codes and automatic promotions give on this cart. Never writes. "
            "`valid` is true when every requested code is applicable; an inapplicable one "
            "carries an `error` with a stable reason code."
        ),
    )
    def post(self, request):
        data = checkout_data(request)
        names = guess_subjects(request, data)
        checkout = checkout_from(data, sandbox=_sandbox(request))
        quote = quote_checkout(checkout)
        unknown = [r for r in quote.redeemables if r.error == Reason.VOUCHER_NOT_FOUND]
        abuse.note_unknown_codes(names, len(unknown))
        return Response(render_quote(quote))


class QualificationView(APIView):
    throttle_classes = [CheckoutThrottle]

    @extend_schema(
        request=CheckoutInSerializer,
        responses=QualificationOutSerializer,
        examples=[CHECKOUT_EXAMPLE],
        description=(
            "Every automatic promotion and every voucher of this customer that would apply to "
            "this cart on its own, with its discount, best first. Codes in the body are "
            "ignored."
        ),
    )
    def post(self, request):
        checkout = checkout_from(checkout_data(request), sandbox=_sandbox(request))
        outcomes = qualify_checkout(checkout)
        return Response({"redeemables": [render_outcome(o) for o in outcomes]})
