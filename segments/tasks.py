"""Celery entry points; each loads by id and calls one service (safe to run twice)."""

from celery import shared_task

from segments import services
from segments.models import Segment


@shared_task(name="segments.refresh_segment")
def refresh_segment(segment_id: int) -> None:
    if Segment.objects.filter(pk=segment_id).exists():
        services.refresh_segment(segment_id=segment_id)


@shared_task(name="segments.refresh_all_segments")
def refresh_all_segments() -> None:
    """Periodic: time moves people in and out (birthdays, inactivity) without any change."""
    for segment_id in Segment.objects.values_list("pk", flat=True):
        refresh_segment.delay(segment_id)


@shared_task(name="segments.refresh_customer_segments")
def refresh_customer_segments(customer_id: int) -> None:
    services.refresh_customer_segments(customer_id=customer_id)
