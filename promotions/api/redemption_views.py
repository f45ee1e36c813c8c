"""Redemption endpoints: redeem a checkout all-or-nothing, read and roll back redemptions."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_body
from customers.api.fields import StrictInputSerializer
from promotions import abuse
from promotions.api.checkout_serializers import (
    CHECKOUT_EXAMPLE,
    CheckoutInSerializer,
    CheckoutOrderInSerializer,
    ValidationOutSerializer,
)
from promotions.api.checkout_views import checkout_data, checkout_from, render_quote
from promotions.api.idempotent import answer_once
from promotions.api.throttles import CheckoutThrottle
from promotions.checkout import MESSAGES, Reason
from promotions.models import Redemption
from promotions.redemptions import (
    NOTHING_TO_REDEEM,
    RedemptionNotFound,
    redeem_checkout,
    rollback_redemption,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description=(
        "Retries with the same key and body get the first answer again (status and body) "
        "without redeeming twice; the same key with another body gets 409 "
        "idempotency_conflict. Keys are kept at least 24 hours."
    ),
)


class RedemptionOrderInSerializer(CheckoutOrderInSerializer):
    source_id = serializers.CharField(max_length=255, help_text=_("The shop's order id."))


class RedemptionInSerializer(CheckoutInSerializer):
    order = RedemptionOrderInSerializer()


class RedemptionOutSerializer(ValidationOutSerializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    test = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class RollbackInSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class RedemptionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Redemption
        fields = [
            "id",
            "status",
            "reason",
            "customer_source_id",
            "order_source_id",
            "currency",
            "order_amount",
            "discount_amount",
            "shipping_discount_amount",
            "gift_card_amount",
            "total_amount",
            "test",
            "created_at",
            "rolled_back_at",
            "rollback_reason",
            "rolled_back_by",
        ]


def _client(request) -> str:
    api_key = getattr(request.user, "api_key", None)
    return api_key.name if api_key else ""


def _address(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _customer_id(data: dict) -> str | None:
    customer = data.get("customer")
    return customer.get("source_id") if isinstance(customer, dict) else None


def _failure_message(reason: str) -> str:
    if reason == NOTHING_TO_REDEEM:
        return str(_("Nothing in this order can be redeemed."))
    return str(MESSAGES.get(reason, _("The redemption was refused.")))


class RedemptionListView(generics.ListAPIView):
    """Redemptions, newest first; failed attempts included."""

    serializer_class = RedemptionSummarySerializer
    queryset = Redemption.objects.order_by("-created_at", "-pk")
    filterset_fields = ["status", "test", "order_source_id", "customer_source_id"]

    @extend_schema(
        operation_id="redeem",
        request=RedemptionInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: RedemptionOutSerializer,
            409: OpenApiResponse(description="Limits, budget or stacking refused it."),
            422: OpenApiResponse(description="A code is unknown or not eligible."),
            429: OpenApiResponse(description="Too many unknown codes, or throttled."),
        },
        examples=[CHECKOUT_EXAMPLE],
        description=(
            "Redeem every code and applicable automatic promotion of the order, all or "
            "nothing. A refusal redeems nothing, is recorded with its reason, and answers "
            "409 or 422 with the per-redeemable results in `error.details`."
        ),
    )
    def post(self, request):
        data = checkout_data(request, RedemptionInSerializer, order_source_required=True)
        # Blocked subjects were refused by CheckoutThrottle.
        names = abuse.subjects(_customer_id(data), _address(request))
        checkout = checkout_from(data, sandbox=bool(getattr(request.user, "is_test", False)))
        key = request.headers.get("Idempotency-Key", "")
        unknown = []

        def produce() -> tuple[int, dict]:
            result = redeem_checkout(
                checkout=checkout,
                client=_client(request),
                client_address=_address(request),
                idempotency_key=key,
            )
            unknown.extend(
                r for r in result.quote.redeemables if r.error == Reason.VOUCHER_NOT_FOUND
            )
            redemption = result.redemption
            answer = render_quote(result.quote)
            if result.succeeded:
                body = {
                    "id": redemption.pk,
                    "status": redemption.status,
                    "test": redemption.test,
                    "created_at": redemption.created_at.isoformat(),
                    **answer,
                }
                return 201, body
            details = {"id": redemption.pk, **answer}
            return result.http_status, error_body(
                result.reason, _failure_message(result.reason), details
            )

        status, body = answer_once(request, endpoint="redemptions", produce=produce)
        abuse.note_unknown_codes(names, len(unknown))
        return Response(body, status=status)

    def get_throttles(self):
        if self.request.method == "POST":
            return [CheckoutThrottle()]
        return super().get_throttles()


class RedemptionDetailView(APIView):
    @extend_schema(responses=RedemptionSummarySerializer)
    def get(self, request, redemption_id: int):
        redemption = Redemption.objects.filter(pk=redemption_id).first()
        if redemption is None:
            raise RedemptionNotFound()
        return Response(RedemptionSummarySerializer(redemption).data)


class RollbackView(APIView):
    @extend_schema(
        operation_id="rollback_redemption",
        request=RollbackInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: RedemptionSummarySerializer,
            404: OpenApiResponse(description="No such redemption."),
            409: OpenApiResponse(
                description="Already rolled back (already_rolled_back), or a failed "
                "attempt (not_rollbackable)."
            ),
        },
        description=(
            "Undo a redemption: counters, budget, gift balance and per-customer counts go "
            "back; who and why are recorded. A second rollback changes nothing and answers "
            "409 already_rolled_back."
        ),
    )
    def post(self, request, redemption_id: int):
        serializer = RollbackInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reason = serializer.validated_data["reason"]

        def produce() -> tuple[int, dict]:
            redemption = rollback_redemption(
                redemption_id=redemption_id, reason=reason, by=f"api:{_client(request)}"
            )
            return 200, RedemptionSummarySerializer(redemption).data

        endpoint = f"redemptions/{redemption_id}/rollback"
        status, body = answer_once(request, endpoint=endpoint, produce=produce)
        return Response(body, status=status)
