"""Sweepstakes draws: fair, reproducible, and recorded.

Every entry is a ticket. The draw shuffles the entry ids (ascending) with Python's
``random.Random(seed)`` (Mersenne Twister, seeded with a fresh 128-bit secret recorded on the
draw) and walks the shuffled list: each entry whose member has not won yet wins, until the
prize count is reached. So each entry has the same chance, a member with more entries has
more chances, and nobody wins twice. ``verify_draw`` re-runs it from the record.
"""

import datetime as dt
import hashlib
import json
import random
import secrets

from django.db import transaction
from django.utils import timezone

from loyalty.errors import SweepstakeNotDrawable
from loyalty.models import Sweepstake, SweepstakeDraw, SweepstakeEntry

ALGORITHM = (
    "random.Random(seed).shuffle(entry ids ascending); first entries of distinct members win"
)


def _digest(entry_ids: list[int]) -> str:
    return hashlib.sha256(json.dumps(entry_ids).encode()).hexdigest()


def pick_winners(
    entries: list[tuple[int, int]], *, seed: str, winners: int
) -> tuple[list[int], list[int]]:
    """(entry ids in draw order, winning entry ids) for (entry id, member id) pairs."""
    members = dict(entries)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    won, seen = [], set()
    for entry_id in order:
        if len(won) == winners:
            break
        if members[entry_id] in seen:
            continue
        seen.add(members[entry_id])
        won.append(entry_id)
    return order, won


@transaction.atomic
def draw_sweepstake(
    *,
    sweepstake: Sweepstake,
    by: str = "task",
    seed: str | None = None,
    now: dt.datetime | None = None,
) -> SweepstakeDraw:
    """Draw the winners of a sweepstake whose draw time has come. Raises
    SweepstakeNotDrawable (already drawn, or too early)."""
    now = now or timezone.now()
    sweepstake = Sweepstake.objects.select_for_update().get(pk=sweepstake.pk)
    if sweepstake.status != Sweepstake.Status.OPEN or sweepstake.draw_at > now:
        raise SweepstakeNotDrawable(
            details={"status": sweepstake.status, "draw_at": sweepstake.draw_at.isoformat()}
        )
    entries = list(sweepstake.entries.order_by("pk").values_list("pk", "member_id"))
    seed = seed or secrets.token_hex(16)
    _order, won = pick_winners(entries, seed=seed, winners=sweepstake.winners_count)
    SweepstakeEntry.objects.filter(pk__in=won).update(won=True)
    sweepstake.status = Sweepstake.Status.DRAWN
    sweepstake.save(update_fields=["status"])
    ids = sorted(pk for pk, _member in entries)
    return SweepstakeDraw.objects.create(
        sweepstake=sweepstake,
        seed=seed,
        algorithm=ALGORITHM,
        entry_ids=ids,
        entries_digest=_digest(ids),
        winner_entry_ids=won,
        drawn_at=now,
        drawn_by=by[:150],
    )


def verify_draw(draw: SweepstakeDraw) -> bool:
    """True when the recorded entries and seed give the recorded winners."""
    entries = list(
        SweepstakeEntry.objects.filter(pk__in=draw.entry_ids).values_list("pk", "member_id")
    )
    if sorted(pk for pk, _ in entries) != draw.entry_ids or _digest(draw.entry_ids) != (
        draw.entries_digest
    ):
        return False
    _order, won = pick_winners(entries, seed=draw.seed, winners=draw.sweepstake.winners_count)
    return won == draw.winner_entry_ids


def draw_due_sweepstakes(*, now: dt.datetime | None = None) -> list[int]:
    """Draw every open sweepstake whose time has come. Returns their ids."""
    now = now or timezone.now()
    drawn = []
    for sweepstake in Sweepstake.objects.filter(status=Sweepstake.Status.OPEN, draw_at__lte=now):
        draw_sweepstake(sweepstake=sweepstake, now=now)
        drawn.append(sweepstake.pk)
    return drawn
