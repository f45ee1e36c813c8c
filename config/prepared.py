"""Prepared statements for the checkout's hot reads on PostgreSQL.

Django sends every query as text with its values inlined (client-side binding), so PostgreSQL
parses and plans each one again: about 1.2 ms of its CPU per validation. ``fetch_prepared``
sends statements with server-side parameters, prepared once per connection (psycopg keeps
them, ``prepare=True``), all in one pipeline: one round trip, no planning after the first.

It applies only where that is safe: on PostgreSQL, outside a transaction (an error inside one
would abort it), and for SQL that PostgreSQL accepts with typed parameters; a statement it
refuses once (say, a parameter whose type it cannot infer) goes the usual way from then on.
``fetch_all`` is what callers use: prepared where it can, else Django's cursor.
"""

import time
from typing import Any

from django.conf import settings
from django.db import connection

try:
    import psycopg
except ImportError:  # SQLite-only installs
    psycopg = None

_refused: set[str] = set()


def fetch_prepared(statements: list[tuple[str, list[Any]]]) -> list[list[tuple]] | None:
    """The rows of each statement, or None when they must go through Django's cursor."""
    if (
        psycopg is None
        or not settings.OFFERWISE_PREPARED_STATEMENTS
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
        or any(sql in _refused for sql, _params in statements)
    ):
        return None
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off (its cursors bind client-side and
        # never prepare); a threshold no statement reaches lets prepare=True below work while
        # nothing is prepared on its own.
        raw.prepare_threshold = 2**31 - 1
    started = time.monotonic()
    try:
        with connection.wrap_database_errors:
            with raw.pipeline():
                cursors = []
                for sql, params in statements:
                    cursor = psycopg.Cursor(raw)
                    cursor.execute(sql, params, prepare=True)
                    cursors.append(cursor)
            results = [cursor.fetchall() for cursor in cursors]
    except Exception as error:
        # Django's wrapper re-raises its own classes: look at the driver's error underneath.
        if isinstance(error.__cause__, psycopg.ProgrammingError | psycopg.DataError):
            _refused.update(sql for sql, _params in statements)
            return None
        raise
    if connection.queries_logged:
        # One round trip, one entry, with the values inlined as the debug cursor logs them.
        inline = psycopg.ClientCursor(raw)
        connection.queries_log.append(
            {
                "sql": "; ".join(inline.mogrify(sql, params) for sql, params in statements),
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return results


def fetch_all(statements: list[tuple[str, list[Any]]]) -> list[list[tuple]]:
    """The rows of each statement. On PostgreSQL all of them go in one round trip: prepared
    statements in a pipeline, else one simple-protocol query of several statements; elsewhere
    one by one."""
    prepared = fetch_prepared(statements)
    if prepared is not None:
        return prepared
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) < 2:
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
            return results
        cursor.execute(
            "; ".join(sql for sql, _params in statements),
            [p for _sql, ps in statements for p in ps],
        )
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
        return results
