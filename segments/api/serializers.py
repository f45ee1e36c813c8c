from rest_framework import serializers

from customers.api.fields import StrictInputSerializer
from segments.models import Segment


class SegmentOutSerializer(serializers.ModelSerializer):
    size = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Members at the last refresh."
    )
    size_measured_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "rules",
            "size",
            "size_measured_at",
            "created_at",
            "updated_at",
        ]


class SegmentDetailSerializer(SegmentOutSerializer):
    member_count = serializers.IntegerField(read_only=True, help_text="Members right now.")

    class Meta(SegmentOutSerializer.Meta):
        fields = [*SegmentOutSerializer.Meta.fields, "member_count"]


class SegmentMemberSerializer(serializers.Serializer):
    source_id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    country = serializers.CharField()
    city = serializers.CharField()


class CustomersInSerializer(StrictInputSerializer):
    customers = serializers.ListField(
        child=serializers.CharField(max_length=255),
        min_length=1,
        max_length=10_000,
        help_text="source_ids of the customers.",
    )


class CustomerSegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "kind"]
