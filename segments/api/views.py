from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.models import Customer
from customers.selectors import customer_by_source_id
from segments import selectors, services
from segments.api.serializers import (
    CustomerSegmentSerializer,
    CustomersInSerializer,
    SegmentDetailSerializer,
    SegmentMemberSerializer,
    SegmentOutSerializer,
)
from segments.errors import SegmentNotStatic


class SegmentListView(generics.ListAPIView):
    serializer_class = SegmentOutSerializer
    filterset_fields = ["kind"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return selectors.segments_with_last_size()


class SegmentDetailView(APIView):
    @extend_schema(responses=SegmentDetailSerializer)
    def get(self, request, segment_id: int):
        segment = selectors.segment_by_id(segment_id)
        segment.member_count = selectors.segment_members(segment).count()
        return Response(SegmentDetailSerializer(segment).data)


class SegmentMembersView(generics.ListAPIView):
    serializer_class = SegmentMemberSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no segment
            return Customer.objects.none()
        segment = selectors.segment_by_id(self.kwargs["segment_id"])
        return selectors.segment_members(segment).order_by("pk")

    @extend_schema(request=CustomersInSerializer, responses={200: SegmentDetailSerializer})
    def post(self, request, segment_id: int):
        """Put customers on a static segment's list (all or none)."""
        segment = selectors.segment_by_id(segment_id)
        if segment.kind != segment.Kind.STATIC:
            raise SegmentNotStatic()
        serializer = CustomersInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.add_static_members(
            segment=segment, source_ids=serializer.validated_data["customers"]
        )
        segment = selectors.segment_by_id(segment_id)
        segment.member_count = selectors.segment_members(segment).count()
        return Response(SegmentDetailSerializer(segment).data, status=status.HTTP_200_OK)


class SegmentMemberView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, segment_id: int, source_id: str):
        """Take a customer off a static segment's list."""
        segment = selectors.segment_by_id(segment_id)
        if segment.kind != segment.Kind.STATIC:
            raise SegmentNotStatic()
        services.remove_static_members(segment=segment, source_ids=[source_id])
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerSegmentsView(APIView):
    @extend_schema(responses=CustomerSegmentSerializer(many=True))
    def get(self, request, source_id: str):
        """The segments the customer is in right now (one query for all segments)."""
        customer = customer_by_source_id(source_id)
        segments = selectors.segments_of_customer(customer)
        return Response(CustomerSegmentSerializer(segments, many=True).data)
