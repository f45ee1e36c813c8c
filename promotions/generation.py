"""Bulk generation of a campaign's unique codes, as a job run by a Celery worker in batches.

The job's ``generated`` is always the number of codes the job has in the database: a job that
starts (or resumes) counts them, and each batch stores the new number in the same transaction
as its codes, with the job's row locked (on PostgreSQL from the insert's own row count:
counting a million rows after every batch would cost more than the batch). A job run again
(a duplicate message, a resumed job) continues from there, and never makes more than
``requested`` codes.

While a process runs a job it holds the job's lock (a PostgreSQL advisory lock; on SQLite, a
lock on a file next to the database). The operating system and PostgreSQL drop the lock when
the process dies, so "RUNNING and nobody holds the lock" means the worker died mid-job: such a
job is queued again when a worker starts (``promotions.tasks``), by the
``resume_code_jobs`` command and by the admin's resume action.
"""

import logging
import math
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Sum
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.errors import NotFound

from .codes import CodeMaker, code_maker, code_settings_errors, code_values
from .errors import PromotionError
from .models import Campaign, CodeGenerationJob, Voucher

try:  # not on Windows: there, a dead worker's job is found by the admin action only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

logger = logging.getLogger(__name__)

MAX_JOB_CODES = 10_000_000
# Codes inserted per transaction. SQLite holds its one write lock for the whole batch, so
# smaller batches there let the web process write in between.
POSTGRES_BATCH = 10_000
SQLITE_BATCH = 2_000
# At most this many times the batch size drawn at once, whatever the collisions...
MAX_DRAW_FACTOR = 4
# ... or, for a small space, four times the space, up to this many.
SMALL_SPACE_DRAW = 100_000
# Above this share of new codes among those drawn, PostgreSQL inserts without looking up.
DIRECT_INSERT_RATE = 0.9
# Batches in a row that find no new code before the job gives up: the space is used up.
MAX_FRUITLESS_BATCHES = 10
# Advisory lock keys of code jobs: this namespace in the high 32 bits, the job id below.
LOCK_NAMESPACE = 0xC0DE
FINAL = (
    CodeGenerationJob.Status.DONE,
    CodeGenerationJob.Status.CANCELLED,
    CodeGenerationJob.Status.FAILED,
)
ACTIVE = (CodeGenerationJob.Status.QUEUED, CodeGenerationJob.Status.RUNNING)


# --- errors --------------------------------------------------------------------------------


class InvalidCodeCount(PromotionError):
    code = "invalid_code_count"
    http_status = 400
    default_message = gettext_lazy("Ask for 1 to 10,000,000 codes.")


class InvalidCodePattern(PromotionError):
    """The campaign's code settings cannot make codes; ``details`` maps fields to messages."""

    code = "invalid_code_pattern"
    http_status = 409
    default_message = gettext_lazy("The campaign's code pattern cannot make valid codes.")


class CodesNotGenerated(PromotionError):
    code = "codes_not_generated"
    http_status = 409
    default_message = gettext_lazy("This campaign's codes are not made in bulk.")


class CodeSpaceTooSmall(PromotionError):
    """More codes asked for than the pattern has left; ``details`` has ``space_size``."""

    code = "code_space_too_small"
    http_status = 409
    default_message = gettext_lazy("The code pattern cannot hold that many more codes.")


class CodeJobNotFound(NotFound):
    code = "code_job_not_found"
    default_message = gettext_lazy("No code generation job with this id.")


class CodeJobFinished(PromotionError):
    code = "code_job_finished"
    http_status = 409
    default_message = gettext_lazy("The job has finished.")


class CodeJobRunning(PromotionError):
    code = "code_job_running"
    http_status = 409
    default_message = gettext_lazy("A worker is running the job.")


# --- the job's lock ------------------------------------------------------------------------

_held_in_process: set[int] = set()
_held_in_process_guard = threading.Lock()


class JobLock:
    """Held by the process running a job for as long as it runs it; dropped by PostgreSQL or
    the operating system when that process dies.

    Held in this process first (PostgreSQL's advisory locks are re-entrant within one
    session), then across processes: an advisory lock on PostgreSQL, a lock on a file next to
    a SQLite database file (an in-memory database has no other process to tell).
    """

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._file = None
        self._advisory = False
        self._held = False

    def _sqlite_path(self) -> Path | None:
        if connection.vendor != "sqlite":
            return None
        name = str(connection.settings_dict["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            return None
        return Path(f"{name}.code-job-{self.job_id}.lock")

    def acquire(self) -> bool:
        with _held_in_process_guard:
            if self.job_id in _held_in_process:
                return False
            _held_in_process.add(self.job_id)
        self._held = True
        try:
            if self._acquire_across_processes():
                return True
        except BaseException:
            self.release()
            raise
        self.release()
        return False

    def _acquire_across_processes(self) -> bool:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self._key()])
                self._advisory = bool(cursor.fetchone()[0])
            return self._advisory
        path = self._sqlite_path()
        if path is None or fcntl is None:
            return True
        handle = open(path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        try:
            if self._advisory:
                self._advisory = False
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self._key()])
            if self._file is not None:
                self._file.close()  # closing drops the flock
                self._file = None
        finally:
            if self._held:
                self._held = False
                with _held_in_process_guard:
                    _held_in_process.discard(self.job_id)

    def _key(self) -> int:
        return (LOCK_NAMESPACE << 32) | (self.job_id & 0xFFFFFFFF)

    def forget(self) -> None:
        """Remove the lock file of a finished job (SQLite); nothing to do on PostgreSQL."""
        path = self._sqlite_path()
        if path is not None:
            with suppress(OSError):
                path.unlink()


def job_is_running(job_id: int) -> bool:
    """Whether some live process holds the job's lock (is running it right now)."""
    lock = JobLock(job_id)
    if lock.acquire():
        lock.release()
        return False
    return True


# --- services ------------------------------------------------------------------------------


def _enqueue(job_id: int, queue: str | None = None) -> None:
    from .tasks import generate_codes_task  # the task module imports this one

    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: generate_codes_task.apply_async(args=[job_id], **options))


def _maker_for_bulk(campaign: Campaign) -> CodeMaker:
    if campaign.kind == Campaign.Kind.PROMOTION:
        raise CodesNotGenerated(_("An automatic promotion has no codes."))
    if campaign.kind == Campaign.Kind.GIFT_CARDS:
        raise CodesNotGenerated(
            _("Gift cards are issued one by one or imported, each with its balance.")
        )
    errors = code_settings_errors(code_values(campaign))
    if errors:
        raise InvalidCodePattern(details=errors)
    maker = code_maker(campaign)
    if maker.personalised:
        raise CodesNotGenerated(
            _(
                "Codes with {first_name} or {last_name} are made one at a time, when a code "
                "is published to a customer."
            )
        )
    return maker


@dataclass(frozen=True)
class CodeSpace:
    size: int
    existing: int
    pending: int

    @property
    def available(self) -> int:
        return max(self.size - self.existing - self.pending, 0)


def code_space(campaign: Campaign, maker: CodeMaker | None = None) -> CodeSpace:
    """How many codes the campaign's pattern holds, how many codes the campaign has, and how
    many its unfinished jobs are still to make."""
    maker = maker or code_maker(campaign)
    pending = (
        CodeGenerationJob.objects.filter(campaign=campaign, status__in=ACTIVE).aggregate(
            left=Sum(F("requested") - F("generated"))
        )["left"]
        or 0
    )
    return CodeSpace(size=maker.space, existing=campaign.vouchers.count(), pending=pending)


def start_generation(*, campaign: Campaign, count: int, created_by: str = "") -> CodeGenerationJob:
    """Queue a job that makes ``count`` new random codes for the campaign.

    Raises InvalidCodeCount, CodesNotGenerated, InvalidCodePattern, CodeSpaceTooSmall (with
    ``space_size``, ``existing``, ``pending`` and ``available`` in its details).
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_JOB_CODES:
        raise InvalidCodeCount(details={"count": count, "max": MAX_JOB_CODES})
    maker = _maker_for_bulk(campaign)
    space = code_space(campaign, maker)
    if count > space.available:
        raise CodeSpaceTooSmall(
            _(
                "The pattern %(pattern)s holds %(size)s codes (%(chars)d characters, %(n)d "
                "random); %(used)s exist or are being made, so at most %(available)s more, "
                "not %(count)s."
            )
            % {
                "pattern": f"{maker.prefix}{maker.pattern}{maker.suffix}",
                "size": f"{space.size:,}",
                "chars": len(maker.charset),
                "n": maker.randoms,
                "used": f"{space.existing + space.pending:,}",
                "available": f"{space.available:,}",
                "count": f"{count:,}",
            },
            details={
                "space_size": space.size,
                "existing": space.existing,
                "pending": space.pending,
                "available": space.available,
                "requested": count,
            },
        )
    with transaction.atomic():
        job = CodeGenerationJob.objects.create(
            campaign=campaign, requested=count, created_by=(created_by or "")[:150]
        )
        _enqueue(job.pk)
    return job


def job_by_id(job_id: int) -> CodeGenerationJob:
    job = (
        CodeGenerationJob.objects.select_related("campaign").filter(pk=job_id).first()
        if 0 < job_id < 2**63
        else None
    )
    if job is None:
        raise CodeJobNotFound(details={"id": job_id})
    return job


def _finish(job: CodeGenerationJob, status: str, message: str = "") -> None:
    job.status = status
    job.finished_at = timezone.now()
    job.message = message
    job.save(update_fields=["status", "finished_at", "message", "generated", "cancel_requested"])


@transaction.atomic
def cancel_generation(*, job: CodeGenerationJob) -> CodeGenerationJob:
    """Stop a job: a queued one (or one whose worker died) at once, a running one after its
    current batch. The codes made so far stay. Raises CodeJobFinished."""
    locked = CodeGenerationJob.objects.select_for_update().get(pk=job.pk)
    if locked.status in FINAL:
        raise CodeJobFinished(
            _("The job has already finished (%(status)s).") % {"status": locked.status},
            details={"status": locked.status},
        )
    if locked.status == CodeGenerationJob.Status.QUEUED or not job_is_running(locked.pk):
        locked.cancel_requested = True
        locked.generated = Voucher.objects.filter(job=locked).count()
        _finish(locked, CodeGenerationJob.Status.CANCELLED, _("Cancelled."))
        transaction.on_commit(JobLock(locked.pk).forget)
    else:
        locked.cancel_requested = True
        locked.save(update_fields=["cancel_requested"])
    return locked


@transaction.atomic
def resume_generation(*, job: CodeGenerationJob, queue: str | None = None) -> CodeGenerationJob:
    """Queue a job again: one whose worker died (running, nobody holds its lock), one whose
    message was lost (queued) or one that failed. Raises CodeJobFinished, CodeJobRunning."""
    locked = CodeGenerationJob.objects.select_for_update().get(pk=job.pk)
    if locked.status in (CodeGenerationJob.Status.DONE, CodeGenerationJob.Status.CANCELLED):
        raise CodeJobFinished(
            _("The job has already finished (%(status)s).") % {"status": locked.status},
            details={"status": locked.status},
        )
    if locked.status == CodeGenerationJob.Status.RUNNING and job_is_running(locked.pk):
        raise CodeJobRunning()
    if locked.status == CodeGenerationJob.Status.FAILED:
        locked.status = CodeGenerationJob.Status.QUEUED
        locked.finished_at = None
        locked.message = ""
        locked.save(update_fields=["status", "finished_at", "message"])
    _enqueue(locked.pk, queue)
    return locked


def resume_orphaned_jobs(*, queue: str | None = None) -> list[int]:
    """Queue again every running job whose worker died; the ids of those jobs."""
    resumed = []
    running = CodeGenerationJob.objects.filter(status=CodeGenerationJob.Status.RUNNING)
    for job in running.only("pk", "status").order_by("pk"):
        if job_is_running(job.pk):
            continue
        try:
            resume_generation(job=job, queue=queue)
        except (CodeJobFinished, CodeJobRunning):
            continue  # it moved on between the two looks
        logger.info("Code generation job %s: its worker is gone; queued again", job.pk)
        resumed.append(job.pk)
    return resumed


# --- the worker's side ---------------------------------------------------------------------


def default_batch_size() -> int:
    return POSTGRES_BATCH if connection.vendor == "postgresql" else SQLITE_BATCH


def existing_codes(codes: list[str]) -> set[str]:
    """Which of these upper-case codes some voucher already has (in any case), on the
    ``voucher_code_unique`` index."""
    chunk = 10_000 if connection.vendor == "postgresql" else 900  # SQLite's 999 variables
    found: set[str] = set()
    for start in range(0, len(codes), chunk):
        found.update(
            Voucher.objects.annotate(upper_code=Upper("code"))
            .filter(upper_code__in=codes[start : start + chunk])
            .values_list("upper_code", flat=True)
        )
    return found


@dataclass
class BatchOutcome:
    stop: bool = False
    generated: int = 0
    requested: int = 0
    drawn: int = 0
    inserted: int = 0
    collisions: int = 0
    fresh_rate: float = 1.0


def _claim(job_id: int) -> CodeGenerationJob | None:
    """Mark the job running and recount its codes; None when there is nothing to run."""
    with transaction.atomic():
        job = (
            CodeGenerationJob.objects.select_for_update()
            .select_related("campaign")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in FINAL:
            return None
        job.generated = Voucher.objects.filter(job=job).count()
        if job.cancel_requested:
            _finish(job, CodeGenerationJob.Status.CANCELLED, _("Cancelled."))
            return None
        job.status = CodeGenerationJob.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "started_at", "generated"])
        return job


def _batch(job_id: int, maker: CodeMaker, size: int, fresh_rate: float) -> BatchOutcome:
    """One transaction: check the job, insert up to ``size`` new codes and store the job's
    count of codes, in the same transaction as the codes themselves."""
    with transaction.atomic():
        job = CodeGenerationJob.objects.select_for_update().get(pk=job_id)
        if job.status != CodeGenerationJob.Status.RUNNING:
            return BatchOutcome(stop=True)
        if job.cancel_requested:
            _finish(job, CodeGenerationJob.Status.CANCELLED, _("Cancelled."))
            return BatchOutcome(stop=True)
        remaining = job.requested - job.generated
        if remaining <= 0:
            _finish(job, CodeGenerationJob.Status.DONE)
            return BatchOutcome(stop=True)
        target = min(size, remaining)
        if connection.vendor == "postgresql":
            # The batch and the job's count commit together: should the server lose the
            # last batches in a crash, it loses both, and the job resumes from its count.
            # A later ordinary commit (a publication of one of these codes) flushes them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if connection.vendor == "postgresql" and fresh_rate >= DIRECT_INSERT_RATE:
            # A roomy space: insert straight away, the unique index skips the rare collision.
            candidates = list(dict.fromkeys(maker.draw(target)))
            drawn = target
            inserted = _insert_postgresql(job, candidates)
            fresh, made = inserted, job.generated + inserted
        else:
            # Draw more than needed when codes keep colliding (a crowded space), and look
            # them up first. At most MAX_DRAW_FACTOR batches' worth, or four times a small
            # space (so that its last free codes are found), so memory stays bounded.
            cap = max(size * MAX_DRAW_FACTOR, min(maker.space * 4, SMALL_SPACE_DRAW))
            drawn = min(math.ceil(target / fresh_rate * 1.1) + 16, cap)
            candidates = list(dict.fromkeys(maker.draw(drawn)))  # unique, in drawn order
            if connection.vendor == "postgresql":
                fresh, inserted = _insert_postgresql_checked(job, candidates, target)
                made = job.generated + inserted
            else:
                fresh = _insert_portable(job, candidates, target)
                made = Voucher.objects.filter(job=job).count()
        inserted = made - job.generated
        job.generated = made
        job.save(update_fields=["generated"])
        return BatchOutcome(
            generated=made,
            requested=job.requested,
            drawn=drawn,
            inserted=inserted,
            collisions=(drawn - len(candidates)) + (len(candidates) - fresh),
            fresh_rate=fresh / drawn,
        )


def _new_voucher(job: CodeGenerationJob, code: str, now) -> Voucher:
    return Voucher(code=code, campaign_id=job.campaign_id, job_id=job.pk, created_at=now)


def _insert_portable(job: CodeGenerationJob, candidates: list[str], target: int) -> int:
    """Insert the first ``target`` candidates no voucher has yet; how many were new."""
    taken = existing_codes(candidates)
    fresh = [code for code in candidates if code not in taken]
    now = timezone.now()
    wanted = [_new_voucher(job, code, now) for code in fresh[:target]]
    # ignore_conflicts: a code another process inserted since the check is skipped.
    Voucher.objects.bulk_create(wanted, ignore_conflicts=True)
    return len(fresh)


def _voucher_insert_sql(job: CodeGenerationJob) -> tuple[str, str, str, list]:
    """The table, its columns, the values of ``chosen.code`` in a new voucher of the job and
    their parameters. Every other column gets the value Django would give a new voucher (from
    a model instance), so the statement follows the model's fields."""
    template = _new_voucher(job, "", timezone.now())
    columns, values, params = [], [], []
    for field in Voucher._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name == "code":
            values.append("chosen.code")
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.pre_save(template, True), connection))
    table = connection.ops.quote_name(Voucher._meta.db_table)
    return table, ", ".join(columns), ", ".join(values), params


def _insert_postgresql(job: CodeGenerationJob, codes: list[str]) -> int:
    """Insert these codes as one array; a code that exists is skipped by the unique index.
    How many were inserted."""
    table, columns, values, params = _voucher_insert_sql(job)
    # Identifiers from the model, quoted; every value is a parameter.
    sql = f"""
        INSERT INTO {table} ({columns})
        SELECT {values} FROM unnest(%s::text[]) AS chosen (code)
        ON CONFLICT DO NOTHING
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, codes])
        return cursor.rowcount


def _insert_postgresql_checked(
    job: CodeGenerationJob, candidates: list[str], target: int
) -> tuple[int, int]:
    """Look each candidate up on the ``voucher_code_unique`` index and insert the first
    ``target`` new ones, in one statement; (how many were new, how many were inserted)."""
    table, columns, values, params = _voucher_insert_sql(job)
    code = connection.ops.quote_name(Voucher._meta.get_field("code").column)
    sql = f"""
        WITH candidate AS (
            SELECT code, n FROM unnest(%s::text[]) WITH ORDINALITY AS c (code, n)
        ), fresh AS MATERIALIZED (
            SELECT code, n FROM candidate
            WHERE NOT EXISTS (SELECT 1 FROM {table} v WHERE UPPER(v.{code}) = candidate.code)
        ), inserted AS (
            INSERT INTO {table} ({columns})
            SELECT {values} FROM (SELECT code FROM fresh ORDER BY n LIMIT %s) chosen
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM inserted)
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [candidates, *params, target])
        fresh, inserted = cursor.fetchone()
    return fresh, inserted


def run_generation(job_id: int, *, batch_size: int | None = None) -> str:
    """Run a job to its end (done, cancelled or failed) in batches; what the task calls.
    Safe to call again for the same job: it continues from the codes in the database, and
    returns ``"busy"`` at once while another process runs it."""
    lock = JobLock(job_id)
    for attempt in range(3):
        if lock.acquire():
            break
        time.sleep(0.3 * (attempt + 1))  # a look by job_is_running holds it for an instant
    else:
        logger.info("Code generation job %s: another process runs it", job_id)
        return "busy"
    try:
        status = _run(job_id, batch_size or default_batch_size())
    finally:
        lock.release()
    if status in FINAL or status == "finished":
        lock.forget()
    return status


def _run(job_id: int, size: int) -> str:
    job = _claim(job_id)
    if job is None:
        return "finished"
    try:
        maker = _maker_for_bulk(job.campaign)
    except PromotionError as e:
        _fail(job_id, e.message)
        return CodeGenerationJob.Status.FAILED
    logger.info("Code generation job %s: %s of %s codes", job_id, job.generated, job.requested)
    # The first guess of how many drawn codes are new: the campaign's share of its space.
    existing = Voucher.objects.filter(campaign_id=job.campaign_id).count()
    fresh_rate = max(1 - existing / maker.space, 1e-6)
    fruitless, collisions = 0, 0
    try:
        while True:
            outcome = _batch(job_id, maker, size, fresh_rate)
            if outcome.stop:
                break
            collisions += outcome.collisions
            # Never 0: after a fruitless batch the next one draws more.
            fresh_rate = max(outcome.fresh_rate, fresh_rate / 4, 1e-6)
            fruitless = 0 if outcome.inserted else fruitless + 1
            logger.info(
                "Code generation job %s: %s of %s codes",
                job_id,
                outcome.generated,
                outcome.requested,
            )
            if fruitless >= MAX_FRUITLESS_BATCHES:
                _fail(
                    job_id,
                    _(
                        "Stopped at %(made)s of %(requested)s codes: %(n)d batches in a row "
                        "found no new code, the pattern's %(size)s codes are (nearly) all used."
                    )
                    % {
                        "made": f"{outcome.generated:,}",
                        "requested": f"{outcome.requested:,}",
                        "n": fruitless,
                        "size": f"{maker.space:,}",
                    },
                )
                break
    except Exception as e:
        logger.exception("Code generation job %s failed", job_id)
        with suppress(DatabaseError):
            _fail(job_id, _("Stopped by an error: %(error)s") % {"error": e})
        raise
    final = CodeGenerationJob.objects.get(pk=job_id)
    if final.status == CodeGenerationJob.Status.DONE and collisions:
        final.message = _("%(n)s drawn codes already existed and were replaced.") % {
            "n": f"{collisions:,}"
        }
        final.save(update_fields=["message"])
    logger.info(
        "Code generation job %s: %s, %s of %s codes, %s collisions",
        job_id,
        final.status,
        final.generated,
        final.requested,
        collisions,
    )
    return final.status


def _fail(job_id: int, message: str) -> None:
    with transaction.atomic():
        job = CodeGenerationJob.objects.select_for_update().get(pk=job_id)
        if job.status not in FINAL:
            job.generated = Voucher.objects.filter(job=job).count()
            _finish(job, CodeGenerationJob.Status.FAILED, message)
