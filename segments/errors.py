from typing import Any

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError, NotFound


class InvalidRules(DomainError):
    """A rule tree the compiler refuses; the message starts with the path of the bad node."""

    code = "invalid_rules"
    http_status = 400
    default_message = _("The segment rules are not valid.")

    def __init__(self, reason: str, *, path: str = "", details: dict[str, Any] | None = None):
        self.path = path
        self.reason = reason
        super().__init__(
            f"{path or 'root'}: {reason}", details={"path": path or "root", **(details or {})}
        )


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    default_message = _("No segment with this id.")


class SegmentNotStatic(DomainError):
    code = "segment_not_static"
    http_status = 409
    default_message = _("Only a static segment has a list of members; this one uses rules.")


class UnknownCustomers(DomainError):
    code = "customer_not_found"
    default_message = _("Some customers do not exist; nothing was changed.")
