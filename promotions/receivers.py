"""Reactions of the promotions app to what happens to customers and orders."""

import logging

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from customers import signals as customer_signals
from customers.models import Order
from segments.models import Segment

from .models import Campaign, ScheduleWindow, ValidationRule
from .redemptions import rollback_order_redemptions
from .services import touch_campaign

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


@receiver(post_save, sender=ValidationRule)
@receiver(post_delete, sender=ValidationRule)
@receiver(post_save, sender=ScheduleWindow)
@receiver(post_delete, sender=ScheduleWindow)
def _settings_changed(sender, instance, **kwargs) -> None:
    # The checkout keeps a campaign's rules and schedule per process until its updated_at
    # moves (promotions.selectors.cached_campaign_settings).
    touch_campaign(instance.campaign_id)


@receiver(m2m_changed, sender=Campaign.segments.through)
def _segments_changed(sender, instance, action, pk_set, **kwargs) -> None:
    if isinstance(instance, Campaign):
        if action.startswith("post_"):
            touch_campaign(instance.pk)
        return
    # Changed from the segment's side: the campaigns named, or (clear) all of the segment's.
    if action == "pre_clear":
        instance._cleared_campaigns = list(instance.campaigns.values_list("pk", flat=True))
    elif action.startswith("post_"):
        ids = pk_set if pk_set is not None else getattr(instance, "_cleared_campaigns", [])
        for campaign_id in ids:
            touch_campaign(campaign_id)


@receiver(pre_delete, sender=Segment)
def _segment_deleting(sender, instance, **kwargs) -> None:
    instance._deleted_from = list(instance.campaigns.values_list("pk", flat=True))


@receiver(post_delete, sender=Segment)
def _segment_deleted(sender, instance, **kwargs) -> None:
    for campaign_id in getattr(instance, "_deleted_from", []):
        touch_campaign(campaign_id)
