"""Domain events other apps subscribe to (segments, promotions, loyalty, triggers).

Each is sent after the transaction that caused it has committed, with ids, not instances,
so receivers can hand them to Celery as they are.
"""

from django.dispatch import Signal

customer_updated = Signal()  # customer_id, created
order_status_changed = Signal()  # order_id, customer_id, old_status, new_status
event_recorded = Signal()  # event_id, customer_id, name
customer_erased = Signal()  # customer_id
