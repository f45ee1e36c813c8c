"""Code generation jobs for integrators: start one, follow it, cancel it."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.api.fields import StrictInputSerializer, StrictIntegerField
from promotions import generation
from promotions.errors import CampaignNotFound
from promotions.models import Campaign, CodeGenerationJob

MAX_ID = 2**63 - 1


class CodeRequestSerializer(StrictInputSerializer):
    count = StrictIntegerField(
        min_value=1,
        max_value=generation.MAX_JOB_CODES,
        help_text=_("How many new codes to make, from the campaign's code pattern."),
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class CodeJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField(source="campaign_id")
    requested = serializers.IntegerField()
    generated = serializers.IntegerField(help_text=_("Codes made so far, counted in the database."))
    progress = serializers.FloatField(help_text=_("generated / requested, from 0 to 1."))
    status = serializers.ChoiceField(choices=CodeGenerationJob.Status.choices)
    cancel_requested = serializers.BooleanField()
    message = serializers.CharField(help_text=_("Why it failed, or what happened."))
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def _campaign(campaign_id: int) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first() if campaign_id <= MAX_ID else None
    if campaign is None:
        raise CampaignNotFound(details={"id": campaign_id})
    return campaign


REFUSED = OpenApiResponse(
    description=(
        "`code_space_too_small` (more codes than the pattern has left: `details.space_size`, "
        "`existing`, `pending`, `available`), `codes_not_generated` (automatic promotions, "
        "gift cards, personalised patterns) or `invalid_code_pattern`."
    )
)


class CampaignCodesView(APIView):
    @extend_schema(
        request=CodeRequestSerializer,
        responses={202: CodeJobSerializer, 409: REFUSED},
        description=(
            "Queue a job that makes `count` new unique codes for the campaign from its code "
            "pattern. Follow it at `GET /api/v1/code-jobs/{id}` (the `Location` header)."
        ),
    )
    def post(self, request, campaign_id: int):
        serializer = CodeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = generation.start_generation(
            campaign=_campaign(campaign_id),
            count=serializer.validated_data["count"],
            created_by=request.auth.name,
        )
        job.refresh_from_db()  # an eager task (tests, embedded runs) may have moved it
        return Response(
            CodeJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("code-job-detail", args=[job.pk])},
        )


class CodeJobDetailView(APIView):
    @extend_schema(responses=CodeJobSerializer, description="A job's status and progress.")
    def get(self, request, job_id: int):
        return Response(CodeJobSerializer(generation.job_by_id(job_id)).data)


class CodeJobCancelView(APIView):
    @extend_schema(
        request=None,
        responses={200: CodeJobSerializer, 409: OpenApiResponse(description="code_job_finished")},
        description=(
            "Stop a job: a queued one at once, a running one after its current batch "
            "(`cancel_requested` until then). The codes made so far stay."
        ),
    )
    def post(self, request, job_id: int):
        job = generation.cancel_generation(job=generation.job_by_id(job_id))
        return Response(CodeJobSerializer(job).data)
