"""A real Celery worker process consumes a task from the configured broker (never eager):
kombu's filesystem transport by default, Redis when REDIS_URL is set (CI's second pass)."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

SEND = """
from config.celery import app, ping
print(app.conf.broker_url.split(":")[0])
print(ping.apply_async(queue="{queue}").get(timeout=60))
"""


def test_real_worker_executes_a_task_through_the_broker(tmp_path):
    queue = f"test-{uuid.uuid4().hex[:8]}"  # no other worker listens on it
    env = {**os.environ, "OFFERWISE_DATA_DIR": str(tmp_path), "CELERY_TASK_ALWAYS_EAGER": "0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-l",
            "info",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sent = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEND.format(queue=queue)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        worker.terminate()
        log, _ = worker.communicate(timeout=30)

    lines = sent.stdout.strip().splitlines()
    assert sent.returncode == 0, sent.stderr
    expected_transport = "redis" if settings.REDIS_URL else "filesystem"
    assert lines[-2:] == [expected_transport, "pong"]
    assert "Task offerwise.ping[" in log and "succeeded" in log, log
