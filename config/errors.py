"""The base of every business refusal. Services raise these; the API maps them once."""

from typing import Any


class DomainError(Exception):
    """A refusal with a stable machine-readable ``code`` and an HTTP status for the API."""

    code = "domain_error"
    http_status = 422
    default_message = "The request cannot be processed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = str(message or self.default_message)
        self.details = details or {}
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."
