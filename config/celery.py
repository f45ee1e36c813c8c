import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("offerwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="offerwise.ping", ignore_result=False)
def ping() -> str:
    """Answer ``pong``: lets health checks and tests see a worker consume from the broker."""
    return "pong"
