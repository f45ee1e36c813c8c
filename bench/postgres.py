"""What the benchmarks share: running manage.py and the PostgreSQL client tools."""

import subprocess
import sys
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
