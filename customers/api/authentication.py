"""``Authorization: Api-Key <key>`` for checkout and CRM systems."""

from dataclasses import dataclass

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
            api_key = ApiKey.objects.get_from_key(key)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(
                _("The API key is not valid or has been revoked.")
            ) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("The API key has expired."))
        return ApiClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


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
