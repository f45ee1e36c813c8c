"""Gift card endpoints: top up a balance, read the balance ledger."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.api.fields import AmountField, StrictInputSerializer
from promotions import giftcards, selectors
from promotions.errors import VoucherNotFound
from promotions.models import GiftCardTransaction


class TopUpInSerializer(StrictInputSerializer):
    amount = AmountField(min_value=1, help_text=_("Minor units to add"))
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class GiftTransactionSerializer(serializers.ModelSerializer):
    redemption_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = GiftCardTransaction
        fields = ["id", "kind", "amount", "balance_after", "redemption_id", "note", "created_at"]


class TopUpOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    gift_balance = serializers.IntegerField()
    transaction = GiftTransactionSerializer()


def _voucher(code: str):
    voucher = selectors.voucher_by_code(code)
    if voucher is None:
        raise VoucherNotFound(details={"code": code})
    return voucher


class GiftBalanceView(APIView):
    @extend_schema(
        operation_id="top_up_gift_card",
        request=TopUpInSerializer,
        responses=TopUpOutSerializer,
        examples=[OpenApiExample("Add $25", value={"amount": 2500, "note": "store credit"})],
        description="Add to a gift card's balance; the change is written to its ledger.",
    )
    def post(self, request, code: str):
        serializer = TopUpInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voucher = _voucher(code)
        entry = giftcards.top_up_gift_card(voucher=voucher, **serializer.validated_data)
        return Response(
            {
                "code": voucher.code,
                "gift_balance": entry.balance_after,
                "transaction": GiftTransactionSerializer(entry).data,
            }
        )


class GiftLedgerView(generics.ListAPIView):
    """Every change of a gift card's balance, oldest first."""

    serializer_class = GiftTransactionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return GiftCardTransaction.objects.none()
        voucher = _voucher(self.kwargs["code"])
        return GiftCardTransaction.objects.filter(voucher=voucher).order_by("pk")
