"""Redemptions under load on PostgreSQL behind gunicorn, against the same transaction in pgbench.

    .venv/bin/python bench/redemptions.py [--customers 100000] [--vouchers 200000]
                                          [--seconds 60] [--clients 16]
                                          [--servers sync:4,sync:8,gthread:4x4]
                                          [--pgbench-variants shared_row]
                                          [--keep] [--reuse] [--py-spy SECONDS]

Creates a throwaway PostgreSQL database, migrates it and fills it with set-based SQL
(``INSERT ... SELECT ... FROM generate_series``; every run builds the same data): customers,
single-use vouchers with unique codes spread over 4 coupon campaigns (a limit and a budget far
above what a run uses, so both are checked and never hit, and at most 5 redemptions per
customer), 2 automatic promotions with 1 and 2 validation rules, earlier usage for one
customer in five, then ``VACUUM ANALYZE``. The campaigns are made by the product's own services
(``save_campaign``, ``activate_campaign``).

Then:

a. in-process (Django's test client): the SQL statements of one redemption (``--show-sql``
   prints them), the CPU of its parts, and how long the campaign rows stay locked when
   nothing else runs;
b. over HTTP: gunicorn (``config.wsgi``, production profile, Redis cache) on a free port of
   127.0.0.1, one run per ``--servers`` entry: ``POST /api/v1/redemptions`` from C concurrent
   clients (wrk with a Lua script, or Python threads with ``--driver python``), every request
   a distinct code for a distinct customer, a warm-up, then ``--seconds`` measured. The
   succeeded redemptions in the database are checked against the 201 answers, and every
   counter (vouchers, campaigns and budgets, customers' usage, day statistics summed over
   their slices) against the redemption lines;
c. pgbench runs ``bench/redemption_txn.sql``, the service's write transaction written by
   hand in the service's order and SQL (the guarded voucher UPDATE, the customer's usage
   upserts, the redemption and its lines, the day statistics in the connection's slice, and
   last the guarded campaign UPDATEs), with C clients for ``--seconds``; with
   ``--pgbench-variants shared_row`` also ``bench/redemption_txn_shared_row.sql``, the floor:
   only the campaign row that every redemption updates.

It prints machine facts, the load average, one table per part and the figures against the
issue's target. Before generating and before each measured part it waits while another
benchmark runs (``--wait-minutes``). gunicorn is stopped and the database dropped at the end,
whatever happens, unless ``--keep``; ``--reuse`` measures a database kept by an earlier run
(with codes that are still unused). Only 127.0.0.1 is contacted.
"""

import argparse
import collections
import datetime as dt
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from api_ingest import child_pids, cpu_calibration, cpu_seconds, free_port, machine_busy_seconds
from postgres import (
    PYTHON,
    ROOT,
    db_name,
    loadavg,
    manage,
    pg_args,
    pg_tool,
    psql,
    sibling,
    wait_for_other_benchmarks,
)

segbench = sibling("segments")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/offerwise_redeembench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PATH = "/api/v1/redemptions"
TXN_SCRIPT = Path(__file__).with_name("redemption_txn.sql")
# --pgbench-variants: bench/redemption_txn_<name>.sql, and what each one is.
PGBENCH_VARIANTS = {
    "shared_row": "only the promotion's campaign row: guarded increment + COMMIT (the floor)",
}
# The day statistics' slices (CampaignDayStats.SLICES): a web process writes to its pid's.
SLICES = 16

# The target, and DESIGN.md section 6 (measured on this machine).
TARGET_RPS = 300
CEILING_PGBENCH = "about 2,500 tps (lock voucher, lock campaign, 2 increments, 1 insert)"
CEILING_BARE_VIEW = "about 850/s (bare DRF view, the same in raw SQL, 4 sync workers)"

COUPON_CAMPAIGNS = 4
PRODUCTS = 50
# Every customer lives in one of these; the first promotion's rule asks for them.
COUNTRIES = ("US", "CA", "IE", "GB", "DE")
# Vouchers beyond the HTTP and pgbench pools, for the in-process part.
PROBE_VOUCHERS = 3000
MAX_PER_CUSTOMER = 5
OTHER_BENCHMARKS = r"bench/(segments|promotions|api_ingest|codes)[a-z_]*\.py"


# --- what request n redeems ----------------------------------------------------------------
#
# Request n (1-based, unique over a run) redeems voucher n for customer 1 + (n - 1) % C with
# a cart of 1 + n % 3 items. The Lua script of the wrk driver computes the same (lua_script).


def code_of(n: int) -> str:
    # n times an odd constant modulo 2^32 is a bijection: unique codes that look random.
    return f"R{1 + (n - 1) % COUPON_CAMPAIGNS}-{(n * 2654435761) % 4294967296:08X}"


def customer_of(n: int, customers: int) -> str:
    return f"rc{1 + (n - 1) % customers:07d}"


def product_of(p: int) -> tuple[str, str, int]:
    """Product p (1-based): id, category, unit price (minor units, $30 to $75)."""
    return f"p-{p}", ("shoes", "women", "men", "kids", "home")[p % 5], 3000 + (p % 10) * 500


def cart_of(n: int) -> list[dict]:
    items = []
    for j in range(1 + n % 3):
        product, category, price = product_of(1 + (n * 7 + j * 13) % PRODUCTS)
        items.append(
            {"product_id": product, "category": category, "quantity": 1, "unit_price": price}
        )
    return items


def body_of(n: int, customers: int) -> dict:
    return {
        "customer": {"source_id": customer_of(n, customers)},
        "order": {
            "source_id": f"rb-o{n}",
            "currency": "USD",
            "shipping_amount": 495,
            "items": cart_of(n),
        },
        "codes": [code_of(n)],
        "apply_promotions": True,
    }


# --- campaigns -----------------------------------------------------------------------------


def cond(field_name: str, op: str, value) -> dict:
    return {"field": field_name, "op": op, "value": value}


def create_campaigns(now: dt.datetime, vouchers: int) -> dict[str, list[int]]:
    """2 automatic promotions, then 4 coupon campaigns, through the product's services (drafts,
    activated after the vouchers are in); returns their ids. The promotions are made first, so
    their rows have the lower ids and are locked first, as in the service."""
    from promotions.models import Campaign
    from promotions.services import save_campaign

    window = {"starts_at": now - dt.timedelta(days=30), "ends_at": now + dt.timedelta(days=365)}
    # Far above what any run uses: checked on every redemption, never reached.
    limits = {"max_redemptions": 1_000_000_000, "budget": 1_000_000_000_000}
    ids: dict[str, list[int]] = {"promotions": [], "coupons": []}
    promotions = [
        (
            "Redeem bench: 10% off from $30 in our markets",
            20,
            {"type": "percent", "percent": Decimal("10"), "cap": 5000},
            [
                {"name": "Order of at least $30", "rules": cond("order.amount", "gte", 3000)},
                {"name": "Lives in our markets", "rules": cond("country", "in", list(COUNTRIES))},
            ],
        ),
        (
            "Redeem bench: free shipping from 2 items",
            10,
            {"type": "free_shipping"},
            [{"name": "Two items or more", "rules": cond("order.items_count", "gte", 2)}],
        ),
    ]
    for name, priority, discount, rules in promotions:
        campaign = save_campaign(
            values={
                "name": name,
                "kind": Campaign.Kind.PROMOTION,
                "priority": priority,
                **limits,
                **window,
            },
            discount=discount,
            rules=rules,
        )
        ids["promotions"].append(campaign.pk)
    for k in range(COUPON_CAMPAIGNS):
        campaign = save_campaign(
            values={
                "name": f"Redeem bench coupons {k + 1}: ${5 * (k + 1)} off",
                "kind": Campaign.Kind.COUPONS,
                "max_redemptions": max(10 * vouchers, 1_000_000),
                "budget": 1_000_000_000_000,
                "max_per_customer": MAX_PER_CUSTOMER,
                **window,
            },
            discount={"type": "amount", "amount": 500 * (k + 1)},
            rules=[{"name": "Order of at least $20", "rules": cond("order.amount", "gte", 2000)}],
        )
        ids["coupons"].append(campaign.pk)
    return ids


def bench_campaigns() -> dict[str, list[int]]:
    from promotions.models import Campaign

    found = Campaign.objects.filter(name__startswith="Redeem bench").order_by("pk")
    return {
        "promotions": [c.pk for c in found if c.kind == Campaign.Kind.PROMOTION],
        "coupons": [c.pk for c in found if c.kind == Campaign.Kind.COUPONS],
    }


# --- data set ------------------------------------------------------------------------------


def generate(cursor, customers: int, vouchers: int) -> list[tuple[str, int, float]]:
    """Customers, campaigns, vouchers and earlier usage; returns (step, rows, seconds)."""
    from django.utils import timezone

    from promotions.models import Campaign
    from promotions.services import activate_campaign

    timings: list[tuple[str, int, float]] = []
    h = segbench.h

    def step(label: str, sql: str) -> None:
        started = time.perf_counter()
        rows, _ = segbench.run_sql(cursor, label, sql)
        seconds = time.perf_counter() - started
        timings.append((label, rows, seconds))
        print(f"  {label}: {max(rows, 0):,} rows in {seconds:.1f} s", flush=True)

    cursor.execute("SET synchronous_commit = off")
    step(
        "customers",
        f"""
        INSERT INTO customers_customer (
            id, source_id, first_name, last_name, email, phone, birthdate, birthday_mmdd,
            timezone, language, country, city, latitude, longitude, metadata, created_at,
            updated_at, erased_at, orders_count, total_spent, average_order_value,
            first_order_at, last_order_at)
        SELECT i, 'rc' || lpad(i::text, 7, '0'), 'First' || i % 997, 'Last' || i % 991,
            'rc' || i || '@example.com', '', NULL, NULL, 'UTC', 'en',
            {segbench.sql_array(list(COUNTRIES), "text")}[1 + {h("i", 31)} % {len(COUNTRIES)}],
            '', NULL, NULL, '{{}}', now() - interval '1 day' * ({h("i", 32)} % 1000), now(),
            NULL, 0, 0, 0, NULL, NULL
        FROM generate_series(1, {customers}) i
        """,
    )
    started = time.perf_counter()
    ids = create_campaigns(timezone.now(), vouchers)
    timings.append(("campaigns (save_campaign)", 6, time.perf_counter() - started))
    coupons = segbench.sql_array(ids["coupons"], "bigint")
    step(
        "vouchers",
        f"""
        INSERT INTO promotions_voucher (id, code, campaign_id, customer_id, enabled, starts_at,
            expires_at, max_redemptions, redemptions_count, gift_amount, gift_balance,
            metadata, created_at, updated_at)
        SELECT v, 'R' || (1 + (v - 1) % {COUPON_CAMPAIGNS}) || '-'
                || upper(lpad(to_hex((v * 2654435761) % 4294967296), 8, '0')),
            {coupons}[1 + (v - 1) % {COUPON_CAMPAIGNS}], NULL, true, NULL, NULL, 1, 0, NULL,
            NULL, '{{}}', now() - interval '1 minute' * ({h("v", 33)} % 100000), now()
        FROM generate_series(1, {vouchers}) v
        """,
    )
    # One customer in five redeemed their campaign once before (customer c gets the codes of
    # coupon campaign (c - 1) % 4: C is a multiple of 4).
    step(
        "customer usage (1 in 5 customers, once)",
        f"""
        INSERT INTO promotions_customerusage (campaign_id, customer_id, redemptions, day,
            day_redemptions)
        SELECT {coupons}[1 + (c - 1) % {COUPON_CAMPAIGNS}], c, 1,
            current_date - 1 - ({h("c", 34)} % 100)::int, 1
        FROM generate_series(5, {customers}, 5) c
        """,
    )
    for table in ("customers_customer", "promotions_voucher", "promotions_customerusage"):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
    # The counters the redemption service would have kept for that usage; the count before
    # the benchmark is kept in the metadata for the final check.
    step(
        "campaign counters",
        f"""
        UPDATE promotions_campaign c SET redemptions_count = u.used,
            metadata = jsonb_build_object('bench_before', u.used)
        FROM (SELECT campaign_id, sum(redemptions) AS used FROM promotions_customerusage
              GROUP BY campaign_id) u
        WHERE c.id = u.campaign_id AND c.id = ANY({coupons})
        """,
    )
    for campaign in Campaign.objects.filter(pk__in=ids["promotions"] + ids["coupons"]):
        activate_campaign(campaign=campaign)
    cursor.execute("RESET synchronous_commit")
    started = time.perf_counter()
    cursor.execute("VACUUM ANALYZE")
    timings.append(("VACUUM ANALYZE", 0, time.perf_counter() - started))
    print(f"  VACUUM ANALYZE: {timings[-1][2]:.1f} s", flush=True)
    return timings


def sizes(cursor) -> list[tuple[str, int, str]]:
    cursor.execute(
        "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) "
        "FROM pg_class c WHERE c.relkind = 'r' AND c.relname IN ('customers_customer', "
        "'promotions_voucher', 'promotions_customerusage', 'promotions_redemption', "
        "'promotions_redemptionline') ORDER BY pg_total_relation_size(c.oid) DESC"
    )
    return cursor.fetchall()


@dataclass
class Pools:
    """Voucher numbers: the HTTP runs, pgbench and the in-process part each have their own."""

    http: range
    pgbench: range
    probe: range


def pools(vouchers: int, pgbench_vouchers: int) -> Pools:
    http_end = vouchers - pgbench_vouchers - PROBE_VOUCHERS
    return Pools(
        range(1, http_end + 1),
        range(http_end + 1, http_end + pgbench_vouchers + 1),
        range(http_end + pgbench_vouchers + 1, vouchers + 1),
    )


def first_unused(cursor, pool: range) -> int:
    """The first voucher of the pool after every used one (a kept database is reused)."""
    cursor.execute(
        "SELECT max(id) FROM promotions_voucher WHERE id BETWEEN %s AND %s "
        "AND redemptions_count > 0",
        [pool.start, pool.stop - 1],
    )
    used = cursor.fetchone()[0]
    return pool.start if used is None else used + 1


# --- in-process: statements, CPU, lock hold time ------------------------------------------


def in_process_client(key: str):
    from django.test import Client

    return Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Api-Key {key}"})


def redeem_in_process(client, n: int, customers: int):
    response = client.post(PATH, json.dumps(body_of(n, customers)), content_type="application/json")
    if response.status_code != 201:
        raise RuntimeError(f"redemption {n} answered {response.status_code}: {response.content!r}")
    return response


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(key: str, numbers: list[int], customers: int) -> list[tuple[int, list[str]]]:
    """The SQL of one redemption per number, in-process; (items in the cart, statements)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = in_process_client(key)
    out = []
    for n in numbers:
        with CaptureQueriesContext(connection) as captured:
            redeem_in_process(client, n, customers)
        out.append((1 + n % 3, [q["sql"] for q in captured.captured_queries]))
    return out


def batch_size(sql: str) -> int:
    """Statements in one query sent: the checkout's reads go as one batch ("a; b; c")."""
    return 1 + len(re.findall(r";\s*(?=SELECT|INSERT|UPDATE|DELETE|WITH)", sql))


def short_sql(sql: str) -> str:
    sql = " ".join(sql.split())
    sql = re.sub(r'"promotions_|"customers_', '"', sql)
    return sql[:150] + ("..." if len(sql) > 150 else "")


def cpu_parts(key: str, numbers: list[int], customers: int) -> dict[str, float]:
    """CPU ms per redemption, in-process: the whole request, the service alone, and its
    read-only quote (so the write part is their difference)."""
    from promotions.api.checkout_views import checkout_from
    from promotions.api.redemption_views import RedemptionInSerializer
    from promotions.checkout import quote_checkout
    from promotions.redemptions import redeem_checkout

    third = len(numbers) // 3
    client = in_process_client(key)
    started = time.process_time()
    for n in numbers[:third]:
        redeem_in_process(client, n, customers)
    request_ms = (time.process_time() - started) / third * 1000

    checkouts = []
    for n in numbers[third : 2 * third]:
        serializer = RedemptionInSerializer(data=body_of(n, customers))
        serializer.is_valid(raise_exception=True)
        checkouts.append(checkout_from(serializer.validated_data, sandbox=False))
    started = time.process_time()
    for checkout in checkouts:
        quote_checkout(checkout)
    quote_ms = (time.process_time() - started) / third * 1000
    started = time.process_time()
    for checkout in checkouts:
        result = redeem_checkout(checkout=checkout, client="bench")
        if not result.succeeded:
            raise RuntimeError(f"in-process redemption failed: {result.reason}")
    service_ms = (time.process_time() - started) / third * 1000
    return {
        "whole request (test client: middleware, auth, throttles, parse, render)": request_ms,
        "redeem_checkout (the service)": service_ms,
        "  of which quote_checkout (reads)": quote_ms,
        "  of which the writes (service - quote)": service_ms - quote_ms,
        "HTTP, DRF and throttles (request - service)": request_ms - service_ms,
    }


def cpu_phases(key: str, numbers: list[int], customers: int) -> dict[str, float]:
    """CPU ms per redemption of each step of the request, in-process through the test client:
    the functions below are wrapped with a CPU-time clock for the run and restored after.
    Nested steps (indented) are included in the step above them."""
    from rest_framework import views

    from customers.api import authentication
    from promotions import checkout, redemptions, selectors
    from promotions.api import redemption_views

    steps = [
        (
            "API key (ApiKeyAuthentication.authenticate)",
            authentication.ApiKeyAuthentication,
            "authenticate",
        ),
        (
            "throttles + code-guessing block (APIView.check_throttles: one Redis round trip)",
            views.APIView,
            "check_throttles",
        ),
        (
            "input (checkout_data: plain read, the serializer only as a fallback)",
            redemption_views,
            "checkout_data",
        ),
        ("redeem_checkout (the service)", redemption_views, "redeem_checkout"),
        ("  quote_checkout (reads, before the transaction)", redemptions, "quote_checkout"),
        (
            "    customer, voucher, promotions, usage (checkout_rows: one round trip)",
            selectors,
            "checkout_rows",
        ),
        (
            "    rules, windows, segments (cached_campaign_settings)",
            selectors,
            "cached_campaign_settings",
        ),
        ("    customer conditions (_customer_checks)", checkout, "_customer_checks"),
        (
            "  _consume_own_rows (voucher UPDATE, usage upsert per campaign)",
            redemptions,
            "_consume_own_rows",
        ),
        ("  _write (redemption + lines)", redemptions, "_write"),
        ("  _count_success (day statistics, own slice)", redemptions, "_count_success"),
        ("  _consume_campaigns (campaign UPDATEs, last)", redemptions, "_consume_campaigns"),
        ("render_quote", redemption_views, "render_quote"),
    ]
    spent = collections.Counter()
    saved = []

    def timed(label, fn):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - started

        return wrapper

    for label, owner, name in steps:
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))
        setattr(owner, name, timed(label, original))
    try:
        client = in_process_client(key)
        started = time.process_time()
        for n in numbers:
            redeem_in_process(client, n, customers)
        total = time.process_time() - started
    finally:
        for owner, name, original, own in reversed(saved):
            if own:
                setattr(owner, name, original)
            else:  # inherited: drop the wrapper, the base class's method shows again
                delattr(owner, name)
    out = {"whole request (test client)": total / len(numbers) * 1000}
    for label, _owner, _name in steps:
        out[label] = spent[label] / len(numbers) * 1000
    top = [label for label, _o, _n in steps if not label.startswith(" ")]
    out["the rest (middleware, DRF dispatch, BEGIN/COMMIT, response, test client)"] = out[
        "whole request (test client)"
    ] - sum(out[label] for label in top)
    return out


def raw_write_cpu(key: str, n: int, customers: int, repeat: int = 200) -> tuple[int, float]:
    """The write statements of one redemption as the service sent them (captured), sent again
    as plain SQL through a cursor in a transaction that is rolled back: the CPU ms that the
    same writes cost this process without the ORM building them."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    client = in_process_client(key)
    with CaptureQueriesContext(connection) as captured:
        redeem_in_process(client, n, customers)
    sqls = [q["sql"] for q in captured.captured_queries]
    # The quote only reads (before the transaction): the writes start with the first UPDATE
    # or INSERT.
    first = next(i for i, sql in enumerate(sqls) if sql.startswith(("UPDATE", "INSERT")))
    writes = [sql for sql in sqls[first:] if sql.split(" ", 1)[0] not in TRANSACTION_CONTROL]

    class Undo(Exception):
        pass

    started = time.process_time()
    for _ in range(repeat):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for sql in writes:
                    # Captured SQL has its values in it; % is not a placeholder here.
                    cursor.execute(sql.replace("%", "%%"), [])
                raise Undo
        except Undo:
            pass
    return len(writes), (time.process_time() - started) / repeat * 1000


def lock_hold(numbers: list[int], customers: int) -> dict[str, float]:
    """Wall ms, one redemption at a time in-process, from the first campaign UPDATE (which
    locks the promotion's row that every redemption updates; the service's last writes) to
    the end of COMMIT, and the whole service call, median over the numbers."""
    from django.db import connection

    from promotions.api.checkout_views import checkout_from
    from promotions.api.redemption_views import RedemptionInSerializer
    from promotions.redemptions import redeem_checkout

    holds, totals = [], []
    marks: dict[str, float] = {}

    def wrapper(execute, sql, params, many, context):
        if "promotions_campaign" in sql and sql.lstrip().upper().startswith("UPDATE"):
            marks.setdefault("locked", time.perf_counter())
        return execute(sql, params, many, context)

    for n in numbers:
        serializer = RedemptionInSerializer(data=body_of(n, customers))
        serializer.is_valid(raise_exception=True)
        checkout = checkout_from(serializer.validated_data, sandbox=False)
        marks.clear()
        with connection.execute_wrapper(wrapper):
            started = time.perf_counter()
            # The service is the outermost atomic block: it has committed when it returns.
            result = redeem_checkout(checkout=checkout, client="bench")
            done = time.perf_counter()
        if not result.succeeded:
            raise RuntimeError(f"in-process redemption failed: {result.reason}")
        holds.append((done - marks["locked"]) * 1000)
        totals.append((done - started) * 1000)
    return {"hold": statistics.median(holds), "service": statistics.median(totals)}


# --- HTTP ----------------------------------------------------------------------------------

LUA = r"""
-- Request n redeems voucher n for customer 1 + (n - 1) % CUSTOMERS (bench/redemptions.py).
local first, last, customers, nthreads = __FIRST__, __LAST__, __CUSTOMERS__, __THREADS__
local coupons, products = __COUPONS__, __PRODUCTS__
local categories = {"shoes", "women", "men", "kids", "home"}
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter, sent, overflow, codes = 0, 0, 0, {}
  ids = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Api-Key __KEY__"
end

local function item(n, j)
  local p = 1 + (n * 7 + j * 13) % products
  return string.format(
    '{"product_id":"p-%d","category":"%s","quantity":1,"unit_price":%d}',
    p, categories[1 + p % 5], 3000 + (p % 10) * 500)
end

function request()
  local n = first + index + nthreads * counter
  counter = counter + 1
  if n > last then
    overflow = overflow + 1
    n = last
  end
  sent = sent + 1
  local items = {}
  for j = 0, n % 3 do items[#items + 1] = item(n, j) end
  local code = string.format("R%d-%08X", 1 + (n - 1) % coupons, (n * 2654435761) % 4294967296)
  local body = string.format(
    '{"customer":{"source_id":"rc%07d"},"order":{"source_id":"rb-o%d","currency":"USD",'
    .. '"shipping_amount":495,"items":[%s]},"codes":["%s"],"apply_promotions":true}',
    1 + (n - 1) % customers, n, table.concat(items, ","), code)
  return wrk.format(nil, "__PATH__", nil, body)
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status == 201 then
    local id = string.match(body, '"id":%s*(%d+)')
    if id then ids[#ids + 1] = id end
  elseif (codes[status] or 0) <= 3 then
    io.stderr:write(string.format("status %d: %s\n", status, string.sub(body, 1, 300)))
  end
end

function done(summary, latency, requests)
  local out = io.open("__OUT__", "w")
  local sent_all, overflow_all, last_n = 0, 0, 0
  local statuses = {}
  for _, t in ipairs(threads) do
    sent_all = sent_all + t:get("sent")
    overflow_all = overflow_all + t:get("overflow")
    local n = first + t:get("index") + nthreads * (t:get("counter") - 1)
    if n > last_n then last_n = n end
    for status, count in pairs(t:get("codes")) do
      statuses[tostring(status)] = (statuses[tostring(status)] or 0) + count
    end
    local ids = t:get("ids")
    out:write("ids ", table.concat(ids, " "), "\n")
  end
  local e = summary.errors
  out:write(string.format(
    "summary %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, sent_all, overflow_all, last_n))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    out:write(string.format("p%s %d\n", p, latency:percentile(p)))
  end
  out:write(string.format("max %d\n", latency.max))
  for status, count in pairs(statuses) do
    out:write(string.format("status %s %d\n", status, count))
  end
  out:close()
end
"""


def lua_script(out: Path, key: str, first: int, last: int, customers: int, threads: int) -> str:
    values = {
        "__FIRST__": str(first),
        "__LAST__": str(last),
        "__CUSTOMERS__": str(customers),
        "__THREADS__": str(threads),
        "__COUPONS__": str(COUPON_CAMPAIGNS),
        "__PRODUCTS__": str(PRODUCTS),
        "__KEY__": key,
        "__PATH__": PATH,
        "__OUT__": str(out),
    }
    script = LUA
    for name, value in values.items():
        script = script.replace(name, value)
    return script


@dataclass
class Run:
    label: str
    clients: int
    seconds: float = 0.0
    requests: int = 0
    latencies_ms: dict[str, float] = field(default_factory=dict)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    transport_errors: int = 0
    ids: list[int] = field(default_factory=list)
    sent: int = 0
    last_n: int = 0
    overflow: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    activity: dict[str, float] = field(default_factory=dict)
    timeline: list[float] = field(default_factory=list)
    check: dict[str, int] = field(default_factory=dict)
    loadavg: tuple[str, str] = ("", "")
    # The day statistics' slices of the workers (pid % SLICES).
    slices: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def created(self) -> int:
        return self.statuses.get(201, 0)

    @property
    def errors(self) -> int:
        return self.requests - self.created + self.transport_errors


def run_wrk(run: Run, port: int, key: str, first: int, last: int, customers: int, seconds: float):
    threads = min(2, run.clients)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.txt"
        script = Path(tmp) / "redeem.lua"
        script.write_text(lua_script(out, key, first, last, customers, threads))
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{run.clients}",
                f"-d{int(seconds)}s",
                "--timeout",
                "30s",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}{PATH}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=False,
        )
        if done.returncode or not out.exists():
            raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        for line in done.stderr.splitlines()[:6]:
            print(f"    wrk: {line[:300]}", flush=True)
        for line in out.read_text().splitlines():
            kind, _, rest = line.partition(" ")
            values = rest.split()
            if kind == "ids":
                run.ids.extend(int(v) for v in values)
            elif kind == "summary":
                numbers = [int(v) for v in values]
                run.requests = numbers[0]
                run.seconds = numbers[1] / 1e6
                # connect, read, write and timeout errors; status errors are in statuses.
                run.transport_errors = numbers[2] + numbers[3] + numbers[4] + numbers[6]
                run.sent, run.overflow, run.last_n = numbers[7], numbers[8], numbers[9]
            elif kind.startswith("p") or kind == "max":
                run.latencies_ms[kind] = int(values[0]) / 1000
            elif kind == "status":
                run.statuses[int(values[0])] += int(values[1])


def run_python(
    run: Run, port: int, key: str, first: int, last: int, customers: int, seconds: float
):
    """The fallback driver: C threads, each on its own http.client connection (gunicorn's
    sync workers close it after each answer; http.client opens the next one)."""
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    numbers = iter(range(first, last + 1))
    latencies: list[float] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, statuses, ids, errors, sent, top = [], collections.Counter(), [], 0, 0, 0
        try:
            while time.monotonic() < deadline:
                with lock:
                    n = next(numbers, None)
                if n is None:
                    break
                payload = json.dumps(body_of(n, customers)).encode()
                sent, top = sent + 1, max(top, n)
                started = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=payload, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    errors += 1
                    continue
                mine.append(time.perf_counter() - started)
                statuses[response.status] += 1
                if response.status == 201:
                    ids.append(json.loads(data)["id"])
                elif statuses[response.status] <= 3:
                    print(f"    status {response.status}: {data[:300]!r}", flush=True)
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                run.statuses.update(statuses)
                run.ids.extend(ids)
                run.transport_errors += errors
                run.sent += sent
                run.last_n = max(run.last_n, top)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(run.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    run.seconds = time.perf_counter() - started
    run.requests = len(latencies)
    ordered = sorted(latencies)
    for p in (50, 90, 99, 99.9):
        rank = max(1, -(-len(ordered) * p // 100))
        run.latencies_ms[f"p{p:g}"] = ordered[int(rank) - 1] * 1000
    run.latencies_ms["max"] = ordered[-1] * 1000


class ActivitySampler(threading.Thread):
    """Every 50 ms: what the benchmark database's other backends are doing (pg_stat_activity),
    and every second the newest redemption id (throughput over time)."""

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.url = database_url
        self.stop = threading.Event()
        self.samples: collections.Counter = collections.Counter()
        self.rounds = 0
        self.newest: list[tuple[float, int]] = []

    def run(self) -> None:
        import psycopg

        parts = pg_args(self.url)
        with psycopg.connect(
            host=parts[1], port=parts[3], user=parts[5], dbname=db_name(self.url), autocommit=True
        ) as conn:
            next_id = 0.0
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                ).fetchall()
                self.rounds += 1
                for state, wait_type, wait in rows:
                    self.samples[activity_label(state, wait_type, wait)] += 1
                now = time.monotonic()
                if now >= next_id:
                    newest = conn.execute("SELECT max(id) FROM promotions_redemption").fetchone()
                    self.newest.append((now, newest[0] or 0))
                    next_id = now + 1.0
                time.sleep(0.05)

    def summary(self) -> dict[str, float]:
        rounds = max(self.rounds, 1)
        return {label: count / rounds for label, count in self.samples.most_common()}

    def timeline(self, step_s: float = 10.0) -> list[float]:
        """Redemptions per second in consecutive windows of ``step_s``."""
        out, start = [], 0
        for i in range(1, len(self.newest)):
            t0, id0 = self.newest[start]
            t1, id1 = self.newest[i]
            if t1 - t0 >= step_s - 0.05:
                out.append((id1 - id0) / (t1 - t0))
                start = i
        return out


def activity_label(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if state == "idle in transaction":
        return "in a transaction, waiting for the app"
    if state == "active" and wait_type == "Lock":
        return f"waiting for a lock ({wait})"
    if state == "active" and wait_type:
        return f"active, {wait_type}: {wait}"
    if state == "active":
        return "active (on CPU or runnable)"
    return state or "unknown"


def backend_pids(database_url: str) -> list[int]:
    out = psql(
        database_url,
        db_name(database_url),
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    return [int(pid) for pid in out.split()]


def start_gunicorn(port: int, server: str) -> subprocess.Popen:
    """gunicorn (``config.wsgi``) with ``server``'s worker class and count."""
    kind, _, size = server.partition(":")
    args = ["--worker-class", kind]
    if kind == "gthread":
        workers, _, threads = size.partition("x")
        args += ["--workers", workers, "--threads", threads or "4"]
    else:
        args += ["--workers", size]
    return subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi",
            *args,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        # Connections that outlive the run: the PostgreSQL CPU per request is read from the
        # backends' /proc counters, which a reconnect every 60 s would reset.
        env={**os.environ, "DATABASE_CONN_MAX_AGE": "3600"},
    )


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_up(port: int, key: str, gunicorn: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {gunicorn.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", f"{PATH}?page_size=1", headers={"Authorization": f"Api-Key {key}"})
            response = conn.getresponse()
            data = response.read()
            conn.close()
            if response.status == 200:
                return
            raise RuntimeError(f"gunicorn answered {response.status}: {data[:300]!r}")
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 120 s")


def check_run(cursor, run: Run, first: int, last_n: int) -> dict[str, int]:
    """Redemptions in the database for the numbers the run sent, against its 201 answers."""
    cursor.execute(
        "SELECT id, status FROM promotions_redemption WHERE order_source_id = ANY(%s)",
        [[f"rb-o{n}" for n in range(first, last_n + 1)]],
    )
    rows = cursor.fetchall()
    succeeded = {pk for pk, status in rows if status == "succeeded"}
    answered = set(run.ids)
    return {
        "201 answers": run.created,
        "distinct ids in them": len(answered),
        "succeeded rows": len(succeeded),
        "201s without a row": len(answered - succeeded),
        "rows without a 201 read (in flight at the cut-off)": len(succeeded - answered),
        "other rows (failed attempts)": len(rows) - len(succeeded),
    }


def check_counters(cursor) -> list[str]:
    """Every counter against what the succeeded redemption lines say; returns the
    mismatches. Campaigns: count and discount given (less the count before the benchmark);
    the customers' usage per campaign (less the earlier usage the data set made); vouchers one
    by one; the day statistics per campaign, summed over their days and slices."""
    problems = []
    lines = (
        "(SELECT l.campaign_id, count(*) AS n, "
        "sum(l.discount_amount + l.shipping_discount_amount) AS given "
        "FROM promotions_redemptionline l "
        "JOIN promotions_redemption r ON r.id = l.redemption_id "
        "WHERE l.succeeded AND r.status = 'succeeded' AND NOT r.test GROUP BY l.campaign_id)"
    )
    cursor.execute(
        f"""
        SELECT c.id,
            c.redemptions_count - coalesce((c.metadata ->> 'bench_before')::int, 0),
            c.discount_given, coalesce(l.n, 0), coalesce(l.given, 0),
            coalesce(u.n, 0) - coalesce((c.metadata ->> 'bench_before')::int, 0),
            coalesce(s.n, 0), coalesce(s.given, 0)
        FROM promotions_campaign c
        LEFT JOIN {lines} l ON l.campaign_id = c.id
        LEFT JOIN (SELECT campaign_id, sum(redemptions) AS n FROM promotions_customerusage
                   GROUP BY campaign_id) u ON u.campaign_id = c.id
        LEFT JOIN (SELECT campaign_id, sum(succeeded) AS n, sum(discount_given) AS given
                   FROM promotions_campaigndaystats GROUP BY campaign_id) s
            ON s.campaign_id = c.id
        WHERE c.name LIKE %s ORDER BY c.id
        """,
        ["Redeem bench%"],
    )
    for pk, counted, given, n, line_given, used, stats, stats_given in cursor.fetchall():
        if (counted, given) != (n, line_given):
            problems.append(
                f"campaign {pk}: counter {counted} vs {n} lines, given {given} vs {line_given}"
            )
        if used != n:
            problems.append(f"campaign {pk}: customers' usage {used} vs {n} lines")
        if (stats, stats_given) != (n, line_given):
            problems.append(
                f"campaign {pk}: day statistics (all slices) {stats} succeeded, given "
                f"{stats_given}, vs {n} lines, given {line_given}"
            )
    cursor.execute(
        "SELECT count(*) FROM promotions_voucher v WHERE v.redemptions_count <> (SELECT count(*) "
        "FROM promotions_redemptionline l JOIN promotions_redemption r ON r.id = l.redemption_id "
        "WHERE l.voucher_id = v.id AND l.succeeded AND r.status = 'succeeded')"
    )
    bad = cursor.fetchone()[0]
    if bad:
        problems.append(f"{bad} vouchers whose counter differs from their lines")
    return problems


def day_stat_slices(cursor) -> str:
    """How the day statistics are spread: rows and slices per campaign."""
    cursor.execute(
        "SELECT campaign_id, count(*), count(DISTINCT slice), sum(succeeded) "
        "FROM promotions_campaigndaystats GROUP BY campaign_id ORDER BY campaign_id"
    )
    return "; ".join(
        f"campaign {pk}: {rows} rows, {slices} slices, {n:,} succeeded"
        for pk, rows, slices, n in cursor.fetchall()
    )


def measure_http(
    args,
    database_url: str,
    key: str,
    server: str,
    first: int,
    last: int,
    customers: int,
) -> Run:
    """One gunicorn configuration: start, warm up, measure, stop, check."""
    from django.db import connection

    port = free_port()
    gunicorn = start_gunicorn(port, server)
    drive = run_wrk if args.driver == "wrk" else run_python
    try:
        wait_until_up(port, key, gunicorn)
        warm = Run("warm-up", args.clients)
        drive(warm, port, key, first, last, customers, args.warmup)
        if warm.errors:
            print(f"    warm-up: {warm.errors} errors of {warm.requests}", flush=True)
        first = warm.last_n + 1
        time.sleep(1)
        run = Run(server, args.clients)
        workers = child_pids(gunicorn.pid)
        run.slices = sorted({pid % SLICES for pid in workers})
        backends = backend_pids(database_url)
        sampler = ActivitySampler(database_url)
        run.loadavg = (loadavg(), "")
        before = (cpu_seconds(workers), cpu_seconds(backends), machine_busy_seconds()[0])
        client_before = client_cpu()
        sampler.start()
        drive(run, port, key, first, last, customers, args.seconds)
        sampler.stop.set()
        sampler.join(5)
        after = (cpu_seconds(workers), cpu_seconds(backends), machine_busy_seconds()[0])
        run.loadavg = (run.loadavg[0], loadavg())
        per = 1000 / max(run.requests, 1)
        run.cpu_ms = {
            "gunicorn": (after[0] - before[0]) * per,
            "postgres": (after[1] - before[1]) * per,
            "client": (client_cpu() - client_before) * per,
            "machine": (after[2] - before[2]) * per,
        }
        run.activity = sampler.summary()
        run.timeline = sampler.timeline()
        # Let the requests still in flight at the cut-off finish before counting rows.
        time.sleep(2)
    finally:
        stop(gunicorn)
    if run.overflow:
        raise RuntimeError(f"the HTTP pool of vouchers ran out ({run.overflow} requests over)")
    with connection.cursor() as cursor:
        run.check = check_run(cursor, run, first, run.last_n)
    return run


def client_cpu() -> float:
    """CPU seconds of the load generator: this process and its finished children (wrk)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def print_runs(runs: list[Run]) -> None:
    print(
        "\n| gunicorn | clients | seconds | requests | req/s | p50 ms | p90 ms | p99 ms "
        "| max ms | 201 | errors | CPU ms/req gunicorn / postgres / client / machine "
        "| loadavg before, after |"
    )
    print("|" + "---|" * 13)
    for r in runs:
        lat = r.latencies_ms
        cpu = r.cpu_ms
        print(
            f"| {r.label} | {r.clients} | {r.seconds:.0f} | {r.requests:,} | {r.rate:,.0f} "
            f"| {lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | {lat['max']:.0f} "
            f"| {r.created:,} | {r.errors} | {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / "
            f"{cpu['client']:.2f} / {cpu['machine']:.2f} | {r.loadavg[0]}; {r.loadavg[1]} |"
        )
    for r in runs:
        other = {s: c for s, c in r.statuses.items() if s != 201}
        print(f"\n{r.label}: statuses {dict(r.statuses)}; transport errors {r.transport_errors}")
        if other:
            print(f"  NOT 201: {other}")
        print("  database check: " + "; ".join(f"{k} {v:,}" for k, v in r.check.items()))
        print(f"  day statistics slices of the workers (pid % {SLICES}): {r.slices}")
        print(
            "  redemptions/s per 10 s (from the newest id): "
            + ", ".join(f"{v:.0f}" for v in r.timeline)
        )
        print("  PostgreSQL backends of the app, average number in each state (pg_stat_activity):")
        for label, count in r.activity.items():
            print(f"    {count:5.2f}  {label}")


# --- pgbench -------------------------------------------------------------------------------


@dataclass
class PgbenchRun:
    label: str = ""
    tps: float = 0.0
    transactions: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    loadavg: tuple[str, str] = ("", "")
    output: str = ""
    activity: dict[str, float] = field(default_factory=dict)


def pgbench_vars(ids: dict[str, list[int]], first: int, clients: int, customers: int) -> list:
    promo, shipping = ids["promotions"]
    values = {
        "first": first,
        "clients": clients,
        "customers": customers,
        "promo": promo,
        "shipping": shipping,
        "k": 0,
    }
    return [arg for name, value in values.items() for arg in ("-D", f"{name}={value}")]


def run_pgbench(
    database_url: str,
    script: Path,
    ids: dict[str, list[int]],
    first: int,
    clients: int,
    customers: int,
    seconds: float,
    pool: range,
) -> PgbenchRun:
    """pgbench on a hand-written transaction, simple protocol (as the app's driver sends
    statements), with a per-transaction log for the percentiles."""
    result = PgbenchRun(script.name)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "txn")
        command = [
            "pgbench",
            *pg_args(database_url),
            "-n",
            "-M",
            "simple",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-l",
            "--log-prefix",
            prefix,
            *pgbench_vars(ids, first, clients, customers),
            "-f",
            str(script),
            db_name(database_url),
        ]
        result.loadavg = (loadavg(), "")
        busy_before = machine_busy_seconds()[0]
        client_before = client_cpu()
        sampler = ActivitySampler(database_url)
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        # pgbench's backends are new: all their CPU is this run's. They exit with pgbench, so
        # their counters are read while it runs, the last reading kept.
        time.sleep(0.5)
        backends = backend_pids(database_url)
        backend_cpu = 0.0
        sampler.start()
        while process.poll() is None:
            backend_cpu = max(backend_cpu, cpu_seconds(backends))
            time.sleep(0.5)
        out, err = process.communicate(timeout=300)
        sampler.stop.set()
        sampler.join(5)
        busy_after = machine_busy_seconds()[0]
        result.loadavg = (result.loadavg[0], loadavg())
        result.output = out + err
        if process.returncode:
            raise RuntimeError(f"pgbench failed ({process.returncode}):\n{out}\n{err}")
        latencies = []
        for log in Path(tmp).glob("txn*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                # client, transaction, latency (us) or "failed"/"skipped", script, epoch, us
                if parts[2].isdigit():
                    latencies.append(int(parts[2]) / 1000)
                else:
                    result.failed += 1
    match = re.search(r"tps = ([\d.]+) \(without initial", result.output)
    result.tps = float(match.group(1)) if match else 0.0
    match = re.search(r"number of transactions actually processed: (\d+)", result.output)
    result.transactions = int(match.group(1)) if match else len(latencies)
    match = re.search(r"number of failed transactions: (\d+)", result.output)
    result.failed += int(match.group(1)) if match else 0
    ordered = sorted(latencies)
    for p in (50, 90, 99, 99.9):
        rank = max(1, -(-len(ordered) * p // 100))
        result.latencies_ms[f"p{p:g}"] = ordered[int(rank) - 1]
    result.latencies_ms["max"] = ordered[-1]
    per = 1000 / max(result.transactions, 1)
    result.cpu_ms = {
        "postgres": backend_cpu * per,
        "client": (client_cpu() - client_before) * per,
        "machine": (busy_after - busy_before) * per,
    }
    result.activity = sampler.summary()
    result.seconds = seconds
    if script.name != "redemption_txn_shared_row.sql" and (
        pool.start + result.transactions + clients > pool.stop
    ):
        raise RuntimeError("the pgbench pool of vouchers ran out: raise --pgbench-vouchers")
    return result


# --- py-spy --------------------------------------------------------------------------------

# (label, a frame's text that marks it), first match from the leaf wins for "waiting on".
WAITS = (
    ("PostgreSQL (psycopg waiting for the server)", ("psycopg/", "psycopg_binary")),
    ("Redis (socket)", ("redis/connection.py", "redis/_parsers")),
)
PHASES = (
    ("authentication (API key)", "authenticate (customers/api/authentication.py"),
    ("throttles", "check_throttles (rest_framework/views.py"),
    ("parse + input", "checkout_data (promotions/api/checkout_views.py"),
    ("quote_checkout (reads)", "quote_checkout (promotions/checkout.py"),
    ("_consume_own_rows (voucher, usage)", "_consume_own_rows (promotions/redemptions.py"),
    ("_write (redemption + lines)", "_write (promotions/redemptions.py"),
    ("_count_success (day statistics)", "_count_success (promotions/redemptions.py"),
    ("_consume_campaigns (campaign rows)", "_consume_campaigns (promotions/redemptions.py"),
    ("COMMIT", "__exit__ (django/db/transaction.py"),
    ("render (JSON)", "render (rest_framework/response.py"),
    ("connection setup / health check", "close_if_health_check_failed"),
)


def py_spy(args, key: str, server: str, first: int, last: int, customers: int) -> str:
    """Sample every gunicorn worker (idle included) during a load run; share of samples per
    phase of the request and, within it, what the worker waited on. Blocking mode (py-spy
    pauses the process for each sample): without it, running workers were under-sampled and
    showed as idle half the time while gunicorn's access log had them busy 93%."""
    binary = Path(PYTHON).parent / "py-spy"
    if not binary.exists():
        return "py-spy is not installed in the virtualenv (pip install py-spy)"
    port = free_port()
    gunicorn = start_gunicorn(port, server)
    try:
        wait_until_up(port, key, gunicorn)
        warm = Run("warm-up", args.clients)
        run_wrk(warm, port, key, first, last, customers, 5)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "profile.txt"
            spy = subprocess.Popen(
                [
                    str(binary),
                    "record",
                    "--pid",
                    str(gunicorn.pid),
                    "--subprocesses",
                    "--idle",
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "--duration",
                    str(int(args.py_spy)),
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            time.sleep(1)
            run = Run("py-spy", args.clients)
            run_wrk(run, port, key, warm.last_n + 1, last, customers, args.py_spy)
            spy.wait(60)
            text = raw.read_text() if raw.exists() else ""
            saved = ROOT / "var" / "redemptions-py-spy.txt"
            saved.parent.mkdir(exist_ok=True)
            saved.write_text(text)
            return summarize_py_spy(text, run) + f"\n(raw stacks kept in {saved})"
    finally:
        stop(gunicorn)


def summarize_py_spy(text: str, run: Run) -> str:
    total = 0
    in_request = 0
    phases: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    waits: collections.Counter = collections.Counter()
    leaf_cpu: collections.Counter = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        count = int(count)
        if "init_process (gunicorn/workers/base.py" not in stack:
            continue  # the arbiter, not a worker
        total += count
        if (
            "handle_request (gunicorn" not in stack
            and "handle (gunicorn/workers/gthread" not in stack
        ):
            continue
        in_request += count
        frames = stack.split(";")
        wait = next(
            (label for label, marks in WAITS for f in frames[-6:] if any(m in f for m in marks)),
            "CPU (Python)",
        )
        phase = next((label for label, mark in PHASES if mark in stack), "other (middleware, DRF)")
        phases[phase][wait] += count
        waits[wait] += count
        if wait == "CPU (Python)":
            leaf_cpu[frames[-1].strip()] += count
    lines = [
        f"py-spy: {total:,} samples of the workers' threads, {in_request:,} inside a request "
        f"({in_request / max(total, 1):.0%}; the rest is waiting for the next request, or "
        f"gthread's idle threads); load {run.rate:,.0f} req/s while sampled",
        "",
        "| phase of the request | share of in-request samples | of which waiting on "
        "PostgreSQL | Redis | CPU |",
        "|---|---|---|---|---|",
    ]
    for label, counter in sorted(phases.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(counter.values())
        lines.append(
            f"| {label} | {n / in_request:.1%} | {counter[WAITS[0][0]] / in_request:.1%} "
            f"| {counter[WAITS[1][0]] / in_request:.1%} "
            f"| {counter['CPU (Python)'] / in_request:.1%} |"
        )
    lines.append(
        "| **all** | 100% | "
        + " | ".join(f"{waits[w] / in_request:.1%}" for w in (WAITS[0][0], WAITS[1][0]))
        + f" | {waits['CPU (Python)'] / in_request:.1%} |"
    )
    lines.append("\nhottest Python frames on CPU (leaf, share of in-request samples):")
    for frame, n in leaf_cpu.most_common(15):
        lines.append(f"  {n / in_request:5.1%}  {frame[:140]}")
    return "\n".join(lines)


# --- other benchmarks ----------------------------------------------------------------------


def versions() -> str:
    from importlib.metadata import version

    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    pgbench = subprocess.run(["pgbench", "--version"], capture_output=True, text=True, check=False)
    names = ("gunicorn", "Django", "djangorestframework", "psycopg", "redis")
    return ", ".join(
        [f"{name} {version(name)}" for name in names]
        + [" ".join((wrk.stdout or wrk.stderr).split()[:2]), pgbench.stdout.strip()]
        + [f"code {commit}"]
    )


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--vouchers", type=int, default=400_000, help="in all (400,000)")
    parser.add_argument(
        "--pgbench-vouchers", type=int, default=200_000, help="of them, for pgbench (200,000)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="per measured run (60)")
    parser.add_argument("--warmup", type=float, default=10, help="seconds before each run (10)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--servers",
        default="sync:4,sync:8,gthread:4x4",
        help="gunicorn configurations, one run each: sync:WORKERS or gthread:WORKERSxTHREADS",
    )
    parser.add_argument("--driver", choices=("wrk", "python"), default="wrk")
    parser.add_argument(
        "--pgbench-variants",
        default="",
        help="also run bench/redemption_txn_NAME.sql for these names: "
        + ", ".join(PGBENCH_VARIANTS),
    )
    parser.add_argument("--py-spy", type=float, default=0, help="seconds of py-spy sampling")
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--show-sql", action="store_true", help="print a redemption's SQL")
    parser.add_argument("--wait-minutes", type=float, default=40, help="for other benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database")
    args = parser.parse_args()
    if args.customers < 1000 or args.customers % COUPON_CAMPAIGNS:
        parser.error(f"customers: at least 1000, a multiple of {COUPON_CAMPAIGNS}")
    if args.vouchers < args.pgbench_vouchers + PROBE_VOUCHERS + 1000:
        parser.error("vouchers: at least pgbench-vouchers + 4,000")
    if not (0 < args.clients <= 64 and 1 <= args.seconds <= 3600):
        parser.error("clients 1..64, seconds 1..3600")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    pgbench_variants = [v.strip() for v in args.pgbench_variants.split(",") if v.strip()]
    for variant in pgbench_variants:
        if variant not in PGBENCH_VARIANTS:
            parser.error(f"--pgbench-variants: {variant!r} is not one of {list(PGBENCH_VARIANTS)}")
    for server in servers:
        if not re.fullmatch(r"sync:\d+|gthread:\d+x\d+", server):
            parser.error(f"--servers: {server!r} is not sync:N or gthread:NxT")
    if args.driver == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), use --driver python")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    # Production settings, as deployed behind an HTTPS proxy that redirects plain HTTP itself
    # (docs/operations.md), with Redis as cache (throttles, code-guessing counters) and broker.
    # The throttles keep their defaults (60,000/min per key, 120/min per customer): every
    # request is for another customer. gunicorn inherits all of it.
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        OFFERWISE_PROFILE="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONWARNINGS="ignore:No directory at",
    )
    for name in ("OFFERWISE_THROTTLE_PER_KEY", "OFFERWISE_THROTTLE_PER_CUSTOMER", "DEBUG"):
        os.environ.pop(name, None)
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))

    facts = segbench.machine_facts(database_url)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    print(f"versions: {versions()}", flush=True)
    print(f"CPU calibration {cpu_calibration():.0f} ms; redis {redis_url}", flush=True)
    reuse = args.reuse and segbench.database_exists(database_url)
    django_ready = False
    try:
        if not reuse:
            wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
            pg_tool("dropdb", database_url, "--if-exists", "--force")
            pg_tool("createdb", database_url)
            started = time.perf_counter()
            manage("migrate", "--no-input")
            print(f"migrate: {time.perf_counter() - started:.1f} s", flush=True)
        import django

        django.setup()
        django_ready = True
        from django.db import connection

        pool = pools(args.vouchers, args.pgbench_vouchers)
        with connection.cursor() as cursor:
            if reuse:
                print("reusing the kept database (generation skipped)")
            else:
                print(
                    f"generating {args.customers:,} customers, {args.vouchers:,} vouchers:",
                    flush=True,
                )
                started = time.perf_counter()
                generate(cursor, args.customers, args.vouchers)
                print(f"  generation total: {time.perf_counter() - started:.1f} s", flush=True)
            http_first = first_unused(cursor, pool.http)
            pgbench_first = first_unused(cursor, pool.pgbench)
            probe_first = first_unused(cursor, pool.probe)
            table_sizes = sizes(cursor)
        ids = bench_campaigns()
        print("\n| table | rows | size with indexes |\n|---|---|---|")
        for name, rows, size in table_sizes:
            print(f"| {name} | {rows:,} | {size} |")
        print(
            f"campaigns: promotions {ids['promotions']}, coupons {ids['coupons']}; unused "
            f"vouchers from {http_first:,} (HTTP, to {pool.http.stop - 1:,}), "
            f"{pgbench_first:,} (pgbench), {probe_first:,} (in-process)"
        )
        key = manage("create_api_key", "redemptions bench").strip().splitlines()[-1]

        if not args.skip_in_process:
            print("\na. in-process (Django test client), one redemption at a time:", flush=True)
            probes = iter(range(probe_first, pool.probe.stop))
            warm_client = in_process_client(key)
            for _ in range(5):
                redeem_in_process(warm_client, next(probes), args.customers)
            captured = statements(key, [next(probes) for _ in range(3)], args.customers)
            print(
                "\n| items in the cart | queries logged (one per round trip) | SQL statements "
                "(a batch of reads counted by its statements) "
                "| of them BEGIN/COMMIT/SAVEPOINT/RELEASE |"
            )
            print("|---|---|---|---|")
            for items, sqls in captured:
                control = sum(1 for s in sqls if s.split(" ", 1)[0] in TRANSACTION_CONTROL)
                print(f"| {items} | {len(sqls)} | {sum(map(batch_size, sqls))} | {control} |")
            if args.show_sql:
                for items, sqls in captured:
                    print(f"\n  {items} item(s):")
                    for i, sql in enumerate(sqls, 1):
                        print(f"    {i:2d}. {' '.join(sql.split())}")
            else:
                items, sqls = captured[-1]
                print(f"\n  {items} item(s), the statements (--show-sql: in full):")
                for i, sql in enumerate(sqls, 1):
                    print(f"    {i:2d}. {short_sql(sql)}")
            parts = cpu_parts(key, [next(probes) for _ in range(300)], args.customers)
            print("\n| part | CPU ms per redemption |\n|---|---|")
            for part, ms in parts.items():
                print(f"| {part} | {ms:.2f} |")
            phases = cpu_phases(key, [next(probes) for _ in range(200)], args.customers)
            print("\n| step of the request | CPU ms per redemption |\n|---|---|")
            for step, ms in phases.items():
                print(f"| {step} | {ms:.2f} |")
            statements_n, raw_ms = raw_write_cpu(key, next(probes), args.customers)
            print(
                f"\nthe {statements_n} write statements of one redemption, sent again as plain "
                f"SQL (rolled back): {raw_ms:.2f} CPU ms in this process, against "
                f"{parts['  of which the writes (service - quote)']:.2f} through the service"
            )
            hold = lock_hold([next(probes) for _ in range(100)], args.customers)
            print(
                f"\nthe promotion's campaign row stays locked {hold['hold']:.2f} ms per redemption "
                f"(median, from its UPDATE to the end of COMMIT, nothing else running; the whole "
                f"service call {hold['service']:.2f} ms): one row that every redemption updates "
                f"caps them at {1000 / hold['hold']:,.0f}/s even on an idle machine"
            )
            print(f"(loadavg {loadavg()})", flush=True)
        connection.close()

        runs: list[Run] = []
        if not args.skip_http:
            print(f"\nb. over HTTP ({args.driver}, {args.clients} clients):", flush=True)
            last = pool.http.stop - 1
            for server in servers:
                wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
                print(f"  gunicorn {server}: warm-up {args.warmup:.0f} s, {args.seconds:.0f} s")
                run = measure_http(
                    args, database_url, key, server, http_first, last, args.customers
                )
                runs.append(run)
                http_first = run.last_n + args.clients + 1
                print(
                    f"    {run.rate:,.0f} req/s, p50 {run.latencies_ms['p50']:.1f} ms, p99 "
                    f"{run.latencies_ms['p99']:.1f} ms, {run.errors} errors",
                    flush=True,
                )
            print(
                "\ngunicorn with the production profile, Redis cache and broker "
                f"({redis_url}); throttles at their defaults; every request a new code for "
                "another customer; 1 to 3 items; 2 automatic promotions"
            )
            print_runs(runs)
            if args.py_spy:
                print(f"\npy-spy over {args.py_spy:.0f} s of load on gunicorn {servers[0]}:")
                print(py_spy(args, key, servers[0], http_first, last, args.customers))
                http_first = None  # the py-spy run used codes past the known first one

        bench = None
        benches: list[PgbenchRun] = []
        if not args.skip_pgbench:
            scripts = [TXN_SCRIPT] + [
                TXN_SCRIPT.with_name(f"redemption_txn_{v}.sql") for v in pgbench_variants
            ]
            for script in scripts:
                print(f"\nc. pgbench, {script.name}, {args.clients} clients:", flush=True)
                wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
                with connection.cursor() as cursor:
                    pgbench_first = first_unused(cursor, pool.pgbench) + args.clients
                counters = "SELECT redemptions_count, discount_given FROM promotions_campaign "
                with connection.cursor() as cursor:
                    cursor.execute(counters + "WHERE id = %s", [ids["promotions"][0]])
                    before = cursor.fetchone()
                benches.append(
                    run_pgbench(
                        database_url,
                        script,
                        ids,
                        pgbench_first,
                        args.clients,
                        args.customers,
                        args.seconds,
                        pool.pgbench,
                    )
                )
                if script.name == "redemption_txn_shared_row.sql":
                    # It counted redemptions that were never written: take them off again, so
                    # that the counters still add up to the redemption lines.
                    with connection.cursor() as cursor:
                        cursor.execute(counters + "WHERE id = %s", [ids["promotions"][0]])
                        after = cursor.fetchone()
                        cursor.execute(
                            "UPDATE promotions_campaign SET redemptions_count = "
                            "redemptions_count - %s, discount_given = discount_given - %s "
                            "WHERE id = %s",
                            [after[0] - before[0], after[1] - before[1], ids["promotions"][0]],
                        )
                connection.close()
            bench = benches[0]
            print(
                "\n| script | transactions | tps | p50 ms | p90 ms | p99 ms | max ms | failed "
                "| CPU ms/txn postgres / pgbench / machine | loadavg before, after |"
            )
            print("|" + "---|" * 10)
            for b in benches:
                lat, cpu = b.latencies_ms, b.cpu_ms
                print(
                    f"| {b.label} | {b.transactions:,} | {b.tps:,.0f} | {lat['p50']:.2f} "
                    f"| {lat['p90']:.2f} | {lat['p99']:.2f} | {lat['max']:.0f} | {b.failed} "
                    f"| {cpu['postgres']:.2f} / {cpu['client']:.2f} / {cpu['machine']:.2f} "
                    f"| {b.loadavg[0]}; {b.loadavg[1]} |"
                )
            for b in benches:
                print(f"  {b.label}: PostgreSQL backends, average number in each state:")
                for label, count in b.activity.items():
                    print(f"    {count:5.2f}  {label}")

        with connection.cursor() as cursor:
            problems = check_counters(cursor)
            spread = day_stat_slices(cursor)
        print(
            "\ncounters (vouchers, campaigns and budgets, customers' usage, day statistics "
            "summed over slices) against the redemption lines: "
            + ("all agree" if not problems else "; ".join(problems))
        )
        print(f"day statistics: {spread}")
        print(f"\nloadavg at end: {loadavg()}; CPU calibration {cpu_calibration():.0f} ms")
        print("\n| figure | measured | target | verdict |\n|---|---|---|---|")
        best = max(runs, key=lambda r: r.rate) if runs else None
        if best is not None:
            print(
                f"| redemptions/s, {args.clients} clients, distinct codes (best: gunicorn "
                f"{best.label}) | {best.rate:,.0f} (p50 {best.latencies_ms['p50']:.1f} ms, "
                f"p99 {best.latencies_ms['p99']:.1f} ms) | >= {TARGET_RPS} "
                f"| {'met' if best.rate >= TARGET_RPS else 'MISSED'} |"
            )
            for r in runs:
                if r is not best:
                    print(
                        f"| the same, gunicorn {r.label} | {r.rate:,.0f} (p50 "
                        f"{r.latencies_ms['p50']:.1f} ms, p99 {r.latencies_ms['p99']:.1f} ms) "
                        f"| >= {TARGET_RPS} | {'met' if r.rate >= TARGET_RPS else 'MISSED'} |"
                    )
        if bench is not None:
            print(
                f"| pgbench, the same transaction by hand, {args.clients} clients "
                f"| {bench.tps:,.0f} tps (p50 {bench.latencies_ms['p50']:.2f} ms, p99 "
                f"{bench.latencies_ms['p99']:.2f} ms) | ceiling: {CEILING_PGBENCH} | - |"
            )
        if best is not None and bench is not None:
            print(
                f"| ratio HTTP / pgbench | {best.rate / bench.tps:.1%} (1 : "
                f"{bench.tps / best.rate:.1f}) | report | - |"
            )
        if best is not None:
            print(f"| (bare DRF view, same SQL, DESIGN §6) | - | {CEILING_BARE_VIEW} | - |")
        failed = bool(problems) or any(r.errors for r in runs) or (bench and bench.failed)
        return 1 if failed else 0
    finally:
        if django_ready:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            pg_tool("dropdb", database_url, "--if-exists", "--force")


if __name__ == "__main__":
    if shutil.which("createdb") is None or shutil.which("pgbench") is None:
        raise SystemExit("the PostgreSQL client tools (createdb, dropdb, pgbench) are needed")
    sys.exit(main())
