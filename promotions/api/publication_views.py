"""Publication endpoints: give a customer a code from a campaign, list what was given."""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from customers.api.fields import StrictInputSerializer
from promotions.api.checkout_serializers import CheckoutCustomerInSerializer
from promotions.api.idempotent import answer_once
from promotions.api.redemption_views import IDEMPOTENCY_HEADER
from promotions.api.throttles import ApiKeyThrottle, CustomerThrottle
from promotions.models import Publication
from promotions.publications import campaign_by_reference, publish_to_source_id

MAX_ID = 2**63 - 1


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "description": "The campaign's id."},
            {"type": "string", "maxLength": 200, "description": "The campaign's name."},
        ],
        "example": 12,
    }
)
class CampaignReferenceField(serializers.Field):
    """A campaign by id (a JSON number) or by name (a JSON string): "12" is a name."""

    default_error_messages = {
        "invalid": _("A campaign id (a whole number) or name (a text) is required."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int) and 0 < data <= MAX_ID:
            return data
        if isinstance(data, str) and 0 < len(data.strip()) <= 200:
            return data.strip()
        self.fail("invalid")

    def to_representation(self, value):
        return value


class PublicationCustomerInSerializer(CheckoutCustomerInSerializer):
    """The customer by their id; the other fields only count for a customer the shop has not
    pushed yet, who is then stored with them as the customers API would."""


class PublicationInSerializer(StrictInputSerializer):
    customer = PublicationCustomerInSerializer()
    campaign = CampaignReferenceField()


class PublicationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(source="voucher.code")
    campaign = serializers.CharField(source="campaign.name", help_text=_("The campaign's name"))
    campaign_id = serializers.IntegerField()
    customer = serializers.CharField(
        source="customer.source_id", help_text=_("The customer's source_id")
    )
    variant = serializers.CharField(
        source="variant.name",
        allow_null=True,
        default=None,
        help_text=_("The A/B variant the customer is in; null outside an experiment."),
    )
    message = serializers.SerializerMethodField(
        help_text=_("The variant's message for the customer, if it has one.")
    )
    source = serializers.CharField(help_text=_("Who published it: api, admin, trigger..."))
    expires_at = serializers.DateTimeField(
        source="voucher.expires_at", allow_null=True, help_text=_("The code's own expiry.")
    )
    created_at = serializers.DateTimeField()

    def get_message(self, publication: Publication) -> str:
        return publication.variant.message if publication.variant_id else ""


PUBLICATION_EXAMPLE = OpenApiExample(
    "Give a customer a code",
    request_only=True,
    value={"customer": {"source_id": "c-1"}, "campaign": 12},
)
NEW_CUSTOMER_EXAMPLE = OpenApiExample(
    "A customer the shop has not pushed yet, campaign by name",
    request_only=True,
    value={
        "customer": {"source_id": "c-77", "first_name": "Anna", "email": "anna@example.com"},
        "campaign": "Welcome 10%",
    },
)
PUBLICATION_ANSWER = OpenApiExample(
    "A personal code, in an A/B experiment",
    response_only=True,
    status_codes=["201", "200"],
    value={
        "id": 901,
        "code": "ANNA-10OFF-7KQ2",
        "campaign": "Welcome 10%",
        "campaign_id": 12,
        "customer": "c-77",
        "variant": "15% off",
        "message": "Welcome! 15% off your first order.",
        "source": "api",
        "expires_at": None,
        "created_at": "2026-06-01T09:30:00+00:00",
    },
)


class PublicationFilter(django_filters.FilterSet):
    campaign = django_filters.NumberFilter(field_name="campaign_id", help_text="Campaign id.")
    customer = django_filters.CharFilter(
        field_name="customer__source_id", help_text="The customer's source_id."
    )
    variant = django_filters.CharFilter(field_name="variant__name", help_text="Variant name.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Publication
        fields = ["campaign", "customer", "variant", "source"]


def publications() -> QuerySet[Publication]:
    return Publication.objects.select_related("voucher", "campaign", "customer", "variant")


class PublicationListView(generics.ListAPIView):
    """Codes given to customers, newest first."""

    serializer_class = PublicationOutSerializer
    filterset_class = PublicationFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return publications().order_by("-created_at", "-pk")

    @extend_schema(
        operation_id="publish",
        request=PublicationInSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: PublicationOutSerializer,
            200: OpenApiResponse(
                PublicationOutSerializer,
                description="One code per customer: the code the customer already has.",
            ),
            404: OpenApiResponse(description="`campaign_not_found`."),
            409: OpenApiResponse(
                description=(
                    "`no_codes_left` (generate or import codes), `campaign_inactive`, "
                    "`campaign_ended`, `campaign_has_no_codes` (an automatic promotion), "
                    "`experiment_needs_unique_codes`, `code_space_exhausted`."
                )
            ),
        },
        examples=[PUBLICATION_EXAMPLE, NEW_CUSTOMER_EXAMPLE, PUBLICATION_ANSWER],
        description=(
            "Give the customer a code of the campaign: its shared code (generic campaign), a "
            "new personal code from the pattern (codes on demand), or the next unused "
            "generated code, which then belongs to the customer. With one code per customer, "
            "publishing again answers 200 with the same code. A customer the shop has not "
            "pushed yet is stored with the fields sent."
        ),
    )
    def post(self, request):
        serializer = PublicationInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        customer = dict(data["customer"])
        source_id = customer.pop("source_id")

        def produce() -> tuple[int, dict]:
            publication = publish_to_source_id(
                campaign=campaign_by_reference(data["campaign"]),
                source_id=source_id,
                data=customer,
                source="api",
            )
            answer = PublicationOutSerializer(publication).data
            return (status.HTTP_201_CREATED if publication.created else status.HTTP_200_OK), answer

        code, body = answer_once(request, endpoint="publications", produce=produce)
        return Response(body, status=code)

    def get_throttles(self):
        if self.request.method == "POST":
            return [ApiKeyThrottle(), CustomerThrottle()]
        return super().get_throttles()
