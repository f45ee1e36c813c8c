"""``Authorization: Api-Key <key>`` for checkout and CRM systems.

A verified key is kept for a few seconds per process (``OFFERWISE_API_KEY_CACHE_SECONDS``,
5 by default), so the checkout does not read and hash it on every request: a key revoked or
expired elsewhere is refused by every process within that time (at once by the process that
changed it).
"""

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from customers.models import ApiKey

KEYWORD = "Api-Key"


@dataclass(frozen=True)
class ApiClient:
    """The caller behind a key; stands in for ``request.user`` on API requests."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def pk(self) -> str:
        return self.api_key.pk

    @property
    def is_test(self) -> bool:
        return self.api_key.mode == ApiKey.Mode.TEST


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        keyword, _sep, key = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed(_("The API key is empty."))
        try:
            api_key = _verified(key)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                _("The API key is not valid or has been revoked.")
            ) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("The API key has expired."))
        return ApiClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


_known: dict[str, tuple[ApiKey, float]] = {}
_known_lock = threading.Lock()


def _verified(key: str) -> ApiKey:
    """The key's row, verified at most ``OFFERWISE_API_KEY_CACHE_SECONDS`` ago.
    Raises ApiKey.DoesNotExist."""
    seconds = getattr(settings, "OFFERWISE_API_KEY_CACHE_SECONDS", 5)
    # Only a digest of the key is kept in memory.
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    found = _known.get(digest)
    if found is not None and found[1] > now:
        return found[0]
    api_key = ApiKey.objects.get_from_key(key)
    if seconds > 0:
        with _known_lock:
            if len(_known) > 1000:
                _known.clear()
            _known[digest] = (api_key, now + seconds)
    return api_key


def forget_verified_keys() -> None:
    """Verify every key again on its next use (after a key changed in this process)."""
    _known.clear()


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _key_changed(sender, **kwargs) -> None:
    forget_verified_keys()


class HasApiKey(BasePermission):
    message = _("Send an API key: 'Authorization: Api-Key <key>'.")

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "customers.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create one with `manage.py create_api_key NAME`.",
        }
