"""Bulk code generation on PostgreSQL: 1,000,000 unique codes for one campaign.

    .venv/bin/python bench/codes.py [--codes 1000000] [--pattern ########] [--batch 10000]
                                    [--prefill 0] [--worker] [--keep] [--wait-minutes 30]

Creates a throwaway PostgreSQL database (``offerwise_codebench``), migrates it and makes one
coupon campaign with the product's ``save_campaign``; ``--prefill N`` first inserts N codes of
the same pattern (set-based SQL) so that the run has to step around them. Then it asks the
product for the codes (``promotions.generation.start_generation``) and runs the job:

- by default in a child process of its own, through the product's Celery task
  (``promotions.generate_codes``) executed in-process (``CELERY_TASK_ALWAYS_EAGER``: the task
  runs when ``start_generation``'s transaction commits, in the same process);
- with ``--worker``, in a real ``celery worker --pool solo`` over Redis, on a queue of its own.

It reports the wall time, codes per second, the peak resident memory (VmHWM) of the process
that ran the job and its resident memory before the job, the collisions retried (from the
job's message), then checks in SQL that the campaign has exactly the codes asked for, all
distinct in upper case. The database is dropped at the end unless ``--keep``. Only 127.0.0.1
is contacted.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from postgres import PYTHON, ROOT, loadavg, manage, pg_tool, psql, wait_for_other_benchmarks

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/offerwise_codebench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
TARGET_S = 120.0
OTHER_BENCHMARKS = r"bench/(segments|promotions|redemptions)\.py"

SETUP = """
import json
from promotions.services import save_campaign
campaign = save_campaign(campaign=None, values={{"name": "Code bench", "kind": "coupons"}})
campaign.code_pattern = {pattern!r}
campaign.save(update_fields=["code_pattern"])
print(json.dumps({{"campaign": campaign.pk}}))
"""

# In the child: the job is created and, the task being eager, run when the transaction of
# start_generation commits.
RUN_IN_PROCESS = """
import json, resource, time
from pathlib import Path
from promotions import generation
from promotions.models import Campaign, CodeGenerationJob

def vm(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024

generation.POSTGRES_BATCH = {batch}
campaign = Campaign.objects.get(pk={campaign})
before = vm("VmRSS")
started = time.perf_counter()
job = generation.start_generation(campaign=campaign, count={codes}, created_by="bench")
wall = time.perf_counter() - started
job = CodeGenerationJob.objects.get(pk=job.pk)
print(json.dumps({{
    "job": job.pk, "status": job.status, "generated": job.generated, "message": job.message,
    "wall_s": wall, "rss_before_mb": before, "peak_rss_mb": vm("VmHWM"),
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}}))
"""

SEND = """
from promotions.generation import start_generation
from promotions.models import Campaign
from promotions.tasks import generate_codes_task
import promotions.generation as g
# The job row only; the message goes to the benchmark's own queue.
g._enqueue = lambda job_id, queue=None: None
job = start_generation(campaign=Campaign.objects.get(pk={campaign}), count={codes})
generate_codes_task.apply_async(args=[job.pk], kwargs={{"batch_size": {batch}}}, queue={queue!r})
print(job.pk)
"""


def shell(script: str, *, env: dict | None = None, timeout: float = 1800) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env or os.environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py shell failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def prefill(url: str, dbname: str, campaign: int, count: int, pattern: str) -> None:
    """``count`` random codes of the campaign's alphabet and length, set-based."""
    length = pattern.count("#")
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    chars = " || ".join(
        f"substr('{alphabet}', 1 + floor(random() * {len(alphabet)})::int, 1)"
        for _ in range(length)
    )
    psql(
        url,
        dbname,
        f"""INSERT INTO promotions_voucher (code, campaign_id, enabled, redemptions_count,
              metadata, created_at, updated_at)
            SELECT {chars}, {campaign}, true, 0, '{{}}', now(), now()
            FROM generate_series(1, {count})
            ON CONFLICT DO NOTHING""",
    )
    psql(url, dbname, "VACUUM ANALYZE promotions_voucher")


def vm_of(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def run_in_worker(args, campaign: int, env: dict) -> dict:
    """The job in a real Celery worker (solo pool) over Redis, on a queue of its own."""
    queue = f"codebench-{uuid.uuid4().hex[:8]}"
    log = Path(env["OFFERWISE_DATA_DIR"]) / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                *[PYTHON, "-m", "celery", "-A", "config", "worker", "--pool", "solo"],
                *["-l", "info", "--without-mingle", "--without-gossip"],
                *["-Q", queue, "-n", f"{queue}@%h"],
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while "ready." not in log.read_text():
            if worker.poll() is not None:
                raise RuntimeError(log.read_text())
            time.sleep(0.2)
        before = vm_of(worker.pid, "VmRSS")
        started = time.perf_counter()
        job = int(
            shell(SEND.format(campaign=campaign, codes=args.codes, batch=args.batch, queue=queue))
        )
        while True:
            state = psql(
                env["DATABASE_URL"],
                args.dbname,
                f"SELECT status, generated, message FROM promotions_codegenerationjob "
                f"WHERE id = {job}",
            ).split("|", 2)
            if state[0] in ("done", "cancelled", "failed"):
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
        return {
            "job": job,
            "status": state[0],
            "generated": int(state[1]),
            "message": state[2],
            "wall_s": wall,
            "rss_before_mb": before,
            "peak_rss_mb": vm_of(worker.pid, "VmHWM"),
        }
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--pattern", default="########")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--prefill", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help="run the job in a real worker")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--wait-minutes", type=float, default=30)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    args.dbname = url.rsplit("/", 1)[1]
    data_dir = ROOT / "var" / "codebench"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        "OFFERWISE_DATA_DIR": str(data_dir),
        "CELERY_TASK_ALWAYS_EAGER": "0" if args.worker else "1",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)

    wait_for_other_benchmarks(OTHER_BENCHMARKS, args.wait_minutes)
    print(f"load average before: {loadavg()}; {len(os.sched_getaffinity(0))} CPUs", flush=True)
    pg_tool("dropdb", url, "--if-exists", "--force")
    pg_tool("createdb", url)
    try:
        manage("migrate", "--no-input")
        campaign = json.loads(shell(SETUP.format(pattern=args.pattern)))["campaign"]
        if args.prefill:
            started = time.perf_counter()
            prefill(url, args.dbname, campaign, args.prefill, args.pattern)
            existing = psql(url, args.dbname, "SELECT count(*) FROM promotions_voucher")
            print(f"prefilled {int(existing):,} codes in {time.perf_counter() - started:.1f} s")
        if args.worker:
            result = run_in_worker(args, campaign, env)
            how = "a real Celery worker (solo pool, Redis broker)"
        else:
            result = json.loads(
                shell(RUN_IN_PROCESS.format(campaign=campaign, codes=args.codes, batch=args.batch))
            )
            how = "the Celery task run in-process (eager), in a child process"
        distinct, total = psql(
            url,
            args.dbname,
            f"SELECT count(DISTINCT upper(code)), count(*) FROM promotions_voucher "
            f"WHERE job_id = {result['job']}",
        ).split("|")
        job_s = float(
            psql(
                url,
                args.dbname,
                "SELECT EXTRACT(EPOCH FROM finished_at - started_at) "
                f"FROM promotions_codegenerationjob WHERE id = {result['job']}",
            )
        )
        size = psql(
            url, args.dbname, "SELECT pg_size_pretty(pg_total_relation_size('promotions_voucher'))"
        )
        wall = result["wall_s"]
        print(f"ran in: {how}")
        print(f"load average after: {loadavg()}")
        print(
            f"job {result['job']}: {result['status']}, {result['generated']:,} codes "
            f"(rows {int(total):,}, distinct {int(distinct):,}); message: {result['message']!r}"
        )
        print(
            f"wall time {wall:.1f} s from the request to the end of the job, "
            f"{int(total) / wall:,.0f} codes/s (target {TARGET_S:.0f} s); "
            f"the job itself (started_at to finished_at) {job_s:.1f} s"
        )
        print(
            f"resident memory: {result['rss_before_mb']} MB before the job, "
            f"peak {result['peak_rss_mb']} MB"
        )
        print(f"voucher table with indexes: {size}")
        ok = (
            result["status"] == "done"
            and int(total) == int(distinct) == args.codes
            and wall <= TARGET_S
        )
        print("OK" if ok else "NOT MET")
        return 0 if ok else 1
    finally:
        if not args.keep:
            pg_tool("dropdb", url, "--if-exists", "--force")


if __name__ == "__main__":
    sys.exit(main())
