"""The wallet API: a customer's points, tier, rewards, codes and referrals; redeem a reward."""

import django_filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.selectors import customer_by_source_id
from loyalty import selectors
from loyalty.api.serializers import (
    AdjustInSerializer,
    EntryOutSerializer,
    RedeemInSerializer,
    RewardRedemptionOutSerializer,
    WalletOutSerializer,
)
from loyalty.api.throttles import WALLET_THROTTLES
from loyalty.models import PointsEntry, RewardRedemption
from loyalty.services import ledger, referrals, rewards
from promotions.api.idempotent import answer_once
from promotions.api.redemption_views import IDEMPOTENCY_HEADER


def member_for(source_id: str):
    """The customer's membership of the active programme, made on first need: for writes."""
    customer = customer_by_source_id(source_id)
    program = selectors.current_program()
    ledger.ensure_member(program=program, customer=customer)
    return selectors.member_of(customer, program)


def standing_for(source_id: str):
    """The customer's membership, or an unsaved non-member with zero balances: for reads,
    which never write."""
    return selectors.standing_of(customer_by_source_id(source_id), selectors.current_program())


def wallet(member) -> dict:
    limit = referrals.referral_limit(member)
    counted = referrals.referrals_counted(member)
    return {
        "customer": member.customer.source_id,
        "member": member.pk is not None,
        "program": member.program,
        "balance": member,
        "tier": member,
        "progress": selectors.tier_progress(member),
        "expiring_soon": selectors.expiring_soon(member),
        "catalog": selectors.catalog_for(member),
        "vouchers": selectors.vouchers_of(member.customer),
        "gift_cards": selectors.gift_cards_of(member.customer),
        "referral": {
            "code": member.referral_code or None,
            "limit": limit,
            "remaining": None if limit is None else max(limit - counted, 0),
            "results": selectors.referral_results(member),
        },
    }


ERRORS_404 = OpenApiResponse(
    description="`customer_not_found`, `no_loyalty_program` (no active programme)."
)


class WalletView(APIView):
    throttle_classes = WALLET_THROTTLES

    @extend_schema(
        operation_id="wallet",
        responses={200: WalletOutSerializer, 404: ERRORS_404},
        description=(
            "The customer's loyalty wallet: active and pending points, tier and progress to "
            "the next, points expiring soon, the rewards they can take now, their vouchers "
            "and gift cards, their referral code and its results. Reading never writes: a "
            "customer who is not a member yet gets `member: false`, zero balances and no "
            "referral code; their first earning, adjustment or redemption makes them one."
        ),
    )
    def get(self, request, source_id: str):
        return Response(WalletOutSerializer(wallet(standing_for(source_id))).data)


class HistoryFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PointsEntry.Kind.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = PointsEntry
        fields = ["kind"]


class HistoryView(generics.ListAPIView):
    """The customer's points history, newest first (every entry of the ledger)."""

    throttle_classes = WALLET_THROTTLES
    serializer_class = EntryOutSerializer
    filterset_class = HistoryFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PointsEntry.objects.none()
        return selectors.points_history(standing_for(self.kwargs["source_id"]))


REDEEM_EXAMPLE = OpenApiExample(
    "Redeem a reward", request_only=True, value={"reward": 3, "address": "1 Main St, Dublin"}
)


class RedemptionsView(generics.ListAPIView):
    """Rewards the customer took, newest first."""

    throttle_classes = WALLET_THROTTLES
    serializer_class = RewardRedemptionOutSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RewardRedemption.objects.none()
        member = standing_for(self.kwargs["source_id"])
        if member.pk is None:
            return RewardRedemption.objects.none()
        return member.redemptions.select_related(
            "reward", "voucher", "charity", "fulfilment", "member"
        ).order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="wallet_redeem",
        request=RedeemInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: RewardRedemptionOutSerializer,
            404: OpenApiResponse(description="`customer_not_found`, `reward_not_found`."),
            409: OpenApiResponse(
                description=(
                    "`insufficient_points`, `out_of_stock`, `reward_unavailable` (with "
                    "`details.reason`: inactive, not_started, ended, tier_not_eligible, "
                    "segment_not_eligible, sweepstake_closed), and a voucher campaign's "
                    "refusals (`no_codes_left`, `campaign_inactive`, ...)."
                )
            ),
        },
        examples=[REDEEM_EXAMPLE],
        description=(
            "Spend points on a catalog reward, atomically: the points, the stock and what the "
            "reward gives (a voucher code, a gift card credit, a fulfilment, a donation, a "
            "sweepstakes entry) all happen or none does. Honours Idempotency-Key."
        ),
    )
    def post(self, request, source_id: str):
        serializer = RedeemInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def produce() -> tuple[int, dict]:
            member = member_for(source_id)
            reward = selectors.reward_of(member.program, data["reward"])
            redemption = rewards.redeem_reward(
                member=member, reward=reward, address=data.get("address", "")
            )
            redemption = RewardRedemption.objects.select_related(
                "reward", "voucher", "charity", "fulfilment", "member"
            ).get(pk=redemption.pk)
            return status.HTTP_201_CREATED, RewardRedemptionOutSerializer(redemption).data

        code, body = answer_once(
            request, endpoint=f"wallet/{source_id}/redemptions", produce=produce
        )
        return Response(body, status=code)


class AdjustmentView(APIView):
    throttle_classes = WALLET_THROTTLES

    @extend_schema(
        operation_id="wallet_adjust",
        request=AdjustInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: EntryOutSerializer,
            400: OpenApiResponse(description="`invalid`, `invalid_adjustment`."),
            409: OpenApiResponse(description="`insufficient_points` (a deduction)."),
        },
        description=(
            "A manual correction of the active balance with its reason (customer service); "
            "a deduction takes the oldest points first and never goes below zero."
        ),
    )
    def post(self, request, source_id: str):
        serializer = AdjustInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_key = getattr(request.user, "api_key", None)

        def produce() -> tuple[int, dict]:
            entry = ledger.adjust(
                member=member_for(source_id),
                points=data["points"],
                reason=data["reason"],
                by=f"api:{api_key.name}" if api_key else "api",
            )
            return status.HTTP_201_CREATED, EntryOutSerializer(entry).data

        code, body = answer_once(
            request, endpoint=f"wallet/{source_id}/adjustments", produce=produce
        )
        return Response(body, status=code)
