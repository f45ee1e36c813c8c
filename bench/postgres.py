"""What the benchmarks share: running manage.py and the PostgreSQL client tools, loading a
sibling benchmark, and waiting for the other benchmarks of this machine."""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def pg_args(url: str) -> list[str]:
    """Host, port and user options of the PostgreSQL tools for a DATABASE_URL."""
    parts = urlsplit(url)
    return [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def psql(url: str, dbname: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", *pg_args(url), "-d", dbname, "-Atc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def pg_tool(tool: str, url: str, *extra: str) -> None:
    """createdb / dropdb on the URL's database."""
    subprocess.run(
        [tool, *pg_args(url), *extra, db_name(url)], check=True, capture_output=True, text=True
    )


def manage(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def sibling(name: str):
    """A benchmark module of this folder, loaded from its file under another name:
    ``segments`` is also the Django app, which must stay importable as itself."""
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def started_at(pid: int) -> int:
    """When a process started (clock ticks since boot); a gone one counts as never."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 1 << 62
    # The fields after the command name (which may hold spaces) start with the state;
    # starttime is field 22 of the whole line.
    return int(stat.rpartition(")")[2].split()[19])


def wait_for_other_benchmarks(pattern: str, minutes: float) -> None:
    """Poll every 30 s while another benchmark (a process matching ``pattern``) runs on this
    machine, up to ``minutes``.

    Only benchmarks started before this one count: the benchmarks wait for each other, and
    two that waited for each other between their parts would both stall until one gave up.
    The one started first goes on; the later one waits for it."""
    deadline = time.monotonic() + minutes * 60
    waited = False
    mine = started_at(os.getpid())
    while True:
        found = subprocess.run(
            ["pgrep", "-f", pattern], capture_output=True, text=True, check=False
        ).stdout.split()
        others = [pid for pid in found if int(pid) != os.getpid() and started_at(int(pid)) < mine]
        if not others:
            print(f"  no earlier benchmark running; loadavg {loadavg()}", flush=True)
            return
        if time.monotonic() >= deadline:
            print(f"  still running after {minutes:.0f} min (pids {others}); going on", flush=True)
            return
        if not waited:
            print(f"  another benchmark is running (pids {others}); waiting", flush=True)
        waited = True
        time.sleep(30)
