"""Throughput and latency of the shop-facing ingestion API under gunicorn on PostgreSQL.

    .venv/bin/python bench/api_ingest.py [--requests N] [--clients C] [--workers W]

Creates a throwaway PostgreSQL database, migrates it, seeds customers and a catalogue,
starts gunicorn (W sync workers) on a free loopback port and drives four scenarios with C
keep-alive HTTP clients: customer lookup, customer upsert, paid order with two items and a
behavioural event. Then it counts the SQL statements of one request per scenario in-process
and, with ``--profile SCENARIO``, profiles that scenario in-process with cProfile. gunicorn is
stopped and the database dropped at the end, whatever happens. Only 127.0.0.1 is contacted.
"""

import argparse
import cProfile
import datetime
import http.client
import io
import json
import os
import platform
import pstats
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from postgres import PYTHON, ROOT, manage, pg_args, pg_tool

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/offerwise_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

# DESIGN.md section 6, measured on this machine: a bare DRF view doing one indexed SELECT
# under gunicorn with 4 sync workers. Only the lookup is the same kind of work; the writes
# are several statements in one transaction, so no published ceiling applies to them.
CEILINGS = {"customer_get": "1,800/s (1 SELECT)"}

TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}

CATEGORIES = 20
PRODUCTS = 200
# One customer in five has not granted tracking: events only go to the others, as a shop
# that honours consent would send them.
NO_TRACKING_EVERY = 5


# --- machine and processes -----------------------------------------------------------------


def machine_facts() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    pg = subprocess.run(
        [
            "psql",
            *pg_args(os.environ["DATABASE_URL"]),
            "-d",
            "postgres",
            "-Atc",
            "show server_version",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "python": platform.python_version(),
        "postgresql": pg or "unknown",
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        # Other people's test runs share these 2 cores; the load average says how busy.
        "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def cpu_calibration() -> float:
    """CPU ms for a fixed pure-Python job (20,000 JSON round trips of a small dict).

    The machine is shared and virtual: this tells how fast a core was for us at the time,
    so figures from different runs (or a quieter hour) can be compared.
    """
    sample = {"a": [1, 2, 3] * 10, "b": "x" * 50, "c": {"d": 1.5}}
    started = time.process_time()
    for _ in range(20_000):
        json.loads(json.dumps(sample))
    return (time.process_time() - started) * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (from /proc, in seconds)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # Fields after the parenthesised command name; utime and stime are 14 and 15.
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / ticks


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks


def child_pids(parent: int) -> list[int]:
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as children:
            return [int(pid) for pid in children.read().split()]
    except FileNotFoundError:
        return []


def backend_pids() -> list[int]:
    """PostgreSQL backends serving the benchmark database (the gunicorn workers' ones)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


# --- setup ---------------------------------------------------------------------------------


def seed(customers: int) -> None:
    """Customers with consents and a small catalogue, with bulk inserts (seconds, not minutes)."""
    from django.utils import timezone

    from customers.models import Category, Consent, Customer, Product

    now = timezone.now()
    Customer.objects.bulk_create(
        [
            Customer(
                source_id=customer_id(i),
                first_name=f"First{i}",
                last_name=f"Last{i}",
                email=f"c{i}@example.com",
                country="IE",
                city="Dublin",
                created_at=now - datetime.timedelta(days=i % 700),
            )
            for i in range(customers)
        ],
        batch_size=2000,
    )
    pks = dict(Customer.objects.values_list("source_id", "pk"))
    consents = []
    for i in range(customers):
        pk = pks[customer_id(i)]
        consents.append(Consent(customer_id=pk, purpose="email", granted=True, granted_at=now))
        tracking = i % NO_TRACKING_EVERY != 0
        consents.append(
            Consent(
                customer_id=pk,
                purpose="tracking",
                granted=tracking,
                granted_at=now if tracking else None,
                withdrawn_at=None if tracking else now,
            )
        )
    Consent.objects.bulk_create(consents, batch_size=5000)
    categories = Category.objects.bulk_create(
        [Category(source_id=f"cat-{n}", name=f"Category {n}") for n in range(CATEGORIES)]
    )
    Product.objects.bulk_create(
        [
            Product(
                source_id=product_id(n),
                name=f"Product {n}",
                category=categories[n % CATEGORIES],
                price=500 + n * 10,
                currency="USD",
            )
            for n in range(PRODUCTS)
        ]
    )


def customer_id(i: int) -> str:
    return f"bench-c{i}"


def product_id(n: int) -> str:
    return f"sku-{n}"


# --- scenarios -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    # Request number -> the call; numbers are unique per run, so order ids never repeat.
    make: Callable[[int], Call]


def scenarios(customers: int, run_tag: str) -> list[Scenario]:
    rng = random.Random(7)
    picks = [rng.randrange(customers) for _ in range(1 << 16)]
    tracking = [i for i in range(customers) if i % NO_TRACKING_EVERY != 0]

    def customer_for(n: int) -> int:
        return picks[n % len(picks)]

    def get_customer(n: int) -> Call:
        return Call("GET", f"/api/v1/customers/{customer_id(customer_for(n))}")

    def put_customer(n: int) -> Call:
        i = customer_for(n)
        body = {
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "email": f"c{i}@example.com",
            "country": "IE",
            "city": ("Dublin", "Cork", "Galway")[n % 3],
            "metadata": {"visits": n},
            # Email repeats the stored answer (no write); sms flips, so about half of the
            # pushes change a consent, as profile syncs from a shop do.
            "consents": {"email": True, "sms": n % 2 == 0},
        }
        return Call("PUT", f"/api/v1/customers/{customer_id(i)}", body)

    def put_order(n: int) -> Call:
        first, second = (n * 7) % PRODUCTS, (n * 13 + 1) % PRODUCTS
        body = {
            "customer": customer_id(customer_for(n)),
            "status": "paid",
            "currency": "USD",
            "items": [
                {
                    "product_id": product_id(first),
                    "name": f"Product {first}",
                    "category": f"cat-{first % CATEGORIES}",
                    "quantity": 1 + n % 3,
                    "unit_price": 500 + first * 10,
                },
                {
                    "product_id": product_id(second),
                    "name": f"Product {second}",
                    "category": f"cat-{second % CATEGORIES}",
                    "quantity": 1,
                    "unit_price": 500 + second * 10,
                },
            ],
            "shipping_amount": 500,
        }
        return Call("PUT", f"/api/v1/orders/bench-{run_tag}-o{n}", body)

    def post_event(n: int) -> Call:
        i = tracking[picks[n % len(picks)] % len(tracking)]
        body = {
            "customer": customer_id(i),
            "name": "product_viewed",
            "kind": "behavioural",
            "properties": {"product_id": product_id(n % PRODUCTS), "category": "cat-1"},
        }
        return Call("POST", "/api/v1/events", body)

    return [
        Scenario("customer_get", "GET customers/{id}", get_customer),
        Scenario("customer_put", "PUT customers/{id} (upsert + consents)", put_customer),
        Scenario("order_put", "PUT orders/{id} (paid, 2 items)", put_order),
        Scenario("event_post", "POST events (behavioural)", post_event),
    ]


# --- load generator ------------------------------------------------------------------------


@dataclass
class Result:
    scenario: Scenario
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    timed_out: bool = False

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        # Nearest rank: the smallest latency with at least p% of the samples at or below it.
        rank = max(1, -(-len(ordered) * p // 100))
        return ordered[int(rank) - 1] * 1000


def drive(
    port: int,
    key: str,
    scenario: Scenario,
    numbers: range,
    clients: int,
    max_seconds: float,
    result: Result | None,
) -> None:
    """Send the calls numbered ``numbers`` from ``clients`` threads, each on its own
    keep-alive connection; stop early at ``max_seconds``. Records into ``result`` if given."""
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    deadline = time.monotonic() + max_seconds
    lock = threading.Lock()
    todo = iter(numbers)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, errors, samples = [], 0, []
        try:
            while time.monotonic() < deadline:
                with lock:
                    n = next(todo, None)
                if n is None:
                    break
                call = scenario.make(n)
                payload = None if call.body is None else json.dumps(call.body).encode()
                started = time.perf_counter()
                try:
                    conn.request(call.method, call.path, body=payload, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    # Count it and reconnect: a dropped connection is a failed request.
                    conn.close()
                    status, body = 0, repr(exc).encode()
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 300:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{call.method} {call.path} -> {status} {body[:300]!r}")
        finally:
            conn.close()
            if result is not None:
                with lock:
                    result.latencies.extend(latencies)
                    result.errors += errors
                    result.error_samples.extend(samples[: 5 - len(result.error_samples)])

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 60)
    if result is not None:
        result.seconds = time.perf_counter() - started
        result.requests = len(result.latencies)
        result.timed_out = result.requests < len(numbers)


def measure(
    port: int,
    key: str,
    gunicorn_pid: int,
    scenario: Scenario,
    requests: int,
    clients: int,
    max_seconds: float,
) -> Result:
    # Warm-up on numbers past the measured ones: every worker has its database connection
    # and imports done before the clock starts.
    warm = max(clients * 10, 100)
    drive(port, key, scenario, range(requests, requests + warm), clients, max_seconds, None)
    result = Result(scenario)
    workers = child_pids(gunicorn_pid)
    backends = backend_pids()
    before = (
        cpu_seconds(workers),
        cpu_seconds(backends),
        time.process_time(),
        machine_busy_seconds(),
    )
    drive(port, key, scenario, range(requests), clients, max_seconds, result)
    after = (
        cpu_seconds(workers),
        cpu_seconds(backends),
        time.process_time(),
        machine_busy_seconds(),
    )
    per_request = 1000 / max(result.requests, 1)
    result.cpu_ms = {
        "gunicorn": (after[0] - before[0]) * per_request,
        "postgres": (after[1] - before[1]) * per_request,
        "client": (after[2] - before[2]) * per_request,
        "machine": (after[3][0] - before[3][0]) * per_request,
    }
    return result


# --- in-process checks: statements per request and a profile -------------------------------


def in_process_client(key: str):
    from django.test import Client

    # DEBUG is off, so the test client must name a host that ALLOWED_HOSTS accepts.
    return Client(HTTP_HOST="127.0.0.1", headers={"Authorization": f"Api-Key {key}"})


def send(client, call: Call):
    body = "" if call.body is None else json.dumps(call.body)
    return client.generic(call.method, call.path, body, content_type="application/json")


def count_statements(key: str, scenario: Scenario, number: int) -> tuple[int, int, list[str]]:
    """(queries, transaction-control statements, all statements) of one request, in-process.

    Transaction control is BEGIN, COMMIT, SAVEPOINT and RELEASE SAVEPOINT: round trips too,
    but no table work.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = in_process_client(key)
    send(client, scenario.make(number))  # First call pays one-off imports and lookups.
    with CaptureQueriesContext(connection) as captured:
        response = send(client, scenario.make(number + 1))
    if not 200 <= response.status_code < 300:
        raise RuntimeError(f"{scenario.name}: {response.status_code} {response.content[:300]!r}")
    sqls = [q["sql"] for q in captured.captured_queries]
    control = sum(1 for sql in sqls if sql.split(" ", 1)[0] in TRANSACTION_CONTROL)
    return len(sqls) - control, control, sqls


def cpu_per_request(key: str, scenario: Scenario, start: int, count: int) -> float:
    """CPU ms of one request served in-process (Django + DRF + driver, no HTTP server).

    Process CPU time, not wall time: other work on the machine does not inflate it.
    """
    client = in_process_client(key)
    send(client, scenario.make(start))
    started = time.process_time()
    for n in range(start + 1, start + 1 + count):
        send(client, scenario.make(n))
    return (time.process_time() - started) / count * 1000


def bare_view_cpu(count: int) -> float:
    """CPU ms of a bare DRF view doing one indexed SELECT (the DESIGN ceiling's kind of view),
    called in-process without middleware, authentication or serializers: the floor that the
    scenarios' in-process CPU figures compare with on the same machine at the same time."""
    from django.db import connection
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class BareLookup(APIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]

        def get(self, request, source_id):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT source_id, email, orders_count FROM customers_customer "
                    "WHERE source_id = %s",
                    [source_id],
                )
                row = cursor.fetchone()
            return Response({"source_id": row[0], "email": row[1], "orders_count": row[2]})

    view = BareLookup.as_view()
    factory = APIRequestFactory()
    view(factory.get("/"), source_id=customer_id(0)).render()
    started = time.process_time()
    for n in range(count):
        view(factory.get("/"), source_id=customer_id(n % 100)).render()
    return (time.process_time() - started) / count * 1000


def profile(key: str, scenario: Scenario, start: int, count: int) -> str:
    client = in_process_client(key)
    send(client, scenario.make(start))
    # CPU-time clock: the machine is shared, and waiting on PostgreSQL is not our CPU.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for n in range(start + 1, start + 1 + count):
        send(client, scenario.make(n))
    profiler.disable()
    elapsed = time.process_time() - started
    out = io.StringIO()
    out.write(f"{count} in-process requests, {elapsed / count * 1000:.2f} CPU ms each\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(35)
    return out.getvalue()


# --- report --------------------------------------------------------------------------------


def table(results: list[Result], clients: int) -> str:
    head = (
        "| scenario | requests | clients | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| CPU ms/req (gunicorn / postgres / client / machine) | ceiling |"
    )
    rows = [head, "|" + "---|" * 10]
    for r in results:
        cpu = r.cpu_ms
        rows.append(
            f"| {r.scenario.label} | {r.requests}{' (timed out)' if r.timed_out else ''} "
            f"| {clients} | {r.requests / r.seconds:,.0f} | {r.percentile(50):.1f} "
            f"| {r.percentile(95):.1f} | {r.percentile(99):.1f} | {r.errors} "
            f"| {cpu['gunicorn']:.2f} / {cpu['postgres']:.2f} / {cpu['client']:.2f} "
            f"/ {cpu['machine']:.2f} | {CEILINGS.get(r.scenario.name, '-')} |"
        )
    return "\n".join(rows)


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per scenario (default 4000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--customers", type=int, default=10_000, help="seeded customers")
    parser.add_argument(
        "--max-seconds", type=float, default=120, help="time limit per scenario (120)"
    )
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="also cProfile this scenario in-process (customer_get, customer_put, ...)",
    )
    parser.add_argument("--show-sql", action="store_true", help="print the counted statements")
    args = parser.parse_args()
    if not (0 < args.requests <= 100_000 and 0 < args.clients <= 64 and 0 < args.workers <= 16):
        parser.error("requests 1..100000, clients 1..64, workers 1..16")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        OFFERWISE_PROFILE="development",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
        # No collectstatic here: the API serves no static files, so whitenoise's warning
        # about the missing STATIC_ROOT is noise in every worker's output.
        PYTHONWARNINGS="ignore:No directory at",
    )
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))

    facts = machine_facts()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    print(f"CPU calibration at start: {cpu_calibration():.0f} ms", flush=True)

    gunicorn = None
    django_ready = False
    pg_tool("dropdb", database_url, "--if-exists", "--force")
    pg_tool("createdb", database_url)
    try:
        started = time.perf_counter()
        manage("migrate", "--no-input", timeout=300)
        key = manage("create_api_key", "bench", timeout=300).strip().splitlines()[-1]
        import django

        django.setup()
        django_ready = True
        seed(args.customers)
        from django.db import connection

        connection.close()
        print(
            f"setup (migrate, key, {args.customers} customers): "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )

        port = free_port()
        gunicorn = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "config.wsgi",
                "--workers",
                str(args.workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            # Connections that outlive every scenario: the PostgreSQL CPU per request is read
            # from the backends' /proc counters, which a reconnect would reset mid-scenario.
            env={**os.environ, "DATABASE_CONN_MAX_AGE": "3600"},
        )
        wait_until_up(port, key, gunicorn)

        run_tag = f"{int(time.time())}"
        all_scenarios = scenarios(args.customers, run_tag)
        results = []
        for scenario in all_scenarios:
            result = measure(
                port,
                key,
                gunicorn.pid,
                scenario,
                args.requests,
                args.clients,
                args.max_seconds,
            )
            results.append(result)
            print(
                f"  {scenario.label}: {result.requests / result.seconds:,.0f} req/s, "
                f"{result.errors} errors",
                flush=True,
            )
            for sample in result.error_samples:
                print(f"    error: {sample}", flush=True)

        print()
        print(
            f"gunicorn {args.workers} sync workers; {args.clients} clients; "
            f"{args.customers} customers; loadavg {facts['loadavg']} at start"
        )
        print(table(results, args.clients))

        print("\nPer request, in-process (Django test client, no HTTP server), after warm-up:")
        probe_start = 10 * args.requests + 1000  # numbers no measured call used
        for scenario in all_scenarios:
            queries, control, sqls = count_statements(key, scenario, probe_start)
            cpu = cpu_per_request(key, scenario, probe_start + 10, 200)
            print(
                f"  {scenario.label}: {queries} queries + {control} BEGIN/COMMIT/SAVEPOINT/"
                f"RELEASE = {queries + control} round trips; {cpu:.2f} CPU ms"
            )
            if args.show_sql:
                for sql in sqls:
                    print(f"      {sql[:160]}")
        print(f"  bare DRF view, 1 raw SELECT, no middleware: {bare_view_cpu(500):.2f} CPU ms")

        if args.profile:
            chosen = {s.name: s for s in all_scenarios}.get(args.profile)
            if chosen is None:
                raise SystemExit(f"unknown scenario {args.profile}")
            print(f"\ncProfile of {chosen.label}:")
            print(profile(key, chosen, probe_start + 1000, 300))
        print(
            f"\nCPU calibration at end: {cpu_calibration():.0f} ms; "
            f"loadavg {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
        )
        failed = any(r.errors for r in results)
        return 1 if failed else 0
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
        pg_tool("dropdb", database_url, "--if-exists", "--force")


def wait_until_up(port: int, key: str, gunicorn: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {gunicorn.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(
                "GET", "/api/v1/customers?page_size=1", headers={"Authorization": f"Api-Key {key}"}
            )
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
            raise RuntimeError(f"gunicorn answered {status} to the readiness request")
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


if __name__ == "__main__":
    if shutil.which("createdb") is None:
        raise SystemExit("createdb/dropdb (PostgreSQL client tools) are needed")
    sys.exit(main())
