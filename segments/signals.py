"""Membership changes that triggers and loyalty react to.

Sent after the refresh that noticed them has committed, in batches: a first refresh of a
large segment enters many customers at once.
"""

from django.dispatch import Signal

segment_entered = Signal()  # segment_id, customer_ids
segment_left = Signal()  # segment_id, customer_ids
