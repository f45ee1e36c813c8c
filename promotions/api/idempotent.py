"""Idempotency-Key handling shared by the API's writing endpoints."""

from collections.abc import Callable

from promotions.idempotency import run_once


def answer_once(request, *, endpoint: str, produce: Callable[[], tuple[int, dict]]):
    """``produce()``'s (status, body), or the first answer to the request's Idempotency-Key
    (keys are per API key). Raises IdempotencyConflict, InvalidIdempotencyKey."""
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        return produce()
    api_key = getattr(request.user, "api_key", None)
    status, body, _replayed = run_once(
        client=api_key.prefix if api_key else "",
        key=key,
        endpoint=endpoint,
        body=request.data,
        produce=produce,
    )
    return status, body
