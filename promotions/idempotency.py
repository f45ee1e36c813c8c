"""Idempotent requests: the first answer to a key is kept and replayed to every retry.

The key row is inserted first, in the same transaction as the work it guards. A second
request with the same key waits on the key's unique index until the first commits (on
PostgreSQL; SQLite runs one writer at a time anyway), then finds the stored answer and replays
it, so two racing retries redeem once. If the work fails with an error, the key goes with the
rolled-back transaction and a retry runs again.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

from .models import IdempotencyKey

MAX_KEY_LENGTH = 255


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    http_status = 409
    default_message = _("This Idempotency-Key was used with another request.")


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    http_status = 400
    default_message = _("An Idempotency-Key is 1 to 255 printable characters.")


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


@transaction.atomic
def run_once(
    *,
    client: str,
    key: str,
    endpoint: str,
    body: Any,
    produce: Callable[[], tuple[int, dict]],
) -> tuple[int, dict, bool]:
    """``produce()``'s (status, body) the first time; the stored answer, with ``True`` for
    replayed, afterwards. Raises IdempotencyConflict when the key came with another request."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey()
    request_hash = fingerprint(endpoint, body)
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                client=client,
                key=key,
                endpoint=endpoint,
                request_hash=request_hash,
                status_code=0,
                response={},
            )
    except IntegrityError:
        stored = IdempotencyKey.objects.get(client=client, key=key)
        if stored.request_hash != request_hash:
            raise IdempotencyConflict(details={"endpoint": stored.endpoint}) from None
        return stored.status_code, stored.response, True
    status, answer = produce()
    IdempotencyKey.objects.filter(client=client, key=key).update(
        status_code=status, response=answer
    )
    return status, answer, False


def purge_idempotency_keys(*, now: dt.datetime | None = None) -> int:
    """Forget keys older than OFFERWISE_IDEMPOTENCY_HOURS (at least 24). Returns how many."""
    now = now or timezone.now()
    hours = max(settings.OFFERWISE_IDEMPOTENCY_HOURS, 24)
    deleted, _by_model = IdempotencyKey.objects.filter(
        created_at__lt=now - dt.timedelta(hours=hours)
    ).delete()
    return deleted
