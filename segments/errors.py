from typing import Any

from django.utils.translation import gettext_lazy as _

from config.errors import DomainError


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
