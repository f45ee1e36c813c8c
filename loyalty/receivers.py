"""Reactions of the loyalty app to orders, events, segments and erasures.

The domain signals arrive after their transaction has committed; each hands the work to a
Celery task by id (the task re-reads everything, so a late run is still right).
"""

from django.dispatch import receiver

from customers import signals as customer_signals
from customers.models import Order
from loyalty import tasks
from segments import signals as segment_signals


@receiver(customer_signals.order_status_changed)
def _order_status_changed(sender, order_id: int, new_status: str, **kwargs) -> None:
    if new_status == Order.Status.PAID:
        tasks.earn_for_order.delay(order_id)
    elif new_status in (Order.Status.REFUNDED, Order.Status.CANCELLED):
        tasks.reverse_order.delay(order_id)


@receiver(customer_signals.event_recorded)
def _event_recorded(sender, event_id: int, **kwargs) -> None:
    tasks.earn_for_event.delay(event_id)


@receiver(segment_signals.segment_entered)
def _segment_entered(sender, segment_id: int, customer_ids: list[int], **kwargs) -> None:
    tasks.earn_for_segment.delay(segment_id, list(customer_ids))


@receiver(customer_signals.customer_erased)
def _customer_erased(sender, customer_id: int, **kwargs) -> None:
    # Inside the erasure's transaction: shipping addresses of physical rewards are personal.
    from loyalty.models import Fulfilment

    Fulfilment.objects.filter(redemption__member__customer_id=customer_id).update(address="")
