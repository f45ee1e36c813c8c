import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError, connections

from .generation import resume_orphaned_jobs, run_generation
from .idempotency import purge_idempotency_keys

logger = logging.getLogger(__name__)


@shared_task(name="promotions.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    return purge_idempotency_keys()


# acks_late: a worker that dies mid-job leaves the message to be delivered again (where the
# broker does that); running a job twice is harmless, it continues from its codes.
@shared_task(name="promotions.generate_codes", acks_late=True)
def generate_codes_task(job_id: int, batch_size: int | None = None) -> str:
    return run_generation(job_id, batch_size=batch_size)


@shared_task(name="promotions.resume_orphaned_code_jobs")
def resume_orphaned_code_jobs_task() -> list[int]:
    return resume_orphaned_jobs()


@worker_ready.connect
def resume_code_jobs_of_dead_workers(sender=None, **kwargs) -> None:
    """A worker that starts queues again the jobs a dead worker left running, on the first
    queue it consumes itself: after a restart, the new worker takes them over."""
    try:
        queues = list(sender.app.amqp.queues.consume_from) if sender is not None else []
        resumed = resume_orphaned_jobs(queue=queues[0] if queues else None)
        if resumed:
            logger.info("Code generation jobs queued again after a restart: %s", resumed)
    except DatabaseError:
        # Never keep a worker from starting: the admin action and the command remain.
        logger.exception("Could not look for code generation jobs to resume")
    finally:
        # This runs in the worker's main process; its pool has its own connections.
        connections.close_all()
