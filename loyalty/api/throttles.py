"""Rate limits of the wallet endpoints: per API key, and per customer of the path.

The checkout's fixed-window counters in the cache (``promotions.api.throttles``), under scopes
of their own so that a shop reading wallets does not use up its checkout allowance. Their rates
are ``wallet_key`` and ``wallet_customer`` in ``DEFAULT_THROTTLE_RATES`` when set there, else
the checkout's (``checkout_key``, ``checkout_customer``).
"""

from promotions.api.throttles import ApiKeyThrottle, CustomerThrottle


class WalletKeyThrottle(ApiKeyThrottle):
    scope = "wallet_key"
    fallback_scope = ApiKeyThrottle.scope


class WalletCustomerThrottle(CustomerThrottle):
    """Keyed by the API key and the path's customer ``source_id``."""

    scope = "wallet_customer"
    fallback_scope = CustomerThrottle.scope

    def __init__(self):
        super().__init__()
        self.source_id: str | None = None

    def allow_request(self, request, view) -> bool:
        self.source_id = view.kwargs.get("source_id")
        return super().allow_request(request, view)

    def ident(self, request) -> str | None:
        if not self.source_id:
            return None
        return f"{ApiKeyThrottle.ident(self, request) or '-'}:{self.source_id[:200]}"


WALLET_THROTTLES = [WalletKeyThrottle, WalletCustomerThrottle]
