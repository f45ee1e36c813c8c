"""Who is in a segment, asked of the live data: current on every request."""

import datetime as dt

from django.db.models import BooleanField, Case, OuterRef, QuerySet, Subquery, Value, When

from customers.models import Customer
from customers.selectors import live_customers
from segments.errors import SegmentNotFound
from segments.models import Segment, SegmentSize
from segments.rules import compile_rules


def segment_members(segment: Segment, *, now: dt.datetime | None = None) -> QuerySet[Customer]:
    """Live customers in the segment: its list (static) or its rules (dynamic).

    Raises InvalidRules when stored rules no longer compile.
    """
    if segment.kind == Segment.Kind.STATIC:
        return live_customers().filter(static_segments__segment=segment)
    return live_customers().filter(compile_rules(segment.rules, now=now))


def segments_of_customer(
    customer: Customer, *, segments: list[Segment] | None = None, now: dt.datetime | None = None
) -> list[Segment]:
    """The segments the customer is in now, in one query whatever the number of segments."""
    segments = list(Segment.objects.all()) if segments is None else segments
    if not segments:
        return []
    flags = {}
    for segment in segments:
        if segment.kind == Segment.Kind.STATIC:
            condition = {"static_segments__segment": segment}
            flags[f"in_{segment.pk}"] = Case(
                When(pk__in=Customer.objects.filter(**condition).values("pk"), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        else:
            flags[f"in_{segment.pk}"] = Case(
                When(compile_rules(segment.rules, now=now), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
    values = Customer.objects.filter(pk=customer.pk).annotate(**flags).values(*flags).first()
    values = values or {}
    return [s for s in segments if values.get(f"in_{s.pk}")]


def segment_by_id(segment_id: int) -> Segment:
    try:
        return segments_with_last_size().get(pk=segment_id)
    except Segment.DoesNotExist:
        raise SegmentNotFound(details={"id": segment_id}) from None


def segments_with_last_size() -> QuerySet[Segment]:
    """Segments with the size recorded by their last refresh (one query for a page)."""
    last = SegmentSize.objects.filter(segment=OuterRef("pk")).order_by("-measured_at", "-pk")
    return Segment.objects.annotate(
        size=Subquery(last.values("size")[:1]),
        size_measured_at=Subquery(last.values("measured_at")[:1]),
    )


def segment_sizes(segment: Segment, *, since: dt.datetime) -> QuerySet[SegmentSize]:
    return SegmentSize.objects.filter(segment=segment, measured_at__gte=since).order_by(
        "measured_at"
    )
