"""The rule compiler: a JSON rule tree in, one ``Q`` on ``Customer`` out.

A tree is a group ``{"all": [...]}``, ``{"any": [...]}`` or ``{"not": node}``, or a condition
``{"field": ..., "op": ..., "value": ...}`` whose field comes from ``segments.fields``.
``{"all": []}`` matches everyone and ``{"any": []}`` no one. Every entry point checks the
whole tree first and raises ``InvalidRules`` with the path of the bad node
(``all[2].any[0]: unknown field 'orders.cnt'``). The same compiled filter answers both
"who is in" (a queryset) and "is this customer in" (that queryset restricted to one row).
"""

import datetime as dt
import json
from functools import lru_cache
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.prepared import fetch_all
from customers.models import Customer
from segments.errors import InvalidRules
from segments.fields import (
    MATCH_ALL,
    MATCH_NONE,
    MISSING,
    NO_VALUE_OPS,
    Context,
    ValueRejected,
    get_field,
    known_operators,
    show,
)

MAX_DEPTH = 10
MAX_CONDITIONS = 200
# Conditions across a tree and the segments it refers to, expanded.
MAX_EXPANDED_CONDITIONS = 1000
GROUP_KEYS = ("all", "any", "not")
CONDITION_KEYS = ("field", "op", "value")


def compile_rules(tree: Any, *, now: dt.datetime | None = None) -> Q:
    """The filter on Customer selecting the customers the tree describes at ``now``.

    Raises InvalidRules when the tree is malformed or too large, or names an unknown field,
    operator or a value of the wrong type.
    """
    if now is not None:
        return compile_tree(tree, Context(now=now))
    try:
        key = json.dumps(tree, sort_keys=True)
    except (TypeError, ValueError):
        return compile_tree(tree, Context(now=timezone.now()))
    # Live questions asked within the same second share one compiled filter: compiling is
    # about half of a membership check, and no rule is finer than a second. The data itself
    # is always read when the query runs.
    return _compile_live(key, timezone.now().replace(microsecond=0))


@lru_cache(maxsize=512)
def _compile_live(tree_json: str, now: dt.datetime) -> Q:
    return compile_tree(json.loads(tree_json), Context(now=now))


LIVE_CACHE_SIZE = 2048
# The SQL of clock-dependent checks, for the current second (see _check_sqls).
_live_cache: dict = {}


def clear_live_cache() -> None:
    """Forget the SQL kept by live questions (tests)."""
    _live_cache.clear()
    _stable_sql.clear()


# A customer id no real row has, compiled into each check's SQL and swapped for the real id.
_SENTINEL = -7_310_000_000_000_000_001


def check_customer(
    trees: list[Any], customer_id: int, *, now: dt.datetime | None = None
) -> list[bool]:
    """Whether one customer matches each tree, in one ``SELECT EXISTS(...), EXISTS(...)``.

    Live questions (no ``now``) reuse each tree's SQL within the same second, so a busy
    checkout compiles a campaign's rules about once a second per process, not per request.
    Raises InvalidRules like ``compile_rules``.
    """
    if not trees:
        return []
    parts = _check_sqls(trees, now)
    sql = "SELECT " + ", ".join(f"EXISTS({s})" if s else "1=0" for s, _ in parts)
    params: list = []
    for _sql, (before, after) in parts:
        if _sql:
            params += [*before, customer_id, *after]
    ((row,),) = fetch_all([(sql, params)])
    return [bool(v) for v in row]


_SqlPart = tuple[str, tuple[tuple, tuple]]


def _check_sqls(trees: list[Any], now: dt.datetime | None) -> list[_SqlPart]:
    """Each tree's SQL. Live questions keep it: for the current second when compiling read the
    clock or the tree names segments (whose rules may change), else for the process's life
    (the SQL of "country is IE" is the same every second; the data is read when it runs)."""
    if now is not None:
        return [_check_sql(q) for q in _compile_many(trees, now)]
    try:
        keys = ["sql:" + json.dumps(tree, sort_keys=True) for tree in trees]
    except (TypeError, ValueError):
        return [_check_sql(q) for q in _compile_many(trees, timezone.now())]
    second = timezone.now().replace(microsecond=0)
    if _live_cache.get("second") != second:
        _live_cache.clear()
        _live_cache["second"] = second
    found = {}
    for i, key in enumerate(keys):
        part = _stable_sql.get(key) or _live_cache.get(key)
        if part is not None:
            found[i] = part
    missing = [i for i in range(len(trees)) if i not in found]
    if missing:
        contexts = [_ClockWatch(now=second) for _ in missing]
        compiled = _compile_many([trees[i] for i in missing], second, contexts=contexts)
        for i, q, ctx in zip(missing, compiled, contexts, strict=True):
            found[i] = part = _check_sql(q)
            if ctx.read_clock or _segment_ids([trees[i]]):
                if len(_live_cache) < LIVE_CACHE_SIZE:
                    _live_cache[keys[i]] = part
            else:
                if len(_stable_sql) >= LIVE_CACHE_SIZE:
                    _stable_sql.clear()
                _stable_sql[keys[i]] = part
    return [found[i] for i in range(len(trees))]


_stable_sql: dict[str, _SqlPart] = {}


class _ClockWatch(Context):
    """A compile context that notes whether any condition read the clock."""

    read_clock = False

    def __getattribute__(self, name):
        if name == "now":
            object.__setattr__(self, "read_clock", True)
        return super().__getattribute__(name)


def _check_sql(q: Q) -> _SqlPart:
    """The SELECT of one customer (by id) matching ``q``, with the parameters before and after
    the id; an empty SQL when ``q`` can match no one."""
    queryset = Customer.objects.filter(pk=_SENTINEL).filter(q).values("pk").order_by()
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return "", ((), ())
    at = list(params).index(_SENTINEL)
    return sql, (tuple(params[:at]), tuple(params[at + 1 :]))


def _compile_many(
    trees: list[Any], now: dt.datetime, *, contexts: list[Context] | None = None
) -> list[Q]:
    """``contexts``: one per tree, to compile in (else fresh ones at ``now``)."""
    from segments.models import Segment

    loaded: dict = {}
    wanted = _segment_ids(trees)
    while wanted:
        found = {s.pk: s for s in Segment.objects.filter(pk__in=wanted)}
        loaded.update({i: found.get(i) for i in wanted})
        wanted = _segment_ids([s.rules for s in found.values()]) - set(loaded)
    if contexts is None:
        contexts = [Context(now=now) for _ in trees]
    for ctx in contexts:
        ctx.loaded = loaded
    return [compile_tree(tree, ctx) for tree, ctx in zip(trees, contexts, strict=True)]


def _segment_ids(trees: list[Any]) -> set[int]:
    """The segment ids named by ``segment.member`` conditions anywhere in the trees."""
    ids: set[int] = set()
    stack = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("field") == "segment.member":
                value = node.get("value")
                values = value if isinstance(value, list) else [value]
                ids.update(v for v in values if isinstance(v, int) and not isinstance(v, bool))
            else:
                stack.extend(v for k, v in node.items() if k in GROUP_KEYS)
    return ids


def validate_rules(tree: Any, *, segment_id: int | None = None) -> None:
    """Refuse a tree that cannot be compiled, or that refers back to segment ``segment_id``
    through ``segment.member`` (directly or through other segments).

    Raises InvalidRules.
    """
    segments = (segment_id,) if segment_id is not None else ()
    compile_tree(tree, Context(now=timezone.now(), segments=segments, strict=True))


def segment_queryset(tree: Any, *, now: dt.datetime | None = None) -> QuerySet[Customer]:
    """Live (not erased) customers matching the tree. Raises InvalidRules."""
    return Customer.objects.filter(erased_at__isnull=True).filter(compile_rules(tree, now=now))


def is_member(tree: Any, customer_id: int, *, now: dt.datetime | None = None) -> bool:
    """Whether one customer matches the tree: the segment's own query, restricted to them.

    Raises InvalidRules.
    """
    return segment_queryset(tree, now=now).filter(pk=customer_id).exists()


def compile_tree(tree: Any, ctx: Context) -> Q:
    """Compile with an explicit context (nested segments share its budget)."""
    counter = [0]
    return _node(tree, "", 1, ctx, counter)


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _node(node: Any, path: str, depth: int, ctx: Context, counter: list[int]) -> Q:
    if not isinstance(node, dict):
        raise InvalidRules(f"expected an object, got {show(node)}", path=path)
    groups = [key for key in GROUP_KEYS if key in node]
    if groups:
        if len(node) != 1:
            keys = ", ".join(repr(k) for k in node)
            raise InvalidRules(
                f"a group has exactly one key, 'all', 'any' or 'not'; got {keys}", path=path
            )
        if depth > MAX_DEPTH:
            raise InvalidRules(f"groups are nested deeper than {MAX_DEPTH} levels", path=path)
        key = groups[0]
        if key == "not":
            return ~_node(node["not"], _join(path, "not"), depth + 1, ctx, counter)
        items = node[key]
        if not isinstance(items, list):
            raise InvalidRules(
                f"expected a list of rules, got {show(items)}", path=_join(path, key)
            )
        children = [
            _node(item, _join(path, f"{key}[{i}]"), depth + 1, ctx, counter)
            for i, item in enumerate(items)
        ]
        if not children:
            return MATCH_ALL if key == "all" else MATCH_NONE
        result = children[0]
        for child in children[1:]:
            result = result & child if key == "all" else result | child
        return result
    if "field" in node or "op" in node:
        return _condition(node, path, ctx, counter)
    raise InvalidRules(
        "expected a group ('all', 'any' or 'not') or a condition ('field', 'op', 'value'), "
        f"got {show(node)}",
        path=path,
    )


def _condition(node: dict, path: str, ctx: Context, counter: list[int]) -> Q:
    for key in node:
        if key not in CONDITION_KEYS:
            raise InvalidRules(f"unexpected key {key!r} in a condition", path=path)
    counter[0] += 1
    ctx.budget[0] += 1
    if counter[0] > MAX_CONDITIONS:
        raise InvalidRules(f"more than {MAX_CONDITIONS} conditions", path=path)
    if ctx.budget[0] > MAX_EXPANDED_CONDITIONS:
        raise InvalidRules(
            f"more than {MAX_EXPANDED_CONDITIONS} conditions with referenced segments expanded",
            path=path,
        )
    name = node.get("field")
    if not isinstance(name, str):
        raise InvalidRules(f"expected a field name, got {show(name)}", path=_join(path, "field"))
    field = get_field(name)
    if field is None:
        raise InvalidRules(f"unknown field {name!r}", path=path)
    op = node.get("op")
    if not isinstance(op, str):
        raise InvalidRules(f"expected an operator, got {show(op)}", path=_join(path, "op"))
    allowed = ", ".join(field.operators)
    if op not in field.operators:
        if op not in known_operators():
            raise InvalidRules(
                f"unknown operator {op!r} (allowed for field {name!r}: {allowed})", path=path
            )
        raise InvalidRules(
            f"operator {op!r} is not allowed for field {name!r} (allowed: {allowed})", path=path
        )
    value = node.get("value", MISSING)
    value_path = _join(path, "value")
    if op in NO_VALUE_OPS:
        if value not in (MISSING, None):
            raise InvalidRules(f"operator {op!r} takes no value", path=value_path)
    elif value is MISSING:
        raise InvalidRules(f"operator {op!r} needs a value", path=value_path)
    try:
        cleaned = None if op in NO_VALUE_OPS else field.clean(op, value)
        return field.compile(op, cleaned, ctx)
    except ValueRejected as e:
        raise InvalidRules(e.message, path=value_path + e.subpath) from None
