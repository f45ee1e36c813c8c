"""Campaign and voucher management for integrators: parse, call one service, render.

What a campaign or voucher may be is decided by promotions.services (the admin calls the same
functions); these serializers only check types and bounds.
"""

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.api.fields import (
    AmountField,
    CurrencyField,
    JSONObjectField,
    StrictInputSerializer,
    StrictIntegerField,
    TimezoneField,
)
from customers.errors import UnknownCustomer
from customers.models import Customer
from promotions import selectors, services
from promotions.errors import CampaignNotFound, InvalidVoucher, VoucherNotFound
from promotions.models import Campaign, Discount, ValidationRule, Voucher
from segments.models import Segment

MAX_INT = 2**31 - 1  # PositiveIntegerField / IntegerField columns
MAX_ID = 2**63 - 1  # BigAutoField ids
MAX_RULES = 50
MAX_WINDOWS = 100
MAX_SEGMENTS = 100
PATCH_ONLY_BY_SERVICE = _("Cannot be changed here.")


class RuleTreeField(JSONObjectField):
    """A rule tree: a JSON object nested as deep as the rule language allows groups."""

    MAX_DEPTH = 32


class RefuseReadOnly:
    """Names the read-only fields a body sends, instead of silently ignoring them."""

    read_only_names: tuple[str, ...] = ()
    read_only_message = PATCH_ONLY_BY_SERVICE

    def to_internal_value(self, data):
        if isinstance(data, dict):
            sent = sorted(name for name in self.read_only_names if name in data)
            if sent:
                raise serializers.ValidationError({name: [self.read_only_message] for name in sent})
        return super().to_internal_value(data)


# --- campaigns: input ----------------------------------------------------------------------


@extend_schema_serializer(component_name="Discount")
class DiscountInSerializer(StrictInputSerializer):
    """What the campaign gives. Sent on an update, it replaces the discount as a whole."""

    type = serializers.ChoiceField(choices=Discount.Type.choices)
    percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text=_("percent: above 0, at most 100, two decimals at most."),
    )
    amount = AmountField(
        required=False,
        allow_null=True,
        help_text=_("amount: the amount off; fixed_price: the price of one unit (minor units)."),
    )
    cap = AmountField(
        required=False, allow_null=True, help_text=_("percent: the most it gives (minor units).")
    )
    unit_product = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text=_("unit: the free product.")
    )
    unit_quantity = StrictIntegerField(
        min_value=1, max_value=MAX_INT, required=False, allow_null=True
    )
    unit_every = StrictIntegerField(
        min_value=1,
        max_value=MAX_INT,
        required=False,
        allow_null=True,
        help_text=_("unit: for every N bought (2 for buy one get one)."),
    )
    products = serializers.ListField(
        child=serializers.CharField(max_length=255),
        max_length=services.MAX_IDS,
        required=False,
        help_text=_("Product ids in scope; none and no categories: the whole order."),
    )
    categories = serializers.ListField(
        child=serializers.CharField(max_length=255), max_length=services.MAX_IDS, required=False
    )
    excluded_products = serializers.ListField(
        child=serializers.CharField(max_length=255), max_length=services.MAX_IDS, required=False
    )
    excluded_categories = serializers.ListField(
        child=serializers.CharField(max_length=255), max_length=services.MAX_IDS, required=False
    )


@extend_schema_serializer(component_name="ValidationRule")
class RuleInSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    rules = RuleTreeField(
        help_text=_(
            "A rule tree: the segment language plus order.*, time.* and history.* conditions."
        )
    )
    failure = serializers.ChoiceField(
        choices=ValidationRule.Failure.choices,
        required=False,
        allow_blank=True,
        help_text=_("Reason code when it fails; empty: from the fields the rule reads."),
    )
    message = serializers.CharField(max_length=255, required=False, allow_blank=True)


@extend_schema_serializer(component_name="ScheduleWindow")
class ScheduleWindowInSerializer(StrictInputSerializer):
    weekday = StrictIntegerField(min_value=1, max_value=7, help_text=_("1 Monday ... 7 Sunday."))
    start_time = serializers.TimeField(required=False, help_text=_("Default 00:00."))
    end_time = serializers.TimeField(
        required=False, help_text=_("Exclusive; 00:00 (the default) means midnight.")
    )


@extend_schema_serializer(component_name="Campaign")
class CampaignInSerializer(RefuseReadOnly, StrictInputSerializer):
    """A new campaign (a draft), or on PATCH the parts to change; omitted parts stay. Rules,
    schedule and segments sent replace the old ones."""

    read_only_names = ("id", "status", "redemptions_count", "discount_given", "created_at")

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Campaign.Kind.choices, required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    timezone = TimezoneField(required=False)
    schedule_timezone = serializers.ChoiceField(
        choices=Campaign.ScheduleTimezone.choices, required=False
    )
    currency = CurrencyField(required=False)
    max_redemptions = StrictIntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    max_per_customer = StrictIntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    max_per_customer_per_day = StrictIntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    budget = AmountField(required=False, allow_null=True)
    exclusive = serializers.BooleanField(required=False)
    priority = StrictIntegerField(min_value=-MAX_INT, max_value=MAX_INT, required=False)
    rollback_on_order_cancel = serializers.BooleanField(
        required=False,
        help_text=_("Roll back its redemptions when their order is cancelled or refunded."),
    )
    code_prefix = serializers.CharField(max_length=20, required=False, allow_blank=True)
    code_pattern = serializers.CharField(
        max_length=64,
        required=False,
        help_text=_("'#' is a random character; {first_name} and {last_name} personalise."),
    )
    code_suffix = serializers.CharField(max_length=20, required=False, allow_blank=True)
    code_charset = serializers.ChoiceField(choices=Campaign.Charset.choices, required=False)
    code_custom_charset = serializers.CharField(max_length=100, required=False, allow_blank=True)
    code_exclude_ambiguous = serializers.BooleanField(required=False)
    one_code_per_customer = serializers.BooleanField(required=False)
    codes_on_demand = serializers.BooleanField(required=False)
    metadata = JSONObjectField(required=False)
    discount = DiscountInSerializer(required=False)
    rules = RuleInSerializer(many=True, required=False, max_length=MAX_RULES)
    schedule = ScheduleWindowInSerializer(many=True, required=False, max_length=MAX_WINDOWS)
    segments = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_SEGMENTS,
        help_text=_("Segment ids: only their members qualify (empty: everyone)."),
    )

    def get_fields(self):
        fields = super().get_fields()
        if self.context.get("update"):
            fields["name"].required = False
        return fields


def save_campaign_from(data: dict, campaign: Campaign | None = None) -> Campaign:
    """Call the service with a validated campaign body."""
    values = dict(data)
    discount = values.pop("discount", None)
    rules = values.pop("rules", None)
    schedule = values.pop("schedule", None)
    segment_ids = values.pop("segments", None)
    return services.save_campaign(
        campaign=campaign,
        values=values,
        discount=discount,
        rules=rules,
        schedule=schedule,
        segment_ids=segment_ids,
    )


CAMPAIGN_EXAMPLE = OpenApiExample(
    "A coupon campaign",
    request_only=True,
    value={
        "name": "Summer 10%",
        "kind": "coupons",
        "starts_at": "2026-06-01T00:00:00Z",
        "ends_at": "2026-09-01T00:00:00Z",
        "timezone": "Europe/Dublin",
        "max_redemptions": 1000,
        "max_per_customer": 1,
        "budget": 500000,
        "discount": {
            "type": "percent",
            "percent": "10",
            "cap": 2000,
            "categories": ["shoes"],
            "excluded_products": ["gift-card"],
        },
        "rules": [
            {
                "name": "Baskets from 50",
                "rules": {"all": [{"field": "order.amount", "op": "gte", "value": 5000}]},
                "message": "Spend 50 or more to use this code.",
            }
        ],
        "schedule": [{"weekday": 6, "start_time": "09:00", "end_time": "00:00"}],
        "segments": [3],
    },
)
PROMOTION_EXAMPLE = OpenApiExample(
    "An automatic promotion",
    request_only=True,
    value={
        "name": "Free shipping from 80",
        "kind": "promotion",
        "priority": 10,
        "discount": {"type": "free_shipping"},
        "rules": [{"rules": {"all": [{"field": "order.amount", "op": "gte", "value": 8000}]}}],
    },
)
CAMPAIGN_PATCH_EXAMPLE = OpenApiExample(
    "Raise the limit and end later",
    request_only=True,
    value={"max_redemptions": 2000, "ends_at": "2026-09-15T00:00:00Z"},
)


# --- campaigns: output ---------------------------------------------------------------------


@extend_schema_serializer(component_name="Discount")
class DiscountOutSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Discount.Type.choices)
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, allow_null=True, coerce_to_string=True
    )
    amount = serializers.IntegerField(allow_null=True)
    cap = serializers.IntegerField(allow_null=True)
    unit_product = serializers.CharField()
    unit_quantity = serializers.IntegerField(allow_null=True)
    unit_every = serializers.IntegerField(allow_null=True)
    products = serializers.ListField(child=serializers.CharField())
    categories = serializers.ListField(child=serializers.CharField())
    excluded_products = serializers.ListField(child=serializers.CharField())
    excluded_categories = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(component_name="ValidationRule")
class RuleOutSerializer(serializers.Serializer):
    name = serializers.CharField()
    rules = serializers.JSONField()
    failure = serializers.ChoiceField(choices=ValidationRule.Failure.choices, allow_blank=True)
    message = serializers.CharField()


@extend_schema_serializer(component_name="ScheduleWindow")
class ScheduleWindowOutSerializer(serializers.Serializer):
    weekday = serializers.IntegerField()
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()


@extend_schema_serializer(component_name="Campaign")
class CampaignOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=Campaign.Kind.choices)
    status = serializers.ChoiceField(
        choices=Campaign.Status.choices,
        help_text=_("Changed by POST .../activate and .../pause only."),
    )
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    timezone = serializers.CharField()
    schedule_timezone = serializers.ChoiceField(choices=Campaign.ScheduleTimezone.choices)
    currency = serializers.CharField()
    max_redemptions = serializers.IntegerField(allow_null=True)
    max_per_customer = serializers.IntegerField(allow_null=True)
    max_per_customer_per_day = serializers.IntegerField(allow_null=True)
    budget = serializers.IntegerField(allow_null=True)
    exclusive = serializers.BooleanField()
    priority = serializers.IntegerField()
    rollback_on_order_cancel = serializers.BooleanField()
    code_prefix = serializers.CharField()
    code_pattern = serializers.CharField()
    code_suffix = serializers.CharField()
    code_charset = serializers.ChoiceField(choices=Campaign.Charset.choices)
    code_custom_charset = serializers.CharField()
    code_exclude_ambiguous = serializers.BooleanField()
    one_code_per_customer = serializers.BooleanField()
    codes_on_demand = serializers.BooleanField()
    metadata = serializers.JSONField()
    discount = DiscountOutSerializer(allow_null=True)
    rules = RuleOutSerializer(many=True)
    schedule = ScheduleWindowOutSerializer(many=True)
    segments = serializers.SerializerMethodField(help_text=_("Target segment ids."))
    redemptions_count = serializers.IntegerField()
    discount_given = serializers.IntegerField(help_text=_("Discount given so far (minor units)."))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    problems = serializers.SerializerMethodField(
        help_text=_(
            "Why the campaign cannot go live, in words (empty when it can); given for one "
            "campaign, null in lists."
        )
    )

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_segments(self, campaign: Campaign) -> list[int]:
        return [segment.pk for segment in campaign.segments.all()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_problems(self, campaign: Campaign) -> list[str] | None:
        return getattr(campaign, "problems", None)


# --- campaigns: views ----------------------------------------------------------------------


def campaigns_with_parts() -> QuerySet[Campaign]:
    return selectors.campaigns().prefetch_related(
        "rules", "schedule", Prefetch("segments", queryset=Segment.objects.only("pk"))
    )


def campaign_by_id(campaign_id: int) -> Campaign:
    campaign = (
        campaigns_with_parts().filter(pk=campaign_id).first() if campaign_id <= MAX_ID else None
    )
    if campaign is None:
        raise CampaignNotFound(details={"id": campaign_id})
    return campaign


def render_campaign(campaign_id: int) -> dict:
    campaign = campaign_by_id(campaign_id)
    campaign.problems = services.campaign_problems(campaign)
    return CampaignOutSerializer(campaign).data


class CampaignFilter(django_filters.FilterSet):
    class Meta:
        model = Campaign
        fields = ["kind", "status"]


class CampaignListView(generics.ListAPIView):
    serializer_class = CampaignOutSerializer
    filterset_class = CampaignFilter
    ordering_fields = ["created_at", "name", "priority"]

    def get_queryset(self):
        return campaigns_with_parts()

    @extend_schema(
        request=CampaignInSerializer,
        responses={201: CampaignOutSerializer},
        examples=[CAMPAIGN_EXAMPLE, PROMOTION_EXAMPLE],
        description=(
            "Create a campaign as a draft, with its discount, validation rules, weekly "
            "schedule and target segments. Refusals are `400 invalid_campaign` with the bad "
            "fields in `details` (a rule's message starts with the path of the bad node)."
        ),
    )
    def post(self, request):
        serializer = CampaignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = save_campaign_from(serializer.validated_data)
        return Response(render_campaign(campaign.pk), status=status.HTTP_201_CREATED)


class CampaignDetailView(APIView):
    @extend_schema(responses=CampaignOutSerializer)
    def get(self, request, campaign_id: int):
        return Response(render_campaign(campaign_id))

    @extend_schema(
        request=CampaignInSerializer,
        responses=CampaignOutSerializer,
        examples=[CAMPAIGN_PATCH_EXAMPLE],
        description=(
            "Change the fields sent; the others stay. `discount`, `rules`, `schedule` and "
            "`segments`, when sent, replace the old ones as a whole. A campaign with codes "
            "keeps its kind. The status moves only with activate and pause."
        ),
    )
    def patch(self, request, campaign_id: int):
        campaign = campaign_by_id(campaign_id)
        serializer = CampaignInSerializer(data=request.data, context={"update": True})
        serializer.is_valid(raise_exception=True)
        save_campaign_from(serializer.validated_data, campaign)
        return Response(render_campaign(campaign_id))


NOT_READY = OpenApiResponse(
    description=(
        "`campaign_not_ready`, with `details.problems` saying why in words; or `campaign_archived`."
    )
)


class CampaignActivateView(APIView):
    @extend_schema(
        request=None,
        responses={200: CampaignOutSerializer, 409: NOT_READY},
        description="Put the campaign live, once it has all it needs (see `problems`).",
    )
    def post(self, request, campaign_id: int):
        services.activate_campaign(campaign=campaign_by_id(campaign_id))
        return Response(render_campaign(campaign_id))


class CampaignPauseView(APIView):
    @extend_schema(
        request=None,
        responses={200: CampaignOutSerializer, 409: NOT_READY},
        description="Stop a live campaign for now; activate puts it back.",
    )
    def post(self, request, campaign_id: int):
        services.pause_campaign(campaign=campaign_by_id(campaign_id))
        return Response(render_campaign(campaign_id))


# --- vouchers ------------------------------------------------------------------------------


class VoucherFieldsSerializer(StrictInputSerializer):
    customer = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text=_("source_id of the owner: only they may use the code (null: anyone)."),
    )
    enabled = serializers.BooleanField(required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    max_redemptions = StrictIntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    metadata = JSONObjectField(required=False)


@extend_schema_serializer(component_name="VoucherCreate")
class VoucherCreateInSerializer(VoucherFieldsSerializer):
    code = serializers.CharField(
        max_length=255, help_text=_("1 to 64 letters, digits, - or _; unique in any case.")
    )
    campaign = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text=_("Campaign id."))
    gift_amount = AmountField(
        required=False,
        allow_null=True,
        help_text=_("Gift card campaigns: the initial balance (minor units)."),
    )


@extend_schema_serializer(component_name="VoucherUpdate")
class VoucherUpdateInSerializer(RefuseReadOnly, VoucherFieldsSerializer):
    read_only_names = (
        "code",
        "campaign",
        "gift_amount",
        "gift_balance",
        "redemptions_count",
        "created_at",
    )


@extend_schema_serializer(component_name="Voucher")
class VoucherOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    campaign_id = serializers.IntegerField()
    campaign = serializers.CharField(source="campaign.name", help_text=_("The campaign's name"))
    # Plain text: the enum is the Campaign schema's (one name for one choice set).
    campaign_status = serializers.CharField(
        source="campaign.status", help_text=_("draft, active, paused or archived")
    )
    customer = serializers.CharField(
        source="customer.source_id", allow_null=True, help_text=_("The owner's source_id")
    )
    enabled = serializers.BooleanField()
    status = serializers.SerializerMethodField(
        help_text=_(
            "By the voucher's and its campaign's dates: not_started, active or expired. "
            "Whether it applies also needs `enabled` and an active campaign."
        )
    )
    starts_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    max_redemptions = serializers.IntegerField(allow_null=True)
    redemptions_count = serializers.IntegerField()
    remaining_redemptions = serializers.IntegerField(
        allow_null=True, help_text=_("null: no limit on the code.")
    )
    gift_amount = serializers.IntegerField(allow_null=True)
    gift_balance = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(source="campaign.currency")
    metadata = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ChoiceField(choices=services.VoucherDates.CHOICES))
    def get_status(self, voucher: Voucher) -> str:
        return services.voucher_dates_status(voucher, now=self.context.get("now"))


VOUCHER_EXAMPLE = OpenApiExample(
    "A code for one customer",
    request_only=True,
    value={
        "code": "ANNA-WELCOME",
        "campaign": 12,
        "customer": "cust-1",
        "expires_at": "2026-12-31T23:59:59Z",
        "max_redemptions": 1,
    },
)
GIFT_CARD_EXAMPLE = OpenApiExample(
    "A gift card",
    request_only=True,
    value={"code": "GIFT-7Q2K-91XA", "campaign": 14, "gift_amount": 5000},
)
VOUCHER_PATCH_EXAMPLE = OpenApiExample(
    "Disable a code", request_only=True, value={"enabled": False}
)


def vouchers_with_campaign() -> QuerySet[Voucher]:
    return Voucher.objects.select_related("campaign", "customer")


def voucher_by_code(code: str) -> Voucher:
    voucher = selectors.voucher_by_code(code)
    if voucher is None:
        raise VoucherNotFound(details={"code": code})
    return vouchers_with_campaign().get(pk=voucher.pk)


def customer_named(source_id: str | None) -> Customer | None:
    """The owner named in a body; an unknown one is refused, like other bodies naming a
    customer."""
    if source_id is None:
        return None
    customer = Customer.objects.filter(source_id=source_id, erased_at__isnull=True).first()
    if customer is None:
        raise UnknownCustomer(details={"customer": source_id})
    return customer


def voucher_values(data: dict) -> dict:
    values = dict(data)
    if "customer" in values:
        values["customer"] = customer_named(values["customer"])
    return values


class VoucherFilter(django_filters.FilterSet):
    campaign = django_filters.NumberFilter(field_name="campaign_id")
    customer = django_filters.CharFilter(
        field_name="customer__source_id", help_text="The owner's source_id."
    )

    class Meta:
        model = Voucher
        fields = ["campaign", "customer", "enabled"]


class VoucherListView(generics.ListAPIView):
    serializer_class = VoucherOutSerializer
    filterset_class = VoucherFilter
    ordering_fields = ["created_at", "code"]

    def get_queryset(self):
        return vouchers_with_campaign().order_by("-created_at", "-pk")

    @extend_schema(
        request=VoucherCreateInSerializer,
        responses={201: VoucherOutSerializer},
        examples=[VOUCHER_EXAMPLE, GIFT_CARD_EXAMPLE],
        description=(
            "Add a code to a campaign (not to an automatic promotion). Codes are unique "
            "ignoring case: a taken one is `409 voucher_code_taken`. Other refusals are "
            "`400 invalid_voucher` with the fields in `details`; an unknown owner is "
            "`422 customer_not_found`."
        ),
    )
    def post(self, request):
        serializer = VoucherCreateInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = voucher_values(serializer.validated_data)
        campaign_id = values.pop("campaign")
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise InvalidVoucher(details={"campaign": _("No campaign with this id.")})
        voucher = services.create_voucher(campaign=campaign, code=values.pop("code"), values=values)
        return Response(
            VoucherOutSerializer(vouchers_with_campaign().get(pk=voucher.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class VoucherDetailView(APIView):
    @extend_schema(
        responses=VoucherOutSerializer,
        description="The voucher by its code, in any case.",
    )
    def get(self, request, code: str):
        return Response(VoucherOutSerializer(voucher_by_code(code)).data)

    @extend_schema(
        request=VoucherUpdateInSerializer,
        responses=VoucherOutSerializer,
        examples=[VOUCHER_PATCH_EXAMPLE],
        description=(
            "Change the owner, dates, limit, enabled flag or metadata. The code, campaign "
            "and gift balance cannot change."
        ),
    )
    def patch(self, request, code: str):
        voucher = voucher_by_code(code)
        serializer = VoucherUpdateInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_voucher(voucher=voucher, values=voucher_values(serializer.validated_data))
        return Response(VoucherOutSerializer(vouchers_with_campaign().get(pk=voucher.pk)).data)
