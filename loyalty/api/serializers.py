"""Wallet API shapes."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers.api.fields import StrictInputSerializer, StrictIntegerField


class TierOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    threshold = serializers.IntegerField(
        help_text=_("Points (or spend, minor units) in the qualifying period to enter")
    )
    multiplier = serializers.DecimalField(max_digits=5, decimal_places=2)


class ProgramOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    points_name = serializers.CharField(help_text=_("The points currency's own name"))
    currency = serializers.CharField()


class BalanceOutSerializer(serializers.Serializer):
    active = serializers.IntegerField(source="points_active", help_text=_("Spendable now"))
    pending = serializers.IntegerField(
        source="points_pending", help_text=_("Earned on orders still in their pending period")
    )


class ProgressOutSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(choices=["points", "spend"])
    qualifying_value = serializers.IntegerField(
        help_text=_("Points earned (or spend) in the qualifying period")
    )
    next_tier = TierOutSerializer(allow_null=True)
    missing = serializers.IntegerField(help_text=_("What is missing to reach the next tier"))
    progress = serializers.FloatField(help_text=_("0 to 1"))


class TierStandingOutSerializer(serializers.Serializer):
    current = TierOutSerializer(source="tier", allow_null=True)
    since = serializers.DateTimeField(source="tier_since", allow_null=True)
    review_at = serializers.DateTimeField(
        source="tier_review_at",
        allow_null=True,
        help_text=_("When the tier is re-evaluated and may go down"),
    )


class ExpiringOutSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class CatalogItemOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="reward.id")
    name = serializers.CharField(source="reward.name")
    description = serializers.CharField(source="reward.description")
    kind = serializers.CharField(source="reward.kind")
    points_cost = serializers.IntegerField(source="reward.points_cost")
    stock = serializers.IntegerField(source="reward.stock", allow_null=True)
    ends_at = serializers.DateTimeField(source="reward.ends_at", allow_null=True)
    amount = serializers.IntegerField(
        source="reward.amount", allow_null=True, help_text=_("Gift card credit or donation")
    )
    affordable = serializers.BooleanField(help_text=_("The member has the active points"))


class VoucherOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    campaign = serializers.CharField(source="campaign.name")
    expires_at = serializers.DateTimeField(allow_null=True)
    redemptions_count = serializers.IntegerField()
    max_redemptions = serializers.IntegerField(allow_null=True)


class GiftCardOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    campaign = serializers.CharField(source="campaign.name")
    balance = serializers.IntegerField(source="gift_balance")
    currency = serializers.CharField(source="campaign.currency")
    expires_at = serializers.DateTimeField(allow_null=True)


class ReferralResultsOutSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    completed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    refused = serializers.IntegerField()


class ReferralOutSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True, help_text=_("Null: not a member yet"))
    limit = serializers.IntegerField(allow_null=True, help_text=_("Null: no limit"))
    remaining = serializers.IntegerField(allow_null=True)
    results = ReferralResultsOutSerializer()


class WalletOutSerializer(serializers.Serializer):
    customer = serializers.CharField()
    member = serializers.BooleanField(
        help_text=_(
            "False: not a member yet (zero balances, no referral code); their first earning, "
            "adjustment or redemption makes them one"
        )
    )
    program = ProgramOutSerializer()
    balance = BalanceOutSerializer()
    tier = TierStandingOutSerializer()
    progress = ProgressOutSerializer()
    expiring_soon = ExpiringOutSerializer(many=True)
    catalog = CatalogItemOutSerializer(many=True)
    vouchers = VoucherOutSerializer(many=True)
    gift_cards = GiftCardOutSerializer(many=True)
    referral = ReferralOutSerializer()


class EntryOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    balance = serializers.CharField(help_text=_("The balance it moved: active or pending"))
    points = serializers.IntegerField(help_text=_("Signed"))
    reason = serializers.CharField()
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None)
    order = serializers.CharField(source="order.source_id", allow_null=True, default=None)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class RedeemInSerializer(StrictInputSerializer):
    reward = StrictIntegerField(min_value=1, max_value=2**63 - 1)
    address = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text=_("Physical rewards")
    )


class RewardRedemptionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reward = serializers.CharField(source="reward.name")
    reward_id = serializers.IntegerField()
    kind = serializers.CharField()
    points = serializers.IntegerField()
    code = serializers.CharField(
        source="voucher.code",
        allow_null=True,
        default=None,
        help_text=_("The voucher published, or the gift card credited"),
    )
    amount = serializers.IntegerField(allow_null=True)
    charity = serializers.CharField(source="charity.name", allow_null=True, default=None)
    fulfilment = serializers.CharField(
        source="fulfilment.status",
        allow_null=True,
        default=None,
        help_text=_("Physical rewards: requested, shipped, delivered, cancelled"),
    )
    balance_after = serializers.IntegerField(source="member.points_active")
    created_at = serializers.DateTimeField()


class AdjustInSerializer(StrictInputSerializer):
    points = StrictIntegerField(help_text=_("Signed: negative to deduct"))
    reason = serializers.CharField(max_length=255)
