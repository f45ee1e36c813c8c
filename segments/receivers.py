"""Keep membership snapshots current when a customer, their orders or events change."""

from django.dispatch import receiver

from customers import signals as customer_signals
from segments.models import SegmentMember, SegmentMembership
from segments.tasks import refresh_customer_segments


@receiver(customer_signals.customer_updated)
@receiver(customer_signals.order_status_changed)
@receiver(customer_signals.event_recorded)
def _customer_changed(sender, customer_id: int, **kwargs) -> None:
    # Sent after commit; the worker re-reads the customer, so a late run is still right.
    refresh_customer_segments.delay(customer_id)


@receiver(customer_signals.customer_erased)
def _customer_erased(sender, customer_id: int, **kwargs) -> None:
    # Inside the erasure's transaction: which lists someone was on is personal data too.
    SegmentMember.objects.filter(customer_id=customer_id).delete()
    SegmentMembership.objects.filter(customer_id=customer_id).delete()
