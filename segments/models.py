from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class Segment(models.Model):
    """A group of customers: a hand-kept list (static) or everyone matching a rule tree."""

    class Kind(models.TextChoices):
        STATIC = "static", _("Static list")
        DYNAMIC = "dynamic", _("Dynamic (rules)")

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    # The rule tree of a dynamic segment (see segments.rules); unused by static ones.
    rules = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.kind != self.Kind.DYNAMIC:
            return
        # Imported here: the rule language reads segments (segment.member) through models.
        from segments.errors import InvalidRules
        from segments.rules import validate_rules

        try:
            validate_rules(self.rules, segment_id=self.pk)
        except InvalidRules as e:
            raise ValidationError({"rules": e.message}) from e


class SegmentMember(models.Model):
    """A customer on a static segment's list."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="static_segments")
    added_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")
        ]
        # "Which lists is this customer on" (the unique constraint serves the other way).
        indexes = [models.Index(fields=["customer", "segment"], name="segment_member_cust_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentMembership(models.Model):
    """The last computed membership of a customer in a segment, kept to notice entering
    and leaving; queries at checkout use the live rules, not this snapshot."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="segment_memberships"
    )
    entered_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "customer"], name="segment_membership_unique"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "segment"], name="segment_membership_cust_idx"),
            models.Index(fields=["segment", "entered_at"], name="segment_membership_enter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id} since {self.entered_at:%Y-%m-%d}"


class SegmentSize(models.Model):
    """The segment's size at each refresh: its size over time on the dashboard."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="sizes")
    measured_at = models.DateTimeField(default=now)
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["-measured_at"]
        indexes = [models.Index(fields=["segment", "measured_at"], name="segment_size_idx")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.size} at {self.measured_at:%Y-%m-%d %H:%M}"
