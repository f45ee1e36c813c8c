"""Rate limits of the checkout endpoints: per API key and per customer.

A fixed-window counter in the cache (``INCR`` on Redis: atomic, shared by every web process),
rather than DRF's default list of request times, which is read and rewritten whole on every
request and loses counts when workers write it at the same time.

``CheckoutThrottle`` does both limits and the code-guessing block check
(``promotions.abuse``) in one round trip to Redis: it is on every validation and redemption.
"""

import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from promotions import abuse


class _WindowThrottle(BaseThrottle):
    scope = ""
    # The scope whose rate applies when ``scope`` has none in DEFAULT_THROTTLE_RATES.
    fallback_scope = ""

    def __init__(self):
        rates = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(self.scope, rates.get(self.fallback_scope))
        self.num_requests, self.duration = SimpleRateThrottle.parse_rate(None, rate)
        self.wait_seconds = 0.0

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def window(self, ident: str, now: float) -> tuple[int, str]:
        """The current window's number and its counter's key."""
        window = int(now // self.duration)
        return window, f"offerwise:throttle:{self.scope}:{ident}:{window}"

    def refuse_until_next(self, window: int, now: float) -> None:
        self.wait_seconds = max(self.wait_seconds, (window + 1) * self.duration - now)

    def allow_request(self, request, view) -> bool:
        if self.num_requests is None:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        now = time.time()
        window, key = self.window(ident, now)
        if count(key, self.duration + 1) <= self.num_requests:
            return True
        self.refuse_until_next(window, now)
        return False

    def wait(self) -> float:
        return self.wait_seconds


def count_and_check(counters: list[tuple[str, int]], flags: list[str]) -> tuple[list[int], bool]:
    """Add one to each ``(key, timeout)`` counter, and say whether any of the ``flags`` keys
    is set: one pipelined round trip on Redis (a second only to start a counter's window)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        seen = [_count_locally(key, timeout) for key, timeout in counters]
        return seen, bool(flags and cache.get_many(flags))
    full = [backend.make_and_validate_key(key) for key, _timeout in counters]
    full_flags = [backend.make_and_validate_key(key) for key in flags]
    client = backend._cache.get_client(None, write=True)
    pipe = client.pipeline(transaction=False)
    for key in full:
        pipe.incr(key)
    if full_flags:
        pipe.exists(*full_flags)
    answers = pipe.execute()
    seen = answers[: len(full)]
    starting = [(k, t) for k, (_, t), n in zip(full, counters, seen, strict=True) if n == 1]
    if starting:
        pipe = client.pipeline(transaction=False)
        for key, timeout in starting:
            pipe.expire(key, timeout)
        pipe.execute()
    return seen, bool(full_flags and answers[-1])


def count(key: str, timeout: int) -> int:
    """Add one to a counter that lives ``timeout`` seconds, and return it: one round trip on
    Redis, atomic across processes."""
    (seen,), _flagged = count_and_check([(key, timeout)], [])
    return seen


def _count_locally(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _key_prefix(request) -> str | None:
    api_key = getattr(request.user, "api_key", None)
    return api_key.prefix if api_key is not None else None


class ApiKeyThrottle(_WindowThrottle):
    scope = "checkout_key"

    def ident(self, request) -> str | None:
        return _key_prefix(request)


class CustomerThrottle(_WindowThrottle):
    """Keyed by the body's customer ``source_id``; guest carts are not limited here."""

    scope = "checkout_customer"

    def ident(self, request) -> str | None:
        source_id = customer_source_id(request)
        if source_id is None:
            return None
        return f"{_key_prefix(request) or '-'}:{source_id[:200]}"


def customer_source_id(request) -> str | None:
    """The body's customer ``source_id``, if it has one."""
    data = request.data if isinstance(request.data, dict) else {}
    customer = data.get("customer")
    source_id = customer.get("source_id") if isinstance(customer, dict) else None
    if not isinstance(source_id, str) or not source_id.strip():
        return None
    # As the serializer will read it, so that padding cannot dodge a block.
    return source_id.strip()


class CheckoutThrottle(BaseThrottle):
    """The per-key and per-customer limits, and the code-guessing block of the customer and
    the client address, in one round trip. Raises TooManyFailedAttempts for a blocked one."""

    def __init__(self):
        self.limits = [ApiKeyThrottle(), CustomerThrottle()]
        self.wait_seconds = 0.0

    def allow_request(self, request, view) -> bool:
        now = time.time()
        counted = []
        for limit in self.limits:
            ident = limit.ident(request) if limit.num_requests is not None else None
            if ident is not None:
                counted.append((limit, *limit.window(ident, now)))
        subjects = abuse.subjects(customer_source_id(request), request.META.get("REMOTE_ADDR"))
        flags = [abuse.block_key(s) for s in subjects]
        seen, blocked = count_and_check([(k, lim.duration + 1) for lim, _w, k in counted], flags)
        if blocked:
            raise abuse.TooManyFailedAttempts(
                details={"retry_after_seconds": settings.OFFERWISE_GUESS_BLOCK}
            )
        for (limit, window, _key), n in zip(counted, seen, strict=True):
            if n > limit.num_requests:
                limit.refuse_until_next(window, now)
        self.wait_seconds = max((limit.wait_seconds for limit in self.limits), default=0.0)
        return self.wait_seconds == 0

    def wait(self) -> float:
        return self.wait_seconds
