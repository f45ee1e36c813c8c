"""Cart validations at scale on PostgreSQL, through gunicorn: latency, throughput, queries.

    .venv/bin/python bench/promotions.py [--customers 1000000] [--vouchers 1000000]
                                         [--requests 3000] [--clients 4] [--workers 4]
                                         [--keep] [--reuse] [--plans] [--profile]
                                         [--py-spy] [--skip-http]

Creates a throwaway PostgreSQL database, migrates it and fills it. Customers (with their
city, consents, paid orders, purchase history and order stats) come from the segments
benchmark's set-based generator (``bench/segments.py``, ``generate``). Then, in the same
style (``INSERT ... SELECT ... FROM generate_series``, values from ``hashint8extended``, so
every run builds the same data): vouchers over 20 coupon campaigns (10 of shared single-use
codes, 10 of personal codes owned by a customer; some used, some expired, a few disabled)
and the customers' usage of the campaigns. The 20 coupon campaigns and 3 automatic
promotions are made by the product's own services (``save_campaign``, ``activate_campaign``),
each with 3 validation rules that mix customer conditions (country, order stats, consent,
metadata, order history) with checkout conditions (order amount, items and categories,
weekday). ``VACUUM ANALYZE``.

Then, through the product's code:

a. in-process (Django's test client, ``CaptureQueriesContext``): the SQL statements of one
   validation for carts of 1 and 10 items, 1 and 2 codes, 3 and 6 rules per campaign, the CPU
   of its parts, and ``EXPLAIN (ANALYZE, BUFFERS)`` of each statement;
b. over HTTP: gunicorn (``config.wsgi``, production profile, W sync workers) on a free port of
   127.0.0.1, ``POST /api/v1/validations`` of 10-item carts with 2 existing usable codes (one
   shared, one the customer's own) for random customers: one client in sequence (latency),
   then C concurrent clients (throughput), each on its own ``http.client`` connection;
   ``--py-spy`` then samples the workers over 1,000 more validations (``pip install py-spy``).

Before generating and before the HTTP runs it waits while another benchmark runs
(``bench/segments.py``, ``bench/api_ingest.py``; ``--wait-minutes``). gunicorn is stopped
and the database dropped at the end, whatever happens, unless ``--keep``; ``--reuse``
measures a database kept by an earlier run (after migrating it). Only 127.0.0.1 is contacted.
"""

import argparse
import cProfile
import datetime as dt
import http.client
import io
import json
import os
import pstats
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from api_ingest import (
    backend_pids,
    child_pids,
    cpu_calibration,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
)
from postgres import PYTHON, ROOT, loadavg, manage, pg_tool, sibling, wait_for_other_benchmarks

segbench = sibling("segments")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/offerwise_promobench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
PATH = "/api/v1/validations"

# The targets.
P50_TARGET_MS = 10.0
P99_TARGET_MS = 30.0
# DESIGN.md section 6, measured on this machine under gunicorn with 4 sync workers.
CEILING = "1,800 req/s, p50 2 ms at 4 clients (a DRF view doing 1 indexed SELECT)"

COUPON_CAMPAIGNS = 20
CART_ITEMS = 10
# Of the vouchers: used up (single use), disabled, in per mille.
USED_PER_MILLE = 100
DISABLED_PER_MILLE = 5
# Customers who already used a shared-code campaign (limit 1 per customer), in per mille.
USAGE_PER_MILLE = 30
OTHER_BENCHMARKS = r"bench/(segments|api_ingest|redemptions|codes)\.py"

EUROPE = ["IE", "GB", "DE", "FR", "ES", "IT"]
COUNTRY_SETS = (
    ["IE", "GB"],
    ["US", "CA"],
    ["DE", "FR", "ES", "IT"],
    ["JP", "AU", "AE", "BR"],
)
CATEGORY_IDS = (
    "women",
    "men",
    "kids",
    "shoes",
    "electronics",
    "phones",
    "audio",
    "computers",
    "home",
    "kitchen",
    "beauty",
    "sports",
)


# --- campaigns -----------------------------------------------------------------------------


def cond(field_name: str, op: str, value) -> dict:
    return {"field": field_name, "op": op, "value": value}


def rule(name: str, tree: dict) -> dict:
    return {"name": name, "rules": tree}


def automatic_promotions() -> list[dict]:
    """The 3 automatic promotions: a loyalty percentage, a category discount for earlier
    buyers of the category, free shipping in Europe."""
    return [
        {
            "name": "Loyalty: 10% off orders from $80",
            "priority": 30,
            "discount": {"type": "percent", "percent": Decimal("10"), "cap": 5000},
            "rules": [
                rule("Order of at least $80", cond("order.amount", "gte", 8000)),
                rule(
                    "Returning customer",
                    {
                        "any": [
                            cond("orders_count", "gte", 2),
                            cond("total_spent", "gte", 20000),
                        ]
                    },
                ),
                rule(
                    "Bought this year, or a big basket",
                    {
                        "any": [
                            cond("last_order_at", "less_than_days_ago", 365),
                            cond("order.amount", "gte", 30000),
                        ]
                    },
                ),
            ],
        },
        {
            "name": "Kids' wear: 15% for returning kids' buyers",
            "priority": 20,
            "discount": {"type": "percent", "percent": Decimal("15"), "categories": ["kids"]},
            "rules": [
                rule("Kids' items in the cart", cond("order.category", "matches", {"id": "kids"})),
                rule(
                    "Bought kids' wear in the last year",
                    cond("orders.category", "matches", {"id": "kids", "within_days": 365}),
                ),
                rule(
                    "Weekend, or regulars on weekdays",
                    {"any": [cond("time.weekday", "in", [6, 7]), cond("orders_count", "gte", 3)]},
                ),
            ],
        },
        {
            "name": "Free shipping in Europe for subscribers",
            "priority": 10,
            "discount": {"type": "free_shipping"},
            "rules": [
                rule("Lives in Europe", cond("country", "in", EUROPE)),
                rule("Subscribed to e-mail", cond("consent.email", "eq", True)),
                rule(
                    "Two items and $30",
                    {
                        "all": [
                            cond("order.items_count", "gte", 2),
                            cond("order.amount", "gte", 3000),
                        ]
                    },
                ),
            ],
        },
    ]


def coupon_campaign(k: int) -> dict:
    """Coupon campaign ``k`` (0..19): 0..9 shared single-use codes ($5 to $20 off, once per
    customer), 10..19 personal codes (5% to 20% off, capped). Rules rotate over kinds."""
    shared = k < COUPON_CAMPAIGNS // 2
    step = k % 4
    if shared:
        dollars = 5 + 5 * step
        name = f"Coupons {k + 1:02d}: ${dollars} off"
        discount = {"type": "amount", "amount": dollars * 100}
    else:
        percent = 5 + 5 * step
        name = f"Personal codes {k + 1:02d}: {percent}% off"
        discount = {"type": "percent", "percent": Decimal(percent), "cap": 5000}
    minimum = 2500 + 1000 * step
    customer = (
        rule(
            f"Lives in {', '.join(COUNTRY_SETS[k // 4 % 4])}",
            cond("country", "in", COUNTRY_SETS[k // 4 % 4]),
        ),
        rule(
            "Has ordered, or subscribed",
            {"any": [cond("orders_count", "gte", 1), cond("consent.email", "eq", True)]},
        ),
        rule(
            f"Bought {CATEGORY_IDS[k % 12]} this year, or spent $100",
            {
                "any": [
                    cond(
                        "orders.category",
                        "matches",
                        {"id": CATEGORY_IDS[k % 12], "within_days": 365},
                    ),
                    cond("total_spent", "gte", 10000),
                ]
            },
        ),
        rule("Ordered in the last year", cond("last_order_at", "less_than_days_ago", 365)),
    )[step]
    mixed = (
        rule(
            "Weekdays, or gold and platinum members",
            {
                "any": [
                    cond("time.weekday", "in", [1, 2, 3, 4, 5]),
                    cond("metadata.tier", "in", ["gold", "platinum"]),
                ]
            },
        ),
        rule(
            f"{CATEGORY_IDS[(k + 3) % 12]} in the cart, or spent $200",
            {
                "any": [
                    cond("order.category", "matches", {"id": CATEGORY_IDS[(k + 3) % 12]}),
                    cond("total_spent", "gte", 20000),
                ]
            },
        ),
        rule(
            "At most 50 items, not shipped to BR or AE",
            {
                "all": [
                    cond("order.items_count", "lte", 50),
                    {"not": cond("country", "in", ["BR", "AE"])},
                ]
            },
        ),
    )[k % 3]
    return {
        "name": name,
        "pool": "shared" if shared else "personal",
        "max_per_customer": 1 if shared else None,
        "discount": discount,
        "rules": [
            rule(f"Order of at least ${minimum // 100}", cond("order.amount", "gte", minimum)),
            customer,
            mixed,
        ],
    }


def create_campaigns(now: dt.datetime) -> dict[str, list[int]]:
    """The 23 campaigns as drafts, through the product's service (which validates every rule);
    returns their ids by pool: promotion, shared, personal."""
    from promotions.models import Campaign
    from promotions.services import save_campaign

    pools: dict[str, list[int]] = {"promotion": [], "shared": [], "personal": []}
    window = {"starts_at": now - dt.timedelta(days=30), "ends_at": now + dt.timedelta(days=365)}
    for spec in automatic_promotions():
        campaign = save_campaign(
            values={
                "name": spec["name"],
                "kind": Campaign.Kind.PROMOTION,
                "priority": spec["priority"],
                "metadata": {"bench_pool": "promotion"},
                **window,
            },
            discount=spec["discount"],
            rules=spec["rules"],
        )
        pools["promotion"].append(campaign.pk)
    for k in range(COUPON_CAMPAIGNS):
        spec = coupon_campaign(k)
        campaign = save_campaign(
            values={
                "name": spec["name"],
                "kind": Campaign.Kind.COUPONS,
                "timezone": "Europe/Dublin",
                "max_per_customer": spec["max_per_customer"],
                "metadata": {"bench_pool": spec["pool"]},
                **window,
            },
            discount=spec["discount"],
            rules=spec["rules"],
        )
        pools[spec["pool"]].append(campaign.pk)
    return pools


def campaign_pools() -> dict[str, list[int]]:
    from promotions.models import Campaign

    pools: dict[str, list[int]] = {"promotion": [], "shared": [], "personal": []}
    for pk, metadata in Campaign.objects.order_by("pk").values_list("pk", "metadata"):
        pool = metadata.get("bench_pool")
        if pool in pools:
            pools[pool].append(pk)
    return pools


# --- data set ------------------------------------------------------------------------------


def generate(cursor, customers: int, orders: int, events: int, vouchers: int) -> list:
    """Customers and their history (the segments benchmark's generator), then campaigns,
    vouchers and usage; returns (step, rows, seconds) per step."""
    from django.utils import timezone

    from promotions.models import Campaign
    from promotions.services import activate_campaign

    timings = segbench.generate(cursor, customers, orders, events)
    segbench.check_data(cursor)
    h, u = segbench.h, segbench.u
    n = customers

    def step(label: str, sql: str, params=None) -> None:
        started = time.perf_counter()
        rows, _ = segbench.run_sql(cursor, label, sql, params)
        seconds = time.perf_counter() - started
        timings.append((label, rows, seconds))
        print(f"  {label}: {max(rows, 0):,} rows in {seconds:.1f} s", flush=True)

    started = time.perf_counter()
    pools = create_campaigns(timezone.now())
    timings.append(("campaigns (save_campaign)", sum(map(len, pools.values())), 0.0))
    print(f"  23 campaigns with 3 rules each in {time.perf_counter() - started:.1f} s")

    coupons = pools["shared"] + pools["personal"]
    campaigns = segbench.sql_array(coupons, "bigint")
    personal = len(pools["shared"])  # campaigns from this 0-based index on are personal
    prefixes = segbench.sql_array(
        [f"{'S' if i < personal else 'P'}{i + 1:02d}" for i in range(len(coupons))], "text"
    )
    tables = ["promotions_voucher", "promotions_customerusage"]
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [tables],
    )
    secondary = cursor.fetchall()
    for name, _ in secondary:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute("SET session_replication_role = replica")
    # Codes: the campaign's prefix and 8 hex digits of v times an odd constant modulo 2^32 (a
    # bijection, so unique) - they look random, as generated codes do. Personal codes belong
    # to a customer and expire 100 days after they were issued (over the last 120 days).
    step(
        "vouchers",
        f"""
        INSERT INTO promotions_voucher (id, code, campaign_id, customer_id, enabled, starts_at,
            expires_at, max_redemptions, redemptions_count, gift_amount, gift_balance,
            metadata, created_at, updated_at)
        SELECT s.v, {prefixes}[s.k] || '-' || upper(lpad(to_hex((s.v * 2654435761) % 4294967296),
                8, '0')),
            {campaigns}[s.k],
            CASE WHEN s.k > {personal} THEN 1 + {h("s.v", 201)} % {n} END,
            {h("s.v", 202)} % 1000 >= {DISABLED_PER_MILLE}, NULL,
            CASE WHEN s.k > {personal} THEN s.created + interval '100 days' END,
            1, ({h("s.v", 203)} % 1000 < {USED_PER_MILLE})::int, NULL, NULL, '{{}}',
            s.created, s.created
        FROM (
            SELECT v, 1 + ((v - 1) * {len(coupons)}) / {vouchers} AS k,
                now() - interval '120 days' * {u("v", 204)} AS created
            FROM generate_series(1, {vouchers}) v
        ) s
        """,
    )
    shared = segbench.sql_array(pools["shared"], "bigint")
    step(
        "customer usage (shared campaigns, once per customer)",
        f"""
        INSERT INTO promotions_customerusage (campaign_id, customer_id, redemptions, day,
            day_redemptions)
        SELECT {shared}[k], c, 1, current_date - ({h("c * 32 + k", 211)} % 100)::int, 1
        FROM generate_series(1, {n}) c, generate_series(1, {len(pools["shared"])}) k
        WHERE {h("c * 32 + k", 210)} % 1000 < {USAGE_PER_MILLE}
        """,
    )
    cursor.execute("SET session_replication_role = origin")
    for table, column in (("promotions_voucher", "id"), ("promotions_customerusage", "id")):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"(SELECT max({column}) FROM {table}))"
        )
    started = time.perf_counter()
    for name, definition in secondary:
        segbench.run_sql(cursor, f"index {name}", definition)
    seconds = time.perf_counter() - started
    timings.append((f"{len(secondary)} promotions indexes rebuilt", len(secondary), seconds))
    print(f"  {len(secondary)} promotions indexes rebuilt in {seconds:.1f} s", flush=True)
    # The counters the redemption service would have kept for the used codes.
    step(
        "campaign counters",
        """
        UPDATE promotions_campaign c SET redemptions_count = a.used
        FROM (SELECT campaign_id, sum(redemptions_count) AS used FROM promotions_voucher
              GROUP BY campaign_id) a
        WHERE c.id = a.campaign_id
        """,
    )
    checks = {
        "vouchers without campaign": "SELECT count(*) FROM promotions_voucher v WHERE NOT EXISTS "
        "(SELECT 1 FROM promotions_campaign c WHERE c.id = v.campaign_id)",
        "vouchers without owner": "SELECT count(*) FROM promotions_voucher v WHERE "
        "v.customer_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM customers_customer c WHERE c.id = v.customer_id)",
        "usage without customer": "SELECT count(*) FROM promotions_customerusage g WHERE NOT "
        "EXISTS (SELECT 1 FROM customers_customer c WHERE c.id = g.customer_id)",
    }
    for label, sql in checks.items():
        bad = segbench.run_sql(cursor, label, sql)[1][0][0]
        if bad:
            raise RuntimeError(f"data check failed: {bad} {label}")
    for campaign in Campaign.objects.filter(pk__in=[pk for ids in pools.values() for pk in ids]):
        activate_campaign(campaign=campaign)
    started = time.perf_counter()
    for table in ("promotions_campaign", "promotions_validationrule", *tables):
        segbench.run_sql(cursor, f"vacuum {table}", f"VACUUM (ANALYZE) {table}")
    timings.append(("VACUUM ANALYZE (promotions)", 0, time.perf_counter() - started))
    print("  data checks (vouchers, usage), campaigns activated, VACUUM ANALYZE: ok", flush=True)
    return timings


def sizes(cursor) -> list[tuple[str, int, str]]:
    cursor.execute(
        "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) "
        "FROM pg_class c WHERE c.relkind = 'r' AND (c.relname LIKE 'promotions_%' "
        "OR c.relname LIKE 'customers_%') AND pg_total_relation_size(c.oid) > 1000000 "
        "ORDER BY pg_total_relation_size(c.oid) DESC"
    )
    return cursor.fetchall()


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    customer: str
    codes: tuple[str, ...]


def picks(count: int) -> list[Pick]:
    """Random customers, each with one of their own usable personal codes and a usable shared
    code (enabled, not used up, not expired), in either order."""
    from django.db import connection

    pools = campaign_pools()
    usable = (
        "v.enabled AND v.redemptions_count < coalesce(v.max_redemptions, 1) "
        "AND (v.expires_at IS NULL OR v.expires_at > now())"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.source_id, v.code FROM promotions_voucher v "
            f"JOIN customers_customer c ON c.id = v.customer_id "
            f"WHERE v.campaign_id = ANY(%s) AND {usable} "
            f"ORDER BY hashint8extended(v.id, 7) LIMIT %s",
            [pools["personal"], count],
        )
        owned = cursor.fetchall()
        cursor.execute(
            f"SELECT v.code FROM promotions_voucher v WHERE v.campaign_id = ANY(%s) "
            f"AND {usable} ORDER BY hashint8extended(v.id, 8) LIMIT %s",
            [pools["shared"], count],
        )
        shared = [row[0] for row in cursor.fetchall()]
    rng = random.Random(3)
    out = []
    for (customer, own), other in zip(owned, shared, strict=False):
        codes = (own, other) if rng.random() < 0.5 else (other, own)
        out.append(Pick(customer, codes))
    if len(out) < count:
        raise RuntimeError(f"only {len(out)} usable code pairs found")
    return out


def carts(count: int, items: int, seed: int = 9) -> list[list[dict]]:
    """Carts of ``items`` different products of the generated catalogue, 1 unit each (2 for
    one line in five), at the catalogue price."""
    categories, products = segbench.catalogue()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        lines = []
        for source_id, _name, category, price in rng.sample(products, items):
            lines.append(
                {
                    "product_id": source_id,
                    "category": categories[category - 1][0],
                    "quantity": 2 if rng.random() < 0.2 else 1,
                    "unit_price": price,
                }
            )
        out.append(lines)
    return out


def body(n: int, pick: Pick, cart: list[dict], *, items: int = CART_ITEMS, codes: int = 2) -> dict:
    return {
        "customer": {"source_id": pick.customer},
        "order": {
            "source_id": f"bench-order-{n}",
            "currency": "USD",
            "shipping_amount": 495,
            "items": cart[:items],
        },
        "codes": list(pick.codes[:codes]),
        "apply_promotions": True,
    }


# --- HTTP load -----------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    loadavg: tuple[str, str] = ("", "")

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        # Nearest rank: the smallest latency with at least p% of the samples at or below it.
        rank = max(1, -(-len(ordered) * p // 100))
        return ordered[int(rank) - 1] * 1000

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def tally(outcomes: Counter, answer: dict) -> None:
    for redeemable in answer["redeemables"]:
        error = redeemable.get("error")
        reason = f" ({error['code']})" if error else ""
        outcomes[f"{redeemable['type']}: {redeemable['status']}{reason}"] += 1


def drive(
    port: int,
    key: str,
    payloads: list[bytes],
    numbers: range,
    clients: int,
    max_seconds: float,
    run: Run | None,
) -> None:
    """POST the payloads numbered ``numbers`` (modulo their count) from ``clients`` threads,
    each on its own connection (gunicorn's sync workers close it after each response, and
    http.client opens the next one); stop early at ``max_seconds``."""
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    deadline = time.monotonic() + max_seconds
    lock = threading.Lock()
    todo = iter(numbers)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, errors, samples, outcomes = [], 0, [], Counter()
        try:
            while time.monotonic() < deadline:
                with lock:
                    n = next(todo, None)
                if n is None:
                    break
                payload = payloads[n % len(payloads)]
                started = time.perf_counter()
                try:
                    conn.request("POST", PATH, body=payload, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status, data = 0, repr(exc).encode()
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{status} {data[:300]!r}")
                elif run is not None:
                    tally(outcomes, json.loads(data))
        finally:
            conn.close()
            if run is not None:
                with lock:
                    run.latencies.extend(latencies)
                    run.errors += errors
                    run.error_samples.extend(samples[: 5 - len(run.error_samples)])
                    run.outcomes.update(outcomes)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 60)
    if run is not None:
        run.seconds = time.perf_counter() - started


def measure(
    port: int,
    key: str,
    gunicorn_pid: int,
    payloads: list[bytes],
    label: str,
    numbers: range,
    clients: int,
    max_seconds: float,
) -> Run:
    run = Run(label, clients)
    workers = child_pids(gunicorn_pid)
    backends = backend_pids()
    before = (cpu_seconds(workers), cpu_seconds(backends), time.process_time())
    busy_before = machine_busy_seconds()[0]
    run.loadavg = (loadavg(), "")
    drive(port, key, payloads, numbers, clients, max_seconds, run)
    after = (cpu_seconds(workers), cpu_seconds(backends), time.process_time())
    busy_after = machine_busy_seconds()[0]
    run.loadavg = (run.loadavg[0], loadavg())
    per_request = 1000 / max(len(run.latencies), 1)
    run.cpu_ms = {
        "gunicorn": (after[0] - before[0]) * per_request,
        "postgres": (after[1] - before[1]) * per_request,
        "client": (after[2] - before[2]) * per_request,
        "machine": (busy_after - busy_before) * per_request,
    }
    return run


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "config.wsgi",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        # Connections that outlive the runs: the PostgreSQL CPU per request is read from the
        # backends' /proc counters, which a reconnect would reset.
        env={**os.environ, "DATABASE_CONN_MAX_AGE": "3600"},
    )


def wait_until_up(port: int, key: str, payload: bytes, gunicorn: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {gunicorn.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "POST",
                PATH,
                body=payload,
                headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            data = response.read()
            conn.close()
            if response.status == 200:
                return
            raise RuntimeError(f"gunicorn answered {response.status}: {data[:300]!r}")
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 120 s")


# --- in-process: statements, CPU, plans ----------------------------------------------------


def in_process_client(key: str):
    from django.test import Client

    return Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Api-Key {key}"})


def post(client, payload: dict):
    response = client.post(PATH, json.dumps(payload), content_type="application/json")
    if response.status_code != 200:
        raise RuntimeError(
            f"validation answered {response.status_code}: {response.content[:300]!r}"
        )
    return response


def capture(key: str, payload: dict) -> tuple[list[dict], dict]:
    """The statements of one validation (after one warm-up call), and its answer."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = in_process_client(key)
    post(client, payload)
    with CaptureQueriesContext(connection) as captured:
        response = post(client, payload)
    return captured.captured_queries, response.json()


def extra_rules():
    """Three more rules per campaign (copies of the first three), for the count with 6 rules;
    the caller rolls them back."""
    from promotions.models import ValidationRule

    copies = [
        ValidationRule(
            campaign_id=r.campaign_id,
            name=f"{r.name} (again)",
            rules=r.rules,
            failure=r.failure,
            message=r.message,
            position=r.position + 3,
        )
        for r in ValidationRule.objects.all()
    ]
    ValidationRule.objects.bulk_create(copies)


class _Rollback(Exception):
    pass


def count_statements(key: str, pick: Pick, cart: list[dict]) -> list[tuple[str, int, dict]]:
    """(variant, statements, answer) for carts of 1 and 10 items with 1 and 2 codes, 3 rules
    per campaign, and 10 items, 2 codes with 6 rules per campaign."""
    from django.db import transaction

    rows = []
    for items in (1, CART_ITEMS):
        for codes in (1, 2):
            queries, answer = capture(key, body(0, pick, cart, items=items, codes=codes))
            rows.append((f"{items} item(s), {codes} code(s), 3 rules each", queries, answer))
    try:
        with transaction.atomic():
            extra_rules()
            queries, answer = capture(key, body(0, pick, cart))
            rows.append((f"{CART_ITEMS} items, 2 codes, 6 rules each", queries, answer))
            raise _Rollback
    except _Rollback:
        pass
    return rows


def sql_checks(queries: list[dict]) -> int:
    """Columns of the customer-conditions SELECT (``SELECT EXISTS(...), EXISTS(...)``)."""
    return max(
        (1 + q["sql"].count(", EXISTS(") for q in queries if q["sql"].startswith("SELECT EXISTS(")),
        default=0,
    )


def cpu_split(key: str, bodies: list[dict], repeat: int) -> dict[str, float]:
    """CPU ms per validation in-process, whole and by part, over ``repeat`` different bodies."""
    from customers.models import ApiKey
    from promotions.api.checkout_serializers import CheckoutInSerializer
    from promotions.api.checkout_views import checkout_from, render_quote
    from promotions.checkout import quote_checkout

    client = in_process_client(key)

    def cpu(fn: Callable[[int], object]) -> float:
        fn(0)
        started = time.process_time()
        for i in range(repeat):
            fn(i)
        return (time.process_time() - started) / repeat * 1000

    def parse(i: int):
        body = bodies[i % len(bodies)]
        try:
            from promotions.api.checkout_input import plain_checkout
        except ImportError:  # before the plain reading existed
            plain_checkout = None
        data = plain_checkout(body) if plain_checkout else None
        if data is None:
            serializer = CheckoutInSerializer(data=body)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        return checkout_from(data, sandbox=False)

    checkouts = [parse(i) for i in range(len(bodies))]
    quotes = [quote_checkout(c) for c in checkouts]
    parts = {
        "whole request (test client: middleware, DRF, JSON)": cpu(
            lambda i: post(client, bodies[i % len(bodies)])
        ),
        "API key lookup (get_from_key, uncached)": cpu(lambda i: ApiKey.objects.get_from_key(key)),
        "parse body (plain reading or CheckoutInSerializer, + checkout_from)": cpu(parse),
        "engine (quote_checkout)": cpu(lambda i: quote_checkout(checkouts[i % len(checkouts)])),
        "answer (render_quote)": cpu(lambda i: render_quote(quotes[i % len(quotes)])),
    }
    guards = rate_limit_guards(key, bodies)
    if guards is not None:
        parts["rate limits + code-guessing guard (cache: Redis)"] = cpu(guards)
    return parts


def rate_limit_guards(key: str, bodies: list[dict]) -> Callable[[int], object] | None:
    """One validation's throttle checks and code-guessing guard, as the view runs them (None
    when the code has neither)."""
    try:
        from promotions import abuse
        from promotions.api.checkout_views import ValidationView
    except ImportError:
        return None
    from types import SimpleNamespace

    from customers.models import ApiKey

    throttles = getattr(ValidationView, "throttle_classes", ())
    user = SimpleNamespace(api_key=ApiKey.objects.get_from_key(key))

    # The guard moved into the throttle (one round trip) when CheckoutThrottle came.
    separate_guard = not any(t.__name__ == "CheckoutThrottle" for t in throttles)

    def run(i: int) -> None:
        data = bodies[i % len(bodies)]
        request = SimpleNamespace(user=user, data=data, META={"REMOTE_ADDR": "127.0.0.1"})
        for throttle in throttles:
            throttle().allow_request(request, None)
        if separate_guard:
            abuse.check_not_blocked(abuse.subjects(data["customer"]["source_id"], "127.0.0.1"))

    return run


def throttle_history(key: str) -> str:
    """Entries and pickled size of the per-API-key throttle history after the runs: DRF's
    SimpleRateThrottle reads and writes the whole list on every request."""
    import pickle

    from django.core.cache import cache

    from customers.models import ApiKey

    prefix = ApiKey.objects.get_from_key(key).prefix
    history = cache.get(f"throttle_checkout_key_{prefix}")
    if history is None:
        return "no per-key throttle history in the cache"
    return (
        f"per-key throttle history: {len(history):,} timestamps, "
        f"{len(pickle.dumps(history)):,} bytes pickled, read and written on every request"
    )


def engine_split(bodies: list[dict], repeat: int) -> tuple[float, dict[str, float]]:
    """CPU ms of ``quote_checkout`` per validation, and of its steps (each selector, the
    customer checks, rule substitution, discounts), timed by wrapping them for the run."""
    import promotions.checkout as engine
    from promotions import selectors
    from promotions.api.checkout_serializers import CheckoutInSerializer
    from promotions.api.checkout_views import checkout_from

    steps = [
        (selectors, "checkout_rows", "customer, usage, vouchers, promotions (1 round trip)"),
        (engine, "_known_customer", "customer (by source_id)"),
        (selectors, "vouchers_by_codes", "vouchers (with campaign, discount)"),
        (selectors, "automatic_promotions", "automatic promotions (with discount)"),
        (selectors, "campaign_settings", "rules, windows, segments (3 queries)"),
        (selectors, "customer_usage", "customer usage"),
        (engine, "_select_checks", "customer conditions: build, compile and run the SELECT"),
        (engine, "check_customer", "customer conditions: one SELECT EXISTS per tree"),
        (engine, "compile_rules", "  of which compiling the rules to Q (compile_rules)"),
        (engine, "compile_many", "  of which compiling the rules to Q (compile_many)"),
        (engine, "substitute", "checkout conditions (substitute, Python)"),
        (engine, "_apply", "discount arithmetic"),
    ]
    # The engine's helpers change as it grows: time those this version has.
    steps = [step for step in steps if hasattr(step[0], step[1])]
    spent = dict.fromkeys((label for _, _, label in steps), 0.0)
    originals = [(module, name, getattr(module, name)) for module, name, _ in steps]

    def timed_step(fn, label):
        def run(*args, **kwargs):
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - started

        return run

    checkouts = []
    for b in bodies:
        serializer = CheckoutInSerializer(data=b)
        serializer.is_valid(raise_exception=True)
        checkouts.append(checkout_from(serializer.validated_data, sandbox=False))
    engine.quote_checkout(checkouts[0])
    try:
        for (module, name, label), (_, _, fn) in zip(steps, originals, strict=True):
            setattr(module, name, timed_step(fn, label))
        started = time.process_time()
        for i in range(repeat):
            engine.quote_checkout(checkouts[i % len(checkouts)])
        total = (time.process_time() - started) / repeat * 1000
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)
    return total, {label: seconds / repeat * 1000 for label, seconds in spent.items()}


def profile(key: str, bodies: list[dict], count: int) -> str:
    client = in_process_client(key)
    post(client, bodies[0])
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for i in range(count):
        post(client, bodies[i % len(bodies)])
    profiler.disable()
    elapsed = time.process_time() - started
    out = io.StringIO()
    out.write(f"{count} in-process validations, {elapsed / count * 1000:.2f} CPU ms each\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue()


def explain_all(queries: list[dict], full: bool) -> None:
    """Each SELECT of a validation again under EXPLAIN (ANALYZE, BUFFERS): its time in
    PostgreSQL next to the round trip Django measured; the slowest one in full."""
    print("\n  | # | statement | round trip ms (Django) | execution ms (EXPLAIN) | plan root |")
    print("  |---|---|---|---|---|")
    slowest = None
    for i, query in enumerate(queries, 1):
        sql = query["sql"]
        head = " ".join(sql.split())[:90]
        if not sql.lstrip().upper().startswith("SELECT"):
            print(f"  | {i} | `{head}` | {float(query['time']) * 1000:.2f} | - | - |")
            continue
        summary = segbench.explain(sql, None)
        print(
            f"  | {i} | `{head}` | {float(query['time']) * 1000:.2f} | {summary['ms']:.3f} "
            f"| {summary['root']} |"
        )
        if slowest is None or summary["ms"] > slowest[1]["ms"]:
            slowest = (i, summary)
    if slowest:
        segbench.print_explain(f"statement {slowest[0]} (the slowest)", slowest[1], full)


# --- report --------------------------------------------------------------------------------


# Where a sampled gunicorn worker was, by the innermost frame that matches (py-spy frames
# read "function (path/file.py:line)"). Waiting comes first: a frame in psycopg's wait or
# send is a round trip to PostgreSQL, whatever called it.
STACK_CLASSES = (
    (
        "PostgreSQL round trips (psycopg waiting, sending)",
        ("Connection.wait (psycopg/", "_execute_send (psycopg/", "(psycopg/waiting.py"),
    ),
    ("Redis round trips and client (throttles, guard)", ("(redis/",)),
    ("HTTP socket (gunicorn reading, writing)", ("(gunicorn/http/",)),
    ("psycopg: binding parameters, reading rows", ("(psycopg/",)),
    (
        "ORM: building and compiling SQL",
        (
            "(django/db/models/sql/",
            "(django/db/models/expressions.py",
            "(django/db/models/lookups.py",
            "(django/db/models/query_utils.py",
            "(django/db/models/fields/",
            "(django/utils/deconstruct.py",
        ),
    ),
    ("ORM: querysets, rows to model instances", ("(django/db/models/",)),
    ("rule compiler (segments)", ("(segments/",)),
    ("checkout engine (promotions, Python)", ("(promotions/",)),
    ("DRF serializers and fields", ("(rest_framework/serializers.py", "(rest_framework/fields.py")),
    ("JSON", ("(json/",)),
)


def classify(stack: str) -> str:
    """The class of one collapsed stack (outermost frame first, ';'-separated)."""
    if "handle_request" not in stack:
        return "worker idle (waiting for a request)"
    frames = stack.split(";")
    if any("is_usable" in frame for frame in frames):
        # CONN_HEALTH_CHECKS: a SELECT 1 before the first query of every request.
        return "connection health check (SELECT 1 per request)"
    for frame in reversed(frames):
        for label, marks in STACK_CLASSES:
            if any(mark in frame for mark in marks):
                return label
    return "other request work (middleware, DRF views, Django, gunicorn)"


def py_spy_run(
    port: int, key: str, gunicorn_pid: int, payloads: list[bytes], requests: int, path: Path
) -> str:
    """A sequential run recorded by py-spy (all workers, idle included); the share of the
    workers' samples by class. Not one of the measured runs: sampling costs CPU."""
    spy = Path(PYTHON).parent / "py-spy"
    if not spy.exists():
        return f"py-spy not installed ({spy}); .venv/bin/pip install py-spy"
    command = [str(spy), "record", "--pid", str(gunicorn_pid), "--subprocesses", "--idle"]
    command += ["--rate", "200", "--format", "raw", "--output", str(path), "--nonblocking"]
    recorder = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    offset = 3 * len(payloads) // 4
    run = Run("py-spy", 1)
    drive(port, key, payloads, range(offset, offset + requests), 1, 300, run)
    recorder.send_signal(signal.SIGINT)
    try:
        _, err = recorder.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        _, err = recorder.communicate()
    if not path.exists():
        return f"py-spy wrote nothing: {err.strip()[-300:]}"
    counts: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit() and "gunicorn: master" not in stack:
            counts[classify(stack)] += int(n)
    busy = sum(n for label, n in counts.items() if not label.startswith("worker idle"))
    lines = [
        f"py-spy, {len(run.latencies)} sequential validations (p50 {run.percentile(50):.1f} ms "
        f"under sampling), {busy:,} samples inside requests; raw stacks in {path}:",
        "  | where a worker was, inside a request | share |",
        "  |---|---|",
    ]
    for label, n in counts.most_common():
        if not label.startswith("worker idle"):
            lines.append(f"  | {label} | {n / max(busy, 1):.0%} |")
    return "\n".join(lines)


def print_runs(runs: list[Run]) -> None:
    print(
        "\n| run | requests | clients | req/s | p50 ms | p90 ms | p99 ms | max ms | errors "
        "| CPU ms/req gunicorn / postgres / client / machine | loadavg start -> end |"
    )
    print("|" + "---|" * 11)
    for r in runs:
        cpu = r.cpu_ms
        print(
            f"| {r.label} | {len(r.latencies)} | {r.clients} | {r.rate:,.0f} "
            f"| {r.percentile(50):.1f} | {r.percentile(90):.1f} | {r.percentile(99):.1f} "
            f"| {max(r.latencies) * 1000:.1f} | {r.errors} "
            f"| {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / {cpu['client']:.2f} "
            f"/ {cpu['machine']:.2f} | {r.loadavg[0]} -> {r.loadavg[1]} |"
        )
    for r in runs:
        for sample in r.error_samples:
            print(f"  error ({r.label}): {sample}")


def print_outcomes(runs: list[Run]) -> None:
    total = Counter()
    for r in runs:
        total.update(r.outcomes)
    requests = sum(len(r.latencies) - r.errors for r in runs)
    print(f"\nWhat the validations answered ({requests} answers; per answer):")
    for outcome, count in sorted(total.items()):
        print(f"  {outcome}: {count:,} ({count / max(requests, 1):.2f})")


def versions() -> str:
    from importlib.metadata import version

    names = ("gunicorn", "Django", "djangorestframework")
    found = ", ".join(f"{name} {version(name)}" for name in names)
    git = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %cI"],
        capture_output=True,
        text=True,
        check=False,
    )
    if git.returncode:
        return f"{found}; code in {ROOT} (not a git checkout)"
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    return f"{found}; code at commit {git.stdout.strip()}, {len(changed)} files changed since"


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--vouchers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, help="paid and other orders (2 per customer)")
    parser.add_argument("--events", type=int, help="events (1 per 20 customers; none are read)")
    parser.add_argument("--requests", type=int, default=3000, help="per run (3000)")
    parser.add_argument("--clients", type=int, default=4, help="clients of the throughput run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--max-seconds", type=float, default=300, help="time limit per run")
    parser.add_argument("--wait-minutes", type=float, default=40, help="for other benchmarks")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database")
    parser.add_argument("--plans", action="store_true", help="print the full EXPLAIN text")
    parser.add_argument("--show-sql", action="store_true", help="print the counted statements")
    parser.add_argument("--profile", action="store_true", help="cProfile 300 validations")
    parser.add_argument("--skip-http", action="store_true", help="only the in-process part")
    parser.add_argument(
        "--py-spy", action="store_true", help="then 1000 validations sampled by py-spy"
    )
    args = parser.parse_args()
    orders = args.orders or 2 * args.customers
    events = args.events or max(args.customers // 20, 1)
    if not (1000 <= args.customers <= 10_000_000 and 1000 <= args.vouchers <= 20_000_000):
        parser.error("customers 1000..10,000,000, vouchers 1000..20,000,000")
    if not (100 <= args.requests <= 100_000 and 0 < args.clients <= 64 and 0 < args.workers <= 16):
        parser.error("requests 100..100000, clients 1..64, workers 1..16")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    # Production settings, as deployed behind an HTTPS proxy that redirects plain HTTP itself
    # (docs/operations.md); gunicorn inherits them.
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        OFFERWISE_PROFILE="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
        # No collectstatic here: the API serves no static files.
        PYTHONWARNINGS="ignore:No directory at",
    )
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))

    facts = segbench.machine_facts(database_url)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    print(f"versions: {versions()}; CPU calibration {cpu_calibration():.0f} ms", flush=True)
    reuse = args.reuse and segbench.database_exists(database_url)
    gunicorn = None
    django_ready = False
    try:
        if not reuse:
            wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
            pg_tool("dropdb", database_url, "--if-exists", "--force")
            pg_tool("createdb", database_url)
        # A kept database is brought up to the code's migrations too.
        started = time.perf_counter()
        manage("migrate", "--no-input", timeout=1800)
        print(f"migrate: {time.perf_counter() - started:.1f} s", flush=True)
        import django

        django.setup()
        django_ready = True
        from django.db import connection

        with connection.cursor() as cursor:
            if reuse:
                print("reusing the kept database (generation skipped)")
            else:
                print(
                    f"generating {args.customers:,} customers, {orders:,} orders, "
                    f"{events:,} events, {args.vouchers:,} vouchers:",
                    flush=True,
                )
                started = time.perf_counter()
                generate(cursor, args.customers, orders, events, args.vouchers)
                print(f"  generation total: {time.perf_counter() - started:.0f} s", flush=True)
            table_sizes = sizes(cursor)
        print("\n| table | rows | size with indexes |\n|---|---|---|")
        for name, rows, size in table_sizes:
            print(f"| {name} | {rows:,} | {size} |")

        key = manage("create_api_key", "promotions bench").strip().splitlines()[-1]
        pool = picks(max(args.requests, 2000) * 2)
        cart_pool = carts(len(pool), CART_ITEMS)
        bodies = [body(n, pick, cart_pool[n]) for n, pick in enumerate(pool)]

        print("\na. in-process (Django test client), one validation:", flush=True)
        counts = count_statements(key, pool[0], cart_pool[0])
        print("\n| cart | SQL statements | customer conditions in the last SELECT | answer |")
        print("|---|---|---|---|")
        for label, queries, answer in counts:
            statuses = ", ".join(
                f"{r['type']} {r['status']}" + (f" ({r['error']['code']})" if "error" in r else "")
                for r in answer["redeemables"]
            )
            print(f"| {label} | {len(queries)} | {sql_checks(queries)} | {statuses} |")
            if args.show_sql:
                for q in queries:
                    print(f"      {q['time']} s  {' '.join(q['sql'].split())[:200]}")
        statement_counts = {len(queries) for _, queries, _ in counts}
        explain_all(counts[3][1], args.plans)
        split = cpu_split(key, bodies[:200], 200)
        print("\n  | part | CPU ms per validation |\n  |---|---|")
        for part, ms in split.items():
            print(f"  | {part} | {ms:.2f} |")
        total, steps = engine_split(bodies[:200], 200)
        print(f"\n  | quote_checkout, step | CPU ms per validation (total {total:.2f}) |")
        print("  |---|---|")
        for step, ms in steps.items():
            print(f"  | {step} | {ms:.2f} |")
        print(f"  (loadavg {loadavg()})")
        if args.profile:
            print("\ncProfile of in-process validations:")
            print(profile(key, bodies, 300))
        connection.close()
        if args.skip_http:
            return 0

        print("\nb. over HTTP (gunicorn):", flush=True)
        wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
        port = free_port()
        gunicorn = start_gunicorn(port, args.workers)
        payloads = [json.dumps(b).encode() for b in bodies]
        wait_until_up(port, key, payloads[0], gunicorn)
        # Warm-up on bodies the runs do not start with: every worker has its connection,
        # imports and caches before the clock starts.
        warm = range(len(payloads) // 2, len(payloads) // 2 + 50 * args.workers)
        drive(port, key, payloads, warm, args.clients, args.max_seconds, None)
        runs = [
            measure(
                port,
                key,
                gunicorn.pid,
                payloads,
                "sequential (latency)",
                range(args.requests),
                1,
                args.max_seconds,
            ),
            measure(
                port,
                key,
                gunicorn.pid,
                payloads,
                f"{args.clients} clients (throughput)",
                range(args.requests, 2 * args.requests),
                args.clients,
                args.max_seconds,
            ),
        ]
        print(
            f"\ngunicorn {args.workers} sync workers, production profile; {CART_ITEMS}-item "
            f"carts, 2 codes, 3 automatic promotions, 3 rules per campaign"
        )
        print_runs(runs)
        print_outcomes(runs)

        print(throttle_history(key))
        if args.py_spy:
            spy_path = ROOT / "var" / "bench-promotions-py-spy.txt"
            spy_path.parent.mkdir(exist_ok=True)
            print("\n" + py_spy_run(port, key, gunicorn.pid, payloads, 1000, spy_path))

        sequential, throughput = runs
        print(f"\nloadavg at end: {loadavg()}; CPU calibration {cpu_calibration():.0f} ms")
        print("\n| figure | measured | target | verdict |\n|---|---|---|---|")

        def row(figure: str, measured: str, target: str, ok: bool | None) -> None:
            verdict = "-" if ok is None else ("met" if ok else "MISSED")
            print(f"| {figure} | {measured} | {target} | {verdict} |")

        p50, p99 = sequential.percentile(50), sequential.percentile(99)
        row(
            "validation p50, 1 client",
            f"{p50:.1f} ms",
            f"<= {P50_TARGET_MS:.0f} ms",
            p50 <= P50_TARGET_MS,
        )
        row(
            "validation p99, 1 client",
            f"{p99:.1f} ms",
            f"<= {P99_TARGET_MS:.0f} ms",
            p99 <= P99_TARGET_MS,
        )
        row(
            f"throughput, {args.clients} clients",
            f"{throughput.rate:,.0f} req/s (p50 {throughput.percentile(50):.1f} ms, "
            f"p99 {throughput.percentile(99):.1f} ms)",
            f"no target; ceiling {CEILING}",
            None,
        )
        row(
            "SQL statements per validation (1/10 items, 1/2 codes, 3/6 rules)",
            " / ".join(str(len(q)) for _, q, _ in counts),
            "the same for all",
            len(statement_counts) == 1,
        )
        return 1 if any(r.errors for r in runs) else 0
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        if django_ready:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            pg_tool("dropdb", database_url, "--if-exists", "--force")


if __name__ == "__main__":
    if shutil.which("createdb") is None:
        raise SystemExit("createdb/dropdb (PostgreSQL client tools) are needed")
    sys.exit(main())
