"""Code guessing: repeated unknown codes from one customer or client address block further
attempts for a while and raise an alert for the dashboard.

Counters live in the cache (Redis in production, shared by every web process), in a fixed
window per subject: OFFERWISE_GUESS_LIMIT unknown codes within OFFERWISE_GUESS_WINDOW seconds
block the subject for OFFERWISE_GUESS_BLOCK seconds.
"""

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError

from .models import SecurityAlert


class TooManyFailedAttempts(DomainError):
    code = "too_many_failed_attempts"
    http_status = 429
    default_message = _("Too many unknown codes; try again later.")


def subjects(customer_source_id: str | None, address: str | None) -> list[str]:
    found = []
    if customer_source_id:
        found.append(f"customer:{customer_source_id}")
    if address:
        found.append(f"address:{address}")
    return found


def block_key(subject: str) -> str:
    return f"offerwise:guess-block:{subject}"


def check_not_blocked(names: list[str]) -> None:
    """Raises TooManyFailedAttempts when one of the subjects is blocked."""
    if not names:
        return
    blocked = cache.get_many([block_key(s) for s in names])
    if blocked:
        raise TooManyFailedAttempts(details={"retry_after_seconds": settings.OFFERWISE_GUESS_BLOCK})


def note_unknown_codes(names: list[str], count: int) -> None:
    """Count unknown codes against each subject; block and alert at the limit."""
    if count <= 0:
        return
    for subject in names:
        key = f"offerwise:guess-count:{subject}"
        cache.add(key, 0, timeout=settings.OFFERWISE_GUESS_WINDOW)
        try:
            seen = cache.incr(key, count)
        except ValueError:  # expired between add and incr
            cache.set(key, count, timeout=settings.OFFERWISE_GUESS_WINDOW)
            seen = count
        if seen >= settings.OFFERWISE_GUESS_LIMIT and cache.add(
            block_key(subject), 1, timeout=settings.OFFERWISE_GUESS_BLOCK
        ):
            SecurityAlert.objects.create(
                kind=SecurityAlert.Kind.CODE_GUESSING,
                subject=subject,
                details={
                    "unknown_codes": seen,
                    "window_seconds": settings.OFFERWISE_GUESS_WINDOW,
                    "blocked_seconds": settings.OFFERWISE_GUESS_BLOCK,
                },
            )
