"""Reactions of the promotions app to what happens to customers and orders."""

import logging

from django.dispatch import receiver

from customers import signals as customer_signals
from customers.models import Order

from .redemptions import rollback_order_redemptions

logger = logging.getLogger(__name__)


@receiver(customer_signals.order_status_changed)
def _order_cancelled(sender, order_id: int, new_status: str, **kwargs) -> None:
    # Sent after the order's commit: the rollback is its own transaction, right away, so the
    # shop that cancels an order sees its redemptions undone when the call returns.
    if new_status not in (Order.Status.CANCELLED, Order.Status.REFUNDED):
        return
    source_id = Order.objects.filter(pk=order_id).values_list("source_id", flat=True).first()
    if source_id:
        rolled_back = rollback_order_redemptions(
            order_source_id=source_id, reason=f"order {new_status}"
        )
        if rolled_back:
            logger.info(
                "order %s %s: rolled back redemptions %s", source_id, new_status, rolled_back
            )
