"""Rate limits of the checkout endpoints: per API key and per customer.

A fixed-window counter in the cache (``add`` then ``incr``: atomic on Redis, shared by every
web process), rather than DRF's default list of request times, which is read and rewritten
whole on every request and loses counts when workers write it at the same time.
"""

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class _WindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self):
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = SimpleRateThrottle.parse_rate(None, rate)
        self.wait_seconds = 0.0

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if self.num_requests is None:
            return True
        ident = self.ident(request)
        if ident is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        key = f"offerwise:throttle:{self.scope}:{ident}:{window}"
        seen = count(key, self.duration + 1)
        if seen <= self.num_requests:
            return True
        self.wait_seconds = (window + 1) * self.duration - now
        return False

    def wait(self) -> float:
        return self.wait_seconds


def count(key: str, timeout: int) -> int:
    """Add one to a counter that lives ``timeout`` seconds, and return it. On Redis one
    ``INCR`` (and an ``EXPIRE`` on the first count): one round trip, atomic across processes."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full, write=True)
        seen = client.incr(full)
        if seen == 1:
            client.expire(full, timeout)
        return seen
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
        data = request.data if isinstance(request.data, dict) else {}
        customer = data.get("customer")
        source_id = customer.get("source_id") if isinstance(customer, dict) else None
        if not isinstance(source_id, str) or not source_id:
            return None
        return f"{_key_prefix(request) or '-'}:{source_id[:200]}"
