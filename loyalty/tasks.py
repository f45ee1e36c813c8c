"""Celery tasks of the loyalty app: thin, idempotent wrappers around the services."""

from celery import shared_task
from django.db import transaction

from customers.models import Order
from loyalty.services import earning, ledger, referrals, sweepstakes, tiers


@shared_task(name="loyalty.earn_for_order")
def earn_for_order(order_id: int) -> int:
    return earning.earn_for_order(order_id=order_id)


@shared_task(name="loyalty.reverse_order")
def reverse_order(order_id: int) -> int:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return 0
    with transaction.atomic():
        referrals.cancel_order_referrals(order=order)
        return ledger.reverse_order_points(order=order)


@shared_task(name="loyalty.earn_for_event")
def earn_for_event(event_id: int) -> int:
    return earning.earn_for_event(event_id=event_id)


@shared_task(name="loyalty.earn_for_segment")
def earn_for_segment(segment_id: int, customer_ids: list[int]) -> int:
    return earning.earn_for_segment_entered(segment_id=segment_id, customer_ids=customer_ids)


@shared_task(name="loyalty.activate_pending_points")
def activate_pending_points() -> dict:
    """Pending points whose period is over become active; due referrals are rewarded."""
    return {
        "activated": ledger.activate_due_points(),
        "referrals": referrals.complete_due_referrals(),
    }


@shared_task(name="loyalty.expire_points")
def expire_points() -> int:
    return ledger.expire_due_points()


@shared_task(name="loyalty.review_tiers")
def review_tiers() -> dict:
    return tiers.review_tiers()


@shared_task(name="loyalty.draw_sweepstakes")
def draw_sweepstakes() -> list[int]:
    return sweepstakes.draw_due_sweepstakes()
