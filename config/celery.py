import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("offerwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _prepare_embedded_broker(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist, and it has no fanout
    # exchange, so remote control (inspect/ping broadcasts) is off on the embedded broker.
    if str(sender.conf.broker_url).startswith("filesystem"):
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            folder = sender.conf.broker_transport_options.get(key)
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
        result_dir = str(sender.conf.result_backend or "").removeprefix("file://")
        if result_dir:
            Path(result_dir).mkdir(parents=True, exist_ok=True)
        sender.conf.worker_enable_remote_control = False


@app.task(name="offerwise.ping", ignore_result=False)
def ping() -> str:
    """Answer ``pong``: lets health checks and tests see a worker consume from the broker."""
    return "pong"
