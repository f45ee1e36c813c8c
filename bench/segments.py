"""Segments at scale on PostgreSQL: counting, one customer's membership, snapshot refreshes.

    .venv/bin/python bench/segments.py [--customers 1000000] [--orders 5000000]
                                       [--events 10000000] [--keep] [--reuse]

Creates a throwaway PostgreSQL database, migrates it and fills it with set-based SQL
(``INSERT ... SELECT ... FROM generate_series``, values from ``hashint8extended``, so every run
builds the same data): customers with consents, a catalogue, paid and other orders with their
items, behavioural events, live carts, then the purchase history segments read (the product's
own ``recompute_purchases``), the customers' order stats and ``VACUUM ANALYZE``.
Then it measures, through the product's own code (``segments.rules``, ``segments.services``):

a. counting a segment that mixes an attribute, a stat and an order-history condition;
b. one customer's membership (``is_member``) for five kinds of segment;
c. refreshing the snapshots of 20 dynamic segments (``refresh_segment``), first and again.

It prints an EXPLAIN (ANALYZE, BUFFERS) summary of the slowest query of each kind and one
table of figures against the issue's targets. The database is dropped at the end unless
``--keep``; ``--reuse`` measures a database kept by an earlier run. Only 127.0.0.1 is contacted.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from postgres import ROOT, db_name, manage, pg_tool, psql

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/offerwise_segbench"

# The targets.
COUNT_TARGET_S = 1.0
MEMBER_TARGET_MS = 5.0
REFRESH_TARGET_S = 300.0

# Generous caps: a step that takes longer than this is aborted with a message.
GENERATION_STEP_CAP_S = 1800
QUERY_CAP_S = 600

EXTRA_CATEGORIES = (("toys", "Toys & games"), ("garden", "Garden"), ("books", "Books"))
PRODUCTS_TOTAL = 200
CARTS_PER_CUSTOMER = 0.1
# Customer i has granted tracking when (i - 1) % 5 < 3 (60%): events only go to them, as a
# shop that honours consent would send them, and the rule is cheap to invert in SQL.
TRACKING_OF_5 = 3
EVENT_NAMES = (
    ("product_viewed", 45),
    ("category_viewed", 20),
    ("page_viewed", 25),
    ("search", 10),
)


# --- machine and database ------------------------------------------------------------------


def machine_facts(database_url: str) -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    settings = psql(
        database_url,
        "postgres",
        "SELECT version(), current_setting('shared_buffers'), current_setting('work_mem'), "
        "current_setting('max_parallel_workers_per_gather')",
    ).split("|")
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "postgresql": " ".join(settings[0].split()[:2]),
        "shared_buffers": settings[1],
        "work_mem": settings[2],
        "parallel workers per gather": settings[3],
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        # Other people's test runs share these cores; the load average says how busy.
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def database_exists(url: str) -> bool:
    name = db_name(url)
    return psql(url, "postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


class StepTooSlow(Exception):
    pass


def run_sql(cursor, label: str, sql: str, params=None, cap_s: float = GENERATION_STEP_CAP_S):
    """Execute one statement under a statement_timeout; returns (rowcount, rows or None).

    A timeout becomes StepTooSlow, naming the step.
    """
    from django.db.utils import OperationalError

    cursor.execute("SHOW statement_timeout")
    previous = cursor.fetchone()[0]
    cursor.execute(f"SET statement_timeout = '{int(cap_s)}s'")
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.rowcount, rows
    except OperationalError as e:
        if "statement timeout" in str(e):
            raise StepTooSlow(f"{label}: exceeded the cap of {cap_s:.0f} s") from None
        raise
    finally:
        cursor.execute(f"SET statement_timeout = '{previous}'")


# --- data set ------------------------------------------------------------------------------


def h(expr: str, salt: int) -> str:
    """A deterministic pseudo-random non-negative int4-range integer of ``expr``."""
    return f"(hashint8extended(({expr})::bigint, {salt}) & 2147483647)"


def u(expr: str, salt: int) -> str:
    """A deterministic pseudo-random float in [0, 1) of ``expr``."""
    return f"({h(expr, salt)}::float8 / 2147483648.0)"


def sql_array(values: list, kind: str) -> str:
    def literal(v):
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)

    return f"(ARRAY[{', '.join(literal(v) for v in values)}]::{kind}[])"


def coprime_step(modulus: int) -> int:
    """A multiplier that permutes 0..modulus-1 well (a bijection spreading neighbours)."""
    step = int(modulus * 0.6180339887) | 1
    while math.gcd(step, modulus) != 1:
        step += 2
    return step


def catalogue() -> tuple[list[tuple[str, str]], list[tuple[str, str, int, int]]]:
    """15 categories (the demo shop's 12 and 3 more) and 200 products, grouped by category
    so that each category's products have consecutive ids: (source_id, name, category
    index from 1, price)."""
    from customers.demo import CATEGORIES, PRODUCTS

    categories = [(source_id, name) for source_id, name, _ in CATEGORIES] + list(EXTRA_CATEGORIES)
    index = {source_id: n + 1 for n, (source_id, _) in enumerate(categories)}
    seen: set[str] = set()
    demo = []
    for source_id, name, category, price in PRODUCTS:
        if source_id not in seen:
            seen.add(source_id)
            demo.append((source_id, name, index[category], price))
    rng = random.Random(11)
    extra = []
    n = 0
    while len(demo) + len(extra) < PRODUCTS_TOTAL:
        category = categories[n % len(categories)][0]
        n += 1
        price = rng.choice((999, 1499, 1999, 2499, 2999, 3999, 4999, 6999, 8999, 12999))
        extra.append(
            (f"{category}-item-{n}", f"{category.title()} item {n}", index[category], price)
        )
    products = sorted(demo + extra, key=lambda p: (p[2], p[0]))
    return categories, products


def generate(cursor, customers: int, orders: int, events: int) -> list[tuple[str, int, float]]:
    """Fill the database; returns (table, rows, seconds) per step."""
    from customers.demo import CITIES

    timings: list[tuple[str, int, float]] = []
    n, m, e = customers, orders, events

    def step(label: str, sql: str, params=None) -> None:
        started = time.perf_counter()
        rows, _ = run_sql(cursor, label, sql, params)
        seconds = time.perf_counter() - started
        timings.append((label, rows, seconds))
        print(f"  {label}: {max(rows, 0):,} rows in {seconds:.1f} s", flush=True)

    # Bulk load: no WAL flush per statement, big sorts in memory, and no per-row foreign key
    # triggers (every reference is built valid here and checked below). CHECK constraints
    # still hold every row to the app's rules.
    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET work_mem = '256MB'")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    cursor.execute("SET session_replication_role = replica")

    tables = [
        "customers_customer",
        "customers_consent",
        "customers_category",
        "customers_product",
        "customers_order",
        "customers_orderitem",
        "customers_event",
        "customers_cart",
        "customers_cartitem",
        "customers_purchase",
    ]
    # The app's secondary indexes (not those behind primary keys and unique constraints) are
    # dropped for the load and rebuilt from their own definitions: a sorted build is much
    # faster than ten million random inserts into each.
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [tables],
    )
    secondary = cursor.fetchall()
    for name, _ in secondary:
        cursor.execute(f'DROP INDEX "{name}"')

    weights = [city.weight for city in CITIES]
    slots = [i + 1 for i, w in enumerate(weights) for _ in range(w)]
    cities = ", ".join(
        "({}, '{}', '{}', '{}', '{}', {}, {}, '{}')".format(
            i + 1,
            c.name.replace("'", "''"),
            c.country,
            c.timezone,
            c.language,
            c.latitude,
            c.longitude,
            c.phone_prefixes[0],
        )
        for i, c in enumerate(CITIES)
    )
    tiers = sql_array(
        ["bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum"], "text"
    )
    step(
        "customers",
        f"""
        WITH city (idx, name, country, tz, lang, lat, lon, prefix) AS (VALUES {cities})
        INSERT INTO customers_customer (
            id, source_id, first_name, last_name, email, phone, birthdate, birthday_mmdd,
            timezone, language, country, city, latitude, longitude, metadata, created_at,
            updated_at, erased_at, orders_count, total_spent, average_order_value,
            first_order_at, last_order_at)
        SELECT s.i, 'c' || lpad(s.i::text, 8, '0'), 'First' || s.i % 997, 'Last' || s.i % 991,
            'c' || s.i || '@example.com',
            CASE WHEN {h("s.i", 3)} % 10 < 6
                THEN city.prefix || lpad(({h("s.i", 4)} % 10000000)::text, 7, '0') ELSE '' END,
            s.bd, (extract(month FROM s.bd) * 100 + extract(day FROM s.bd))::int,
            city.tz, city.lang, city.country, city.name,
            CASE WHEN {h("s.i", 5)} % 10 = 0 THEN NULL
                ELSE city.lat + ({u("s.i", 6)} - 0.5) * 0.4 END,
            CASE WHEN {h("s.i", 5)} % 10 = 0 THEN NULL
                ELSE city.lon + ({u("s.i", 7)} - 0.5) * 0.6 END,
            jsonb_build_object(
                'tier', {tiers}[1 + {h("s.i", 8)} % 7],
                'age', extract(year FROM age(current_date, s.bd))::int),
            s.created, s.created, NULL, 0, 0, 0, NULL, NULL
        FROM (
            SELECT i, date '1950-01-01' + ({h("i", 2)} % 20000)::int AS bd,
                now() - interval '1095 days' * (1 - i::float8 / {n})
                    + interval '1 hour' * {u("i", 9)} AS created,
                {sql_array(slots, "int")}[1 + {h("i", 1)} % {len(slots)}] AS slot
            FROM generate_series(1, {n}) i
        ) s
        JOIN city ON city.idx = s.slot
        ORDER BY s.i
        """,
    )
    step(
        "consents",
        f"""
        INSERT INTO customers_consent (
            customer_id, purpose, granted, granted_at, withdrawn_at, source, updated_at)
        SELECT i, p.purpose, p.granted, CASE WHEN p.granted THEN now() END,
            CASE WHEN NOT p.granted THEN now() END, 'api', now()
        FROM generate_series(1, {n}) i,
        LATERAL (VALUES ('tracking', (i - 1) % 5 < {TRACKING_OF_5}),
                        ('email', {h("i", 21)} % 10 < 7)) p (purpose, granted)
        """,
    )
    categories, products = catalogue()
    kids = 1 + [c[0] for c in categories].index("kids")
    phones = 1 + [c[0] for c in categories].index("phones")
    cursor.execute(
        "INSERT INTO customers_category (id, source_id, name, parent_id) "
        "SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::int[])",
        [
            list(range(1, len(categories) + 1)),
            [c[0] for c in categories],
            [c[1] for c in categories],
            [None] * len(categories),
        ],
    )
    cursor.execute(
        "INSERT INTO customers_product (id, source_id, name, category_id, price, currency, "
        "metadata, created_at, updated_at) SELECT id, sid, name, cat, price, 'USD', '{}', "
        "now(), now() FROM unnest(%s::int[], %s::text[], %s::text[], %s::int[], %s::bigint[]) "
        "AS p (id, sid, name, cat, price)",
        [
            list(range(1, len(products) + 1)),
            [p[0] for p in products],
            [p[1] for p in products],
            [p[2] for p in products],
            [p[3] for p in products],
        ],
    )
    timings.append(("categories + products", len(categories) + len(products), 0.0))
    first = [1 + next(i for i, p in enumerate(products) if p[2] == c) for c in range(1, 16)]
    count = [sum(1 for p in products if p[2] == c) for c in range(1, 16)]
    prices = [p[3] for p in products]
    first_arr, count_arr = sql_array(first, "int"), sql_array(count, "int")
    price_arr = sql_array(prices, "bigint")

    # Every customer leans to one category ("interest"); half of their lines and views are
    # in it, so category conditions select real groups (kids' clothes buyers and browsers).
    def interest(customer: str) -> str:
        return f"(1 + {h(customer, 40)} % 15)"

    def product(key: str, customer: str, salt: int) -> str:
        return (
            f"(CASE WHEN {h(key, salt)} % 2 = 0 "
            f"THEN {first_arr}[{interest(customer)}] + {h(key, salt + 1)} % "
            f"{count_arr}[{interest(customer)}] "
            f"ELSE 1 + {h(key, salt + 2)} % {len(products)} END)"
        )

    def quantity(key: str, salt: int) -> str:
        return f"(1 + ({h(key, salt)} % 10 = 0)::int)"

    # A few customers buy a lot: the customer of an order is skewed (u^1.4) and then spread
    # over the ids by a bijection, so heavy buyers are not all old sign-ups.
    def line_amount(k: int) -> str:
        key = f"s.o * 4 + {k}"
        return f"{quantity(key, 50)} * {price_arr}[{product(key, 's.cust', 60)}]"

    items = " + ".join(
        f"CASE WHEN s.lines >= {k} THEN {line_amount(k)} ELSE 0 END" for k in (1, 2, 3)
    )
    step_c = coprime_step(n)
    customer_of_order = f"(1 + (floor({n} * power({u('o', 30)}, 1.4))::bigint * {step_c}) % {n})"
    step(
        "orders",
        f"""
        INSERT INTO customers_order (
            id, source_id, customer_id, status, currency, items_amount, discount_amount,
            shipping_amount, total_amount, metadata, created_at, paid_at, cancelled_at,
            refunded_at, updated_at)
        SELECT t.o, 'o' || lpad(t.o::text, 9, '0'), t.cust, t.status, 'USD', t.items,
            t.discount, t.shipping, t.items - t.discount + t.shipping, '{{}}', t.created,
            CASE WHEN t.status IN ('paid', 'refunded') THEN t.created + interval '5 minutes' END,
            CASE WHEN t.status = 'cancelled' THEN t.created + interval '1 day' END,
            CASE WHEN t.status = 'refunded' THEN t.created + interval '9 days' END, t.created
        FROM (
            SELECT s.o, s.cust, s.status, s.created, r.items,
                CASE WHEN s.discounted THEN r.items / 10 ELSE 0 END AS discount,
                CASE WHEN r.items >= 5000 THEN 0 ELSE 495 END AS shipping
            FROM (
                SELECT o, {customer_of_order} AS cust, 1 + {h("o", 31)} % 3 AS lines,
                    {h("o", 32)} % 5 = 0 AS discounted,
                    CASE WHEN {h("o", 33)} % 20 < 17 THEN 'paid'
                         WHEN {h("o", 33)} % 20 = 17 THEN 'created'
                         WHEN {h("o", 33)} % 20 = 18 THEN 'cancelled'
                         ELSE 'refunded' END AS status,
                    LEAST(now() - interval '395 days' * (1 - o::float8 / {m})
                        + interval '1 hour' * {u("o", 34)}, now()) AS created
                FROM generate_series(1, {m}) o
            ) s,
            LATERAL (SELECT {items} AS items) r
        ) t
        """,
    )
    step(
        "order items",
        f"""
        INSERT INTO customers_orderitem
            (order_id, product_id, category_id, quantity, unit_price, amount)
        SELECT s.o, p.product,
            (SELECT category_id FROM customers_product WHERE id = p.product),
            p.quantity, {price_arr}[p.product], p.quantity * {price_arr}[p.product]
        FROM (
            SELECT o, {customer_of_order} AS cust, 1 + {h("o", 31)} % 3 AS lines
            FROM generate_series(1, {m}) o
        ) s
        CROSS JOIN (VALUES (1), (2), (3)) k (k),
        LATERAL (SELECT {product("s.o * 4 + k.k", "s.cust", 60)} AS product,
                        {quantity("s.o * 4 + k.k", 50)} AS quantity) p
        WHERE k.k <= s.lines
        """,
    )
    tracking_groups = n // 5
    step_t = coprime_step(tracking_groups)
    names = [name for name, weight in EVENT_NAMES for _ in range(weight)]
    customer_of_event = (
        f"(5 * ((floor({tracking_groups} * power({u('x', 70)}, 1.4))::bigint * {step_t}) "
        f"% {tracking_groups}) + {h('x', 71)} % {TRACKING_OF_5} + 1)"
    )
    view_category = (
        f"(CASE WHEN {h('s.x', 73)} % 5 < 3 THEN {interest('s.cust')} "
        f"ELSE 1 + {h('s.x', 74)} % 15 END)"
    )
    category_ids = sql_array([c[0] for c in categories], "text")
    step(
        "events",
        f"""
        INSERT INTO customers_event (customer_id, name, kind, properties, occurred_at, created_at)
        SELECT s.cust, s.name, 'behavioural',
            CASE s.name
                WHEN 'product_viewed' THEN jsonb_build_object(
                    'category', {category_ids}[{view_category}],
                    'product_id', 'p' || (1 + {h("s.x", 75)} % {len(products)}))
                WHEN 'category_viewed' THEN jsonb_build_object(
                    'category', {category_ids}[{view_category}])
                WHEN 'search' THEN jsonb_build_object('query', 'q' || {h("s.x", 76)} % 5000)
                ELSE jsonb_build_object('path', '/page/' || {h("s.x", 77)} % 300)
            END,
            s.at, s.at
        FROM (
            SELECT x, {customer_of_event} AS cust,
                {sql_array(names, "text")}[1 + {h("x", 72)} % {len(names)}] AS name,
                LEAST(now() - interval '90 days' * (1 - x::float8 / {e})
                    + interval '10 minutes' * {u("x", 78)}, now()) AS at
            FROM generate_series(1, {e}) x
        ) s
        """,
    )
    carts = max(1, int(n * CARTS_PER_CUSTOMER))
    cart_customer = f"(1 + ({h('c', 80)} % {n}))"
    # New Berliners (the last 3% of sign-ups) leave phones in carts more often than others.
    phone_ids = [
        1 + next(i for i, p in enumerate(products) if p[0] == sku)
        for sku in ("pixel-9", "iphone-16", "galaxy-s25")
    ]

    def cart_product(key: str, customer: str) -> str:
        return (
            f"(CASE WHEN {customer} > {int(n * 0.97)} AND {h(key, 85)} % 3 = 0 "
            f"THEN {sql_array(phone_ids, 'int')}[1 + {h(key, 86)} % 3] "
            f"ELSE {product(key, customer, 87)} END)"
        )

    def cart_line(k: int) -> str:
        key = f"s.c * 4 + {k}"
        return f"{quantity(key, 90)} * {price_arr}[{cart_product(key, 's.cust')}]"

    cart_items = " + ".join(
        f"CASE WHEN s.lines >= {k} THEN {cart_line(k)} ELSE 0 END" for k in (1, 2, 3)
    )
    cart_customers = f"""
        SELECT c, CASE WHEN c % 10 = 0 THEN {int(n * 0.97)} + 1 + {h("c", 81)} % {n - int(n * 0.97)}
                  ELSE {cart_customer} END AS cust,
            1 + {h("c", 82)} % 3 AS lines
        FROM generate_series(1, {carts}) c
    """
    step(
        "carts",
        f"""
        INSERT INTO customers_cart (id, source_id, customer_id, status, currency, items_amount,
            items_count, order_id, created_at, last_activity_at)
        SELECT s.c, 'cart' || lpad(s.c::text, 8, '0'), s.cust,
            CASE WHEN {h("s.c", 83)} % 10 = 0 THEN 'converted' ELSE 'active' END, 'USD',
            {cart_items}, s.lines, NULL, a.at - interval '1 hour', a.at
        FROM ({cart_customers}) s,
        LATERAL (SELECT now() - interval '14 days' * {u("s.c", 84)} AS at) a
        """,
    )
    step(
        "cart items",
        f"""
        INSERT INTO customers_cartitem (cart_id, product_id, quantity, unit_price, amount)
        SELECT s.c, p.product, p.quantity, {price_arr}[p.product],
            p.quantity * {price_arr}[p.product]
        FROM ({cart_customers}) s
        CROSS JOIN (VALUES (1), (2), (3)) k (k),
        LATERAL (SELECT {cart_product("s.c * 4 + k.k", "s.cust")} AS product,
                        {quantity("s.c * 4 + k.k", 90)} AS quantity) p
        WHERE k.k <= s.lines
        """,
    )
    for table in ("customer", "category", "product", "order", "cart"):
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('customers_{table}', 'id'), "
            f"(SELECT max(id) FROM customers_{table}))"
        )
    # The purchase history of the paid orders, written by the product's own set-based
    # function on this connection (its indexes are rebuilt below with the others).
    from customers.services import recompute_purchases

    started = time.perf_counter()
    rows = recompute_purchases()
    seconds = time.perf_counter() - started
    timings.append(("purchases (recompute_purchases)", rows, seconds))
    print(f"  purchases (recompute_purchases): {rows:,} rows in {seconds:.1f} s", flush=True)
    cursor.execute("SET session_replication_role = origin")

    started = time.perf_counter()
    for name, definition in secondary:
        run_sql(cursor, f"index {name}", definition)
    seconds = time.perf_counter() - started
    timings.append((f"{len(secondary)} secondary indexes rebuilt", len(secondary), seconds))
    print(f"  {len(secondary)} secondary indexes rebuilt in {seconds:.1f} s", flush=True)

    # The stats recompute_customer_stats would write, in one grouped pass over the orders.
    step(
        "customer stats",
        """
        UPDATE customers_customer c SET orders_count = a.n, total_spent = a.total,
            average_order_value = floor(a.total::numeric / a.n)::bigint,
            first_order_at = a.first, last_order_at = a.last
        FROM (
            SELECT customer_id, count(*) AS n, sum(total_amount) AS total,
                min(created_at) AS first, max(created_at) AS last
            FROM customers_order WHERE status = 'paid' GROUP BY customer_id
        ) a
        WHERE c.id = a.customer_id
        """,
    )
    started = time.perf_counter()
    cursor.execute("SET maintenance_work_mem = '1GB'")
    for table in tables:
        run_sql(cursor, f"vacuum {table}", f"VACUUM (ANALYZE) {table}")
    seconds = time.perf_counter() - started
    timings.append(("VACUUM ANALYZE", 0, seconds))
    print(f"  VACUUM ANALYZE in {seconds:.1f} s", flush=True)
    print(f"  (kids category is #{kids}, phones #{phones})", flush=True)
    return timings


def check_data(cursor) -> None:
    """Foreign keys were not checked row by row during the load: check them now, and that
    the stats agree with the product's own ``recompute_customer_stats`` on a sample."""
    from customers.models import Customer
    from customers.services import recompute_customer_stats

    checks = {
        "orders without customer": "SELECT count(*) FROM customers_order o WHERE NOT EXISTS "
        "(SELECT 1 FROM customers_customer c WHERE c.id = o.customer_id)",
        "events without customer": "SELECT count(*) FROM customers_event e WHERE NOT EXISTS "
        "(SELECT 1 FROM customers_customer c WHERE c.id = e.customer_id)",
        "items without order": "SELECT count(*) FROM customers_orderitem i WHERE NOT EXISTS "
        "(SELECT 1 FROM customers_order o WHERE o.id = i.order_id)",
        "items without product": "SELECT count(*) FROM customers_orderitem i WHERE NOT EXISTS "
        "(SELECT 1 FROM customers_product p WHERE p.id = i.product_id)",
        "events without tracking consent": "SELECT count(*) FROM customers_event e WHERE NOT "
        "EXISTS (SELECT 1 FROM customers_consent c WHERE c.customer_id = e.customer_id "
        "AND c.purpose = 'tracking' AND c.granted)",
    }
    for label, sql in checks.items():
        bad = run_sql(cursor, label, sql)[1][0][0]
        if bad:
            raise RuntimeError(f"data check failed: {bad} {label}")
    sample = list(
        Customer.objects.filter(orders_count__gt=0).order_by("?").values_list("pk", flat=True)[:500]
    )
    fields = ("orders_count", "total_spent", "average_order_value", "first_order_at")
    before = list(Customer.objects.filter(pk__in=sample).order_by("pk").values_list(*fields))
    recompute_customer_stats(customer_ids=sample)
    after = list(Customer.objects.filter(pk__in=sample).order_by("pk").values_list(*fields))
    if before != after:
        raise RuntimeError("data check failed: stats differ from recompute_customer_stats")
    print("  data checks: foreign keys, tracking consent and stats on 500 customers: ok")


def sizes(cursor) -> list[tuple[str, int, str]]:
    cursor.execute(
        "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) "
        "FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'customers_%' "
        "AND c.relname <> 'customers_apikey' ORDER BY pg_total_relation_size(c.oid) DESC"
    )
    return cursor.fetchall()


# --- segments ------------------------------------------------------------------------------


def segment_definitions(now: dt.datetime) -> dict[str, dict]:
    """The issue's 10 demo segments and 10 more of the kinds marketers build."""
    month = now.month
    return {
        "Inactive for 3+ months": {
            "all": [{"field": "last_order_at", "op": "more_than_days_ago", "value": 90}]
        },
        "Premium (spent at least $1,000)": {
            "all": [{"field": "total_spent", "op": "gte", "value": 100_000}]
        },
        "Customers in Ireland": {"all": [{"field": "country", "op": "eq", "value": "IE"}]},
        "Customers in New York": {"all": [{"field": "city", "op": "eq", "value": "New York"}]},
        "At least 10 orders": {"all": [{"field": "orders_count", "op": "gte", "value": 10}]},
        "New customers (first order in the last 30 days)": {
            "all": [{"field": "first_order_at", "op": "less_than_days_ago", "value": 30}]
        },
        "Abandoned cart": {
            "all": [{"field": "cart.abandoned", "op": "matches", "value": {"idle_hours": 24}}]
        },
        "Birthday this month": {"all": [{"field": "birthday", "op": "in_month", "value": month}]},
        "Kids' clothes browsers": {"all": [KIDS_BROWSER]},
        "New Berliners with a phone in their cart": {
            "all": [
                {"field": "city", "op": "eq", "value": "Berlin"},
                {"field": "created_at", "op": "less_than_days_ago", "value": 30},
                {
                    "field": "cart.contains_product",
                    "op": "in",
                    "value": ["pixel-9", "iphone-16", "galaxy-s25"],
                },
            ]
        },
        "Irish premium kids' buyers": MIXED,
        "North American high baskets": {
            "all": [
                {"field": "country", "op": "in", "value": ["US", "CA"]},
                {"field": "average_order_value", "op": "gte", "value": 15_000},
            ]
        },
        "Lapsed regulars": {
            "all": [
                {"field": "orders_count", "op": "gte", "value": 5},
                {"field": "last_order_at", "op": "more_than_days_ago", "value": 180},
            ]
        },
        "Bought a phone in the last 90 days": {
            "all": [
                {
                    "field": "orders.category",
                    "op": "matches",
                    "value": {"id": "phones", "within_days": 90},
                }
            ]
        },
        "Birthday today": {"all": [{"field": "birthday", "op": "today"}]},
        "Within 50 km of Dublin": {"all": [NEAR_DUBLIN]},
        "Gold tier, 25 to 40": {
            "all": [
                {"field": "metadata.tier", "op": "eq", "value": "gold"},
                {"field": "metadata.age", "op": "between", "value": [25, 40]},
            ]
        },
        "Frequent product viewers (tracking)": {
            "all": [
                {"field": "consent.tracking", "op": "eq", "value": True},
                {
                    "field": "events.count",
                    "op": "matches",
                    "value": {"name": "product_viewed", "min_count": 5, "within_days": 14},
                },
            ]
        },
        "German speakers without e-mail consent": {
            "all": [
                {
                    "any": [
                        {"field": "country", "op": "eq", "value": "DE"},
                        {"field": "language", "op": "eq", "value": "de"},
                    ]
                },
                {"not": {"field": "consent.email", "op": "eq", "value": True}},
            ]
        },
        "Searched this week, no order for 30 days": {
            "all": [
                {
                    "field": "events.count",
                    "op": "matches",
                    "value": {"name": "search", "within_days": 7},
                },
                {
                    "any": [
                        {"field": "last_order_at", "op": "more_than_days_ago", "value": 30},
                        {"field": "last_order_at", "op": "is_not_set"},
                    ]
                },
            ]
        },
    }


MIXED = {
    "all": [
        {"field": "country", "op": "eq", "value": "IE"},
        {"field": "total_spent", "op": "gte", "value": 100_000},
        {
            "field": "orders.category",
            "op": "matches",
            "value": {"id": "kids", "min_count": 2, "within_days": 180},
        },
    ]
}
KIDS_BROWSER = {
    "field": "events.count",
    "op": "matches",
    "value": {
        "name": "category_viewed",
        "min_count": 3,
        "within_days": 30,
        "properties": {"category": "kids"},
    },
}
NEAR_DUBLIN = {
    "field": "location.within_km",
    "op": "matches",
    "value": {"lat": 53.3498, "lon": -6.2603, "km": 50},
}
MEMBERSHIP_SEGMENTS = {
    "mixed (IE + spent + kids orders)": MIXED,
    "kids browsers (events + properties)": {"all": [KIDS_BROWSER]},
    "birthday today": {"all": [{"field": "birthday", "op": "today"}]},
    "within 50 km of Dublin": {"all": [NEAR_DUBLIN]},
    "inactive 3+ months (last order)": {
        "all": [{"field": "last_order_at", "op": "more_than_days_ago", "value": 90}]
    },
}


# --- measuring -----------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def explain(sql: str, params) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement: root node, total time, scans used."""
    from django.db import connection

    with connection.cursor() as cursor:
        plan = run_sql(
            cursor,
            "explain",
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}",
            params,
            cap_s=QUERY_CAP_S,
        )[1][0][0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        rows = run_sql(
            cursor, "explain", f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params, cap_s=QUERY_CAP_S
        )[1]
        text = "\n".join(row[0] for row in rows)
    root = plan[0]["Plan"]
    scans: list[str] = []

    def walk(node: dict) -> None:
        kind = node["Node Type"]
        if ("Scan" in kind and "Relation Name" in node) or "Index Name" in node:
            where = node.get("Index Name") or node.get("Relation Name")
            label = f"{kind} {where}"
            if label not in scans:
                scans.append(label)
        for child in node.get("Plans", []):
            walk(child)

    walk(root)
    hit = root.get("Shared Hit Blocks", 0)
    read = root.get("Shared Read Blocks", 0)
    return {
        "root": f"{root['Node Type']} (rows {root.get('Actual Rows')})",
        "ms": plan[0]["Execution Time"],
        "scans": scans,
        "buffers": f"shared hit {hit}, read {read}",
        "text": text,
    }


def print_explain(title: str, summary: dict, full: bool) -> None:
    print(f"\nEXPLAIN (ANALYZE, BUFFERS), {title}:")
    print(f"  root: {summary['root']}; execution {summary['ms']:.1f} ms; {summary['buffers']}")
    for scan in summary["scans"]:
        print(f"    {scan}")
    if full:
        print("  " + summary["text"].replace("\n", "\n  "))


def measure_count(runs: int, full_plans: bool) -> dict:
    from segments.rules import segment_queryset

    times = []
    count = None
    for _ in range(runs + 1):  # the first run warms the cache and is not counted
        seconds, count = timed(lambda: segment_queryset(MIXED).count())
        times.append(seconds)
    times = times[1:]
    sql, params = segment_queryset(MIXED).values("pk").query.sql_with_params()
    summary = explain(f"SELECT count(*) FROM ({sql}) AS members", params)
    print(
        f"  count of the mixed segment: {count:,} customers; "
        f"min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms"
    )
    print_explain("count of the mixed segment", summary, full_plans)
    return {"count": count, "min": min(times), "median": statistics.median(times)}


def measure_membership(samples: int, full_plans: bool) -> dict[str, dict]:
    from customers.models import Customer
    from segments.rules import is_member, segment_queryset

    rng = random.Random(5)
    max_id = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    ids = [rng.randint(1, max_id) for _ in range(samples)]
    results = {}
    slowest = None
    for label, tree in MEMBERSHIP_SEGMENTS.items():
        for pk in ids[:10]:
            is_member(tree, pk)
        times, members = [], 0
        for pk in ids:
            seconds, inside = timed(lambda pk=pk, tree=tree: is_member(tree, pk))
            times.append(seconds * 1000)
            members += bool(inside)
        times.sort()
        median = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        results[label] = {"median": median, "p95": p95, "min": times[0], "members": members}
        print(
            f"  is_member, {label}: median {median:.2f} ms, p95 {p95:.2f} ms "
            f"({members}/{len(ids)} members)"
        )
        if slowest is None or median > results[slowest[0]]["median"]:
            slowest = (label, tree)
    label, tree = slowest
    # The customer whose check is typical: the sample's first id.
    qs = segment_queryset(tree).filter(pk=ids[0])
    sql, params = qs.values("pk").query.sql_with_params()
    print_explain(f"slowest is_member ({label})", explain(f"{sql} LIMIT 1", params), full_plans)
    return results


def compile_ms(tree: dict, repeat: int = 200) -> float:
    """Python time to compile the rules and the SQL of one membership check."""
    from segments.rules import segment_queryset

    started = time.perf_counter()
    for n in range(repeat):
        segment_queryset(tree).filter(pk=n + 1).values("pk").query.sql_with_params()
    return (time.perf_counter() - started) / repeat * 1000


def measure_refresh(full_plans: bool) -> dict:
    from django.utils import timezone

    from segments.models import Segment
    from segments.selectors import segment_members
    from segments.services import create_segment, refresh_segment

    now = timezone.now()
    segments = [
        create_segment(name=name, rules=rules) for name, rules in segment_definitions(now).items()
    ]
    passes = {}
    per_segment: dict[str, list] = {s.name: [] for s in segments}
    for label in ("first", "second"):
        total_started = time.perf_counter()
        for segment in segments:
            if time.perf_counter() - total_started > QUERY_CAP_S * 2:
                raise StepTooSlow(f"refresh ({label} pass) exceeded {QUERY_CAP_S * 2} s")
            seconds, change = timed(lambda segment=segment: refresh_segment(segment_id=segment.pk))
            per_segment[segment.name].append((seconds, change.size, len(change.entered)))
        passes[label] = time.perf_counter() - total_started
        print(f"  refresh of {len(segments)} segments, {label} pass: {passes[label]:.1f} s")
    print("\n  | segment | members | first refresh s | second refresh s |")
    print("  |---|---|---|---|")
    for name, runs in per_segment.items():
        print(f"  | {name} | {runs[0][1]:,} | {runs[0][0]:.2f} | {runs[1][0]:.2f} |")
    slowest = max(segments, key=lambda s: per_segment[s.name][1][0])
    segment = Segment.objects.get(pk=slowest.pk)
    sql, params = segment_members(segment).values("pk").query.sql_with_params()
    print_explain(
        f"members query of the slowest refresh ({segment.name})",
        explain(f"SELECT count(*) FROM ({sql}) AS members", params),
        full_plans,
    )
    return {"passes": passes, "per_segment": per_segment}


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the count (5)")
    parser.add_argument("--samples", type=int, default=200, help="customers for is_member")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database")
    parser.add_argument("--plans", action="store_true", help="print the full EXPLAIN texts")
    parser.add_argument("--skip-refresh", action="store_true", help="only a. and b.")
    args = parser.parse_args()
    if not (1000 <= args.customers <= 10_000_000 and 0 < args.orders <= 50_000_000):
        parser.error("customers 1000..10,000,000, orders 1..50,000,000")
    if not 0 < args.events <= 100_000_000:
        parser.error("events 1..100,000,000")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.update(
        DATABASE_URL=database_url,
        OFFERWISE_PROFILE="development",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    sys.path.insert(0, str(ROOT))

    facts = machine_facts(database_url)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    reuse = args.reuse and database_exists(database_url)
    if not reuse:
        pg_tool("dropdb", database_url, "--if-exists", "--force")
        pg_tool("createdb", database_url)
    django_ready = False
    try:
        import django

        if not reuse:
            started = time.perf_counter()
            manage("migrate", "--no-input")
            print(f"migrate: {time.perf_counter() - started:.1f} s", flush=True)
        django.setup()
        django_ready = True
        from django.db import connection

        timings = []
        with connection.cursor() as cursor:
            if reuse:
                from segments.models import Segment

                Segment.objects.all().delete()
                print("reusing the kept database (generation skipped)")
            else:
                print(
                    f"generating {args.customers:,} customers, {args.orders:,} orders, "
                    f"{args.events:,} events:",
                    flush=True,
                )
                started = time.perf_counter()
                timings = generate(cursor, args.customers, args.orders, args.events)
                check_data(cursor)
                total = time.perf_counter() - started
                timings.append(("total", 0, total))
                print(f"  generation total: {total:.0f} s", flush=True)
            table_sizes = sizes(cursor)
            # Every measured query is capped too: a runaway plan aborts with a message.
            cursor.execute(f"SET statement_timeout = '{QUERY_CAP_S}s'")
        print("\n| table | rows | size with indexes |\n|---|---|---|")
        for name, rows, size in table_sizes:
            print(f"| {name} | {rows:,} | {size} |")

        print("\na. counting a segment (attribute + stat + order history):", flush=True)
        count = measure_count(args.runs, args.plans)
        print("\nb. one customer's membership (is_member):", flush=True)
        membership = measure_membership(args.samples, args.plans)
        for label, tree in MEMBERSHIP_SEGMENTS.items():
            print(f"  compiling rules + SQL only, {label}: {compile_ms(tree):.2f} ms")
        refresh = None
        if not args.skip_refresh:
            print("\nc. refreshing 20 dynamic segments (refresh_segment):", flush=True)
            refresh = measure_refresh(args.plans)

        print(f"\nloadavg at end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        print("\n| figure | measured | target | verdict |\n|---|---|---|---|")

        def row(figure: str, measured: str, target: str, ok: bool) -> None:
            print(f"| {figure} | {measured} | {target} | {'met' if ok else 'MISSED'} |")

        row(
            f"count, mixed segment ({count['count']:,} members)",
            f"median {count['median']:.2f} s (min {count['min']:.2f} s)",
            f"<= {COUNT_TARGET_S:.0f} s",
            count["median"] <= COUNT_TARGET_S,
        )
        for label, result in membership.items():
            row(
                f"is_member, {label}",
                f"median {result['median']:.2f} ms (p95 {result['p95']:.2f} ms)",
                f"<= {MEMBER_TARGET_MS:.0f} ms",
                result["median"] <= MEMBER_TARGET_MS,
            )
        if refresh:
            for label, seconds in refresh["passes"].items():
                row(
                    f"refresh 20 segments, {label} pass",
                    f"{seconds:.1f} s",
                    f"<= {REFRESH_TARGET_S / 60:.0f} min",
                    seconds <= REFRESH_TARGET_S,
                )
        return 0
    except StepTooSlow as e:
        print(f"\nABORTED: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        if "statement timeout" in str(e):
            print(f"\nABORTED: a measured query exceeded {QUERY_CAP_S} s", file=sys.stderr)
            return 2
        raise
    finally:
        if django_ready:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            pg_tool("dropdb", database_url, "--if-exists", "--force")


if __name__ == "__main__":
    if shutil.which("createdb") is None:
        raise SystemExit("createdb/dropdb (PostgreSQL client tools) are needed")
    sys.exit(main())
