"""Rate limits of the checkout endpoints: per API key and per customer."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyThrottle(SimpleRateThrottle):
    scope = "checkout_key"

    def get_cache_key(self, request, view):
        api_key = getattr(request.user, "api_key", None)
        if api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.prefix}


class CustomerThrottle(SimpleRateThrottle):
    """Keyed by the body's customer ``source_id``; guest carts are not limited here."""

    scope = "checkout_customer"

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}
        customer = data.get("customer")
        source_id = customer.get("source_id") if isinstance(customer, dict) else None
        if not isinstance(source_id, str) or not source_id:
            return None
        api_key = getattr(request.user, "api_key", None)
        prefix = api_key.prefix if api_key else "-"
        return self.cache_format % {"scope": self.scope, "ident": f"{prefix}:{source_id[:255]}"}
