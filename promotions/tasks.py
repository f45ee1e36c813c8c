from celery import shared_task

from .idempotency import purge_idempotency_keys


@shared_task(name="promotions.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    return purge_idempotency_keys()
