"""API plumbing shared by every app: the one error format and pagination."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.errors import DomainError

logger = logging.getLogger("offerwise.api")

# DRF's exception classes mapped to our stable codes; anything not listed keeps DRF's own code.
_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_api_key",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_validation_message(detail: Any, path: str = "") -> str:
    """The first leaf error with its field path, e.g. ``items.0.quantity: Must be >= 1``."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            if key == "non_field_errors":
                sub = path
            return _first_validation_message(value, sub)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return _first_validation_message(value, f"{path}.{index}" if path else str(index))
            return f"{path}: {value}" if path else str(value)
    return f"{path}: {detail}" if path else str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Render every API failure as ``{"error": {"code", "message", "details"}}``."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            headers["WWW-Authenticate"] = "Api-Key"
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        if isinstance(exc, exceptions.ValidationError):
            details = exc.get_full_details()
            if not isinstance(details, dict):
                details = {"non_field_errors": details}
            message = _first_validation_message(exc.detail)
        else:
            details = {}
            message = str(exc.detail)
        code = code or (exc.get_codes() if isinstance(exc.get_codes(), str) else "error")
        return Response(error_body(code, message, details), status=exc.status_code, headers=headers)

    set_rollback()
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            error_body("service_unavailable", "The database is unavailable; retry shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error in %s", context.get("view"))
    else:
        logger.exception("unhandled error in %s", context.get("view"))
    return Response(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def api_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def api_server_error(request) -> JsonResponse:
    return JsonResponse(
        error_body("internal_error", "An unexpected error occurred; it has been logged."),
        status=500,
    )
