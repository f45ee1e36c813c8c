"""Segment writes: definitions, static lists, membership snapshots and their events."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from customers.models import Customer
from segments import signals
from segments.errors import UnknownCustomers
from segments.models import Segment, SegmentMember, SegmentMembership, SegmentSize
from segments.rules import validate_rules
from segments.selectors import segment_members, segments_of_customer


@dataclass(frozen=True)
class MembershipChange:
    segment_id: int
    entered: list[int]
    left: list[int]
    size: int


@transaction.atomic
def create_segment(
    *, name: str, kind: str = Segment.Kind.DYNAMIC, rules: Any = None, description: str = ""
) -> Segment:
    """A new segment; its snapshot is filled by ``refresh_segment``. Raises InvalidRules."""
    rules = rules if rules is not None else {"all": []}
    if kind == Segment.Kind.DYNAMIC:
        validate_rules(rules)
    return Segment.objects.create(name=name, kind=kind, rules=rules, description=description)


@transaction.atomic
def update_segment(
    *,
    segment: Segment,
    name: str | None = None,
    rules: Any = None,
    description: str | None = None,
) -> Segment:
    """Change a segment's definition. Raises InvalidRules (including a cycle through
    ``segment.member``)."""
    if rules is not None and segment.kind == Segment.Kind.DYNAMIC:
        validate_rules(rules, segment_id=segment.pk)
        segment.rules = rules
    if name is not None:
        segment.name = name
    if description is not None:
        segment.description = description
    segment.save()
    return segment


def _customers_by_source_id(source_ids: Iterable[str]) -> list[int]:
    wanted = set(source_ids)
    found = dict(
        Customer.objects.filter(source_id__in=wanted, erased_at__isnull=True).values_list(
            "source_id", "pk"
        )
    )
    missing = sorted(wanted - set(found))
    if missing:
        raise UnknownCustomers(details={"unknown": missing[:100], "unknown_count": len(missing)})
    return list(found.values())


@transaction.atomic
def add_static_members(*, segment: Segment, source_ids: Iterable[str]) -> MembershipChange:
    """Put customers on a static list; all or none. Raises UnknownCustomers."""
    ids = _customers_by_source_id(source_ids)
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, customer_id=pk) for pk in ids], ignore_conflicts=True
    )
    return refresh_segment(segment_id=segment.pk)


@transaction.atomic
def remove_static_members(*, segment: Segment, source_ids: Iterable[str]) -> MembershipChange:
    """Take customers off a static list. Raises UnknownCustomers."""
    ids = _customers_by_source_id(source_ids)
    SegmentMember.objects.filter(segment=segment, customer_id__in=ids).delete()
    return refresh_segment(segment_id=segment.pk)


@transaction.atomic
def refresh_segment(*, segment_id: int, now: dt.datetime | None = None) -> MembershipChange:
    """Bring the segment's snapshot up to date with its live members, record its size, and
    announce who entered and left once this commits.

    Set-based: new members are inserted with one INSERT ... SELECT of the ORM's own query,
    leavers removed with one DELETE, so a segment of a million customers refreshes without
    loading it into Python. The segment row is locked so two refreshes do not interleave.
    """
    now = now or timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment_id)
    members = segment_members(segment, now=now)
    snapshot = SegmentMembership.objects.filter(segment=segment)

    leavers = snapshot.filter(~Exists(members.filter(pk=OuterRef("customer_id"))))
    left = list(leavers.values_list("customer_id", flat=True))
    if left:
        snapshot.filter(customer_id__in=left).delete()

    newcomers = members.filter(
        ~Exists(SegmentMembership.objects.filter(segment=segment, customer=OuterRef("pk")))
    ).values(newcomer_id=F("pk"))
    sql, params = newcomers.query.sql_with_params()
    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        # The SELECT is Django's compiled query; user input only ever travels as parameters.
        cursor.execute(
            f"INSERT INTO {table} (segment_id, customer_id, entered_at) "  # noqa: S608
            f"SELECT %s, newcomer.newcomer_id, %s FROM ({sql}) AS newcomer RETURNING customer_id",
            [segment.pk, now, *params],
        )
        entered = [row[0] for row in cursor.fetchall()]

    size = snapshot.count()
    SegmentSize.objects.create(segment=segment, size=size, measured_at=now)
    _announce(segment.pk, entered, left)
    return MembershipChange(segment.pk, entered, left, size)


@transaction.atomic
def refresh_customer_segments(
    *, customer_id: int, now: dt.datetime | None = None
) -> list[MembershipChange]:
    """Update one customer's snapshot rows after a change to them, their orders or events:
    one query evaluates every segment for them."""
    customer = Customer.objects.filter(pk=customer_id, erased_at__isnull=True).first()
    held = set(
        SegmentMembership.objects.filter(customer_id=customer_id).values_list(
            "segment_id", flat=True
        )
    )
    inside = (
        {s.pk for s in segments_of_customer(customer, now=now)} if customer is not None else set()
    )
    entered, left = inside - held, held - inside
    now = now or timezone.now()
    SegmentMembership.objects.bulk_create(
        [
            SegmentMembership(segment_id=pk, customer_id=customer_id, entered_at=now)
            for pk in entered
        ],
        ignore_conflicts=True,
    )
    SegmentMembership.objects.filter(customer_id=customer_id, segment_id__in=left).delete()
    changes = [MembershipChange(pk, [customer_id], [], -1) for pk in sorted(entered)]
    changes += [MembershipChange(pk, [], [customer_id], -1) for pk in sorted(left)]
    for change in changes:
        _announce(change.segment_id, change.entered, change.left)
    return changes


def _announce(segment_id: int, entered: list[int], left: list[int]) -> None:
    if entered:
        transaction.on_commit(
            lambda: signals.segment_entered.send(
                sender=Segment, segment_id=segment_id, customer_ids=entered
            )
        )
    if left:
        transaction.on_commit(
            lambda: signals.segment_left.send(
                sender=Segment, segment_id=segment_id, customer_ids=left
            )
        )
