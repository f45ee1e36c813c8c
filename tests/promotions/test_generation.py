"""Bulk code generation: the space check, jobs, collisions, cancel, resume, the API."""

import itertools
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.db.models.functions import Upper
from django.urls import path

from config import urls as config_urls
from promotions import generation
from promotions.admin_codes import (
    CampaignCodesMixin,
    CodeGenerationJobAdmin,
    VoucherImportExportMixin,
)
from promotions.codes import charset_for
from promotions.generation import (
    CodeJobFinished,
    CodeJobRunning,
    CodesNotGenerated,
    CodeSpaceTooSmall,
    InvalidCodeCount,
    InvalidCodePattern,
    JobLock,
    cancel_generation,
    resume_generation,
    resume_orphaned_jobs,
    run_generation,
    start_generation,
)
from promotions.models import Campaign, CodeGenerationJob, Voucher
from promotions.tasks import generate_codes_task, resume_code_jobs_of_dead_workers
from tests.promotions.factories import CampaignFactory, VoucherFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

Status = CodeGenerationJob.Status
DIGITS = charset_for("digits")  # 8 characters: 2-9


def small_campaign(pattern: str = "##", **fields) -> Campaign:
    """Codes of digits 2-9: a space of 8 ** (number of '#')."""
    return CampaignFactory(code_pattern=pattern, code_charset="digits", **fields)


def codes_of(campaign: Campaign) -> list[str]:
    return list(campaign.vouchers.values_list("code", flat=True))


def queued_job(campaign: Campaign, requested: int, **fields) -> CodeGenerationJob:
    return CodeGenerationJob.objects.create(campaign=campaign, requested=requested, **fields)


# --- starting a job ------------------------------------------------------------------------


def test_start_generation_makes_the_codes_asked_for(django_capture_on_commit_callbacks):
    campaign = CampaignFactory(code_prefix="XMAS-", code_pattern="####-####")
    with django_capture_on_commit_callbacks(execute=True):
        job = start_generation(campaign=campaign, count=500, created_by="anna")
    job.refresh_from_db()
    assert (job.status, job.generated, job.requested, job.progress) == (Status.DONE, 500, 500, 1)
    assert job.created_by == "anna" and job.started_at and job.finished_at
    codes = codes_of(campaign)
    assert len(codes) == len(set(codes)) == 500
    assert all(c.startswith("XMAS-") and c[9] == "-" and len(c) == 14 for c in codes)
    assert Voucher.objects.filter(job=job).count() == 500


def test_start_generation_queues_the_task_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = start_generation(campaign=CampaignFactory(), count=10)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == Status.QUEUED and job.generated == 0


def test_request_larger_than_the_space_is_refused_with_its_size():
    campaign = small_campaign("##")
    with pytest.raises(CodeSpaceTooSmall) as refused:
        start_generation(campaign=campaign, count=65)
    assert refused.value.details["space_size"] == 64
    assert refused.value.details["available"] == 64
    assert "holds 64 codes" in refused.value.message
    assert "not 65" in refused.value.message
    assert not CodeGenerationJob.objects.exists()


def test_space_left_counts_existing_codes_and_unfinished_jobs():
    campaign = small_campaign("##")
    VoucherFactory.create_batch(10, campaign=campaign)
    queued_job(campaign, 20)
    queued_job(campaign, 30, status=Status.DONE)  # finished: its codes are in the count
    with pytest.raises(CodeSpaceTooSmall) as refused:
        start_generation(campaign=campaign, count=35)
    details = refused.value.details
    assert (details["existing"], details["pending"], details["available"]) == (10, 20, 34)
    start_generation(campaign=campaign, count=34)


@pytest.mark.parametrize("count", [0, -1, 10_000_001, 2.5, True, "10"])
def test_bad_count_is_refused(count):
    with pytest.raises(InvalidCodeCount):
        start_generation(campaign=CampaignFactory(), count=count)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": Campaign.Kind.PROMOTION},
        {"kind": Campaign.Kind.GIFT_CARDS},
        {"code_pattern": "{first_name}-####"},
    ],
)
def test_campaigns_whose_codes_are_not_made_in_bulk_are_refused(fields):
    with pytest.raises(CodesNotGenerated):
        start_generation(campaign=CampaignFactory(**fields), count=1)


def test_a_pattern_that_cannot_make_codes_is_refused_with_the_field():
    with pytest.raises(InvalidCodePattern) as refused:
        start_generation(campaign=CampaignFactory(code_pattern="NOHASH"), count=1)
    assert "code_pattern" in refused.value.details


# --- collisions ----------------------------------------------------------------------------


def test_the_rest_of_a_small_space_is_filled_exactly():
    campaign = small_campaign("##")
    other = small_campaign("##")
    # 40 of the 64 codes exist already, some in another campaign, some in lower case.
    all_codes = [a + b for a in DIGITS for b in DIGITS]
    VoucherFactory.create_batch(1, campaign=other, code="x23")  # not of the space
    for i, code in enumerate(all_codes[:40]):
        owner = campaign if i % 2 else other
        VoucherFactory(campaign=owner, code=code)
    job = queued_job(campaign, 24)
    assert run_generation(job.pk, batch_size=5) == Status.DONE
    job.refresh_from_db()
    assert (job.status, job.generated) == (Status.DONE, 24)
    made = set(Voucher.objects.filter(job=job).values_list("code", flat=True))
    assert made == set(all_codes[40:])
    uppers = list(Voucher.objects.annotate(u=Upper("code")).values_list("u", flat=True))
    assert len(uppers) == len(set(uppers))


def test_a_whole_space_is_generated_without_duplicates():
    campaign = small_campaign("####")  # 4,096 codes
    job = queued_job(campaign, 8**4)
    run_generation(job.pk, batch_size=500)
    job.refresh_from_db()
    codes = codes_of(campaign)
    assert (job.status, job.generated, len(codes), len(set(codes))) == (
        Status.DONE,
        4096,
        4096,
        4096,
    )
    assert "already existed and were replaced" in job.message


def test_a_crowded_space_is_filled_exactly_at_scale():
    campaign = small_campaign("#####")  # 32,768 codes
    space = ["".join(p) for p in itertools.product(DIGITS, repeat=5)]
    taken = random.Random(7).sample(space, 12_768)
    other = CampaignFactory()
    Voucher.objects.bulk_create(
        Voucher(campaign=campaign if i % 3 else other, code=code) for i, code in enumerate(taken)
    )
    job = queued_job(campaign, 20_000)
    assert run_generation(job.pk) == Status.DONE
    job.refresh_from_db()
    made = set(Voucher.objects.filter(job=job).values_list("code", flat=True))
    assert job.generated == len(made) == 20_000
    assert made == set(space) - set(taken)
    assert Voucher.objects.count() == 32_768


def test_codes_of_other_campaigns_in_any_case_are_collisions():
    campaign = small_campaign("#", code_prefix="A")
    other = CampaignFactory()
    for digit in DIGITS[:6]:
        VoucherFactory(campaign=other, code=f"a{digit}")
    job = queued_job(campaign, 2)
    run_generation(job.pk, batch_size=10)
    assert set(codes_of(campaign)) == {f"A{d}" for d in DIGITS[6:]}


def test_a_used_up_space_fails_the_job_with_a_message():
    campaign = small_campaign("#", code_prefix="B")
    other = CampaignFactory()
    for digit in DIGITS[:6]:
        VoucherFactory(campaign=other, code=f"B{digit}")
    job = queued_job(campaign, 5)  # the space check only knows the campaign's own codes
    assert run_generation(job.pk, batch_size=10) == Status.FAILED
    job.refresh_from_db()
    assert (job.status, job.generated) == (Status.FAILED, 2)
    assert "Stopped at 2 of 5 codes" in job.message and "8 codes" in job.message
    assert job.finished_at is not None


def test_a_job_never_makes_more_than_requested():
    campaign = CampaignFactory()
    job = queued_job(campaign, 30, status=Status.RUNNING)
    for i in range(30):
        VoucherFactory(campaign=campaign, code=f"MADE{i}", job=job)
    run_generation(job.pk, batch_size=7)
    job.refresh_from_db()
    assert (job.status, job.generated, campaign.vouchers.count()) == (Status.DONE, 30, 30)


# --- running again, cancel, resume ---------------------------------------------------------


def test_a_job_run_twice_makes_its_codes_once():
    job = queued_job(CampaignFactory(), 25)
    generate_codes_task.delay(job.pk, batch_size=10)
    generate_codes_task.delay(job.pk, batch_size=10)
    job.refresh_from_db()
    assert (job.status, job.generated, Voucher.objects.count()) == (Status.DONE, 25, 25)


def test_a_job_held_by_another_process_is_left_to_it(monkeypatch):
    monkeypatch.setattr(generation.time, "sleep", lambda seconds: None)
    job = queued_job(CampaignFactory(), 5)
    lock = JobLock(job.pk)
    assert lock.acquire()
    try:
        assert run_generation(job.pk) == "busy"
    finally:
        lock.release()
    job.refresh_from_db()
    assert job.status == Status.QUEUED and not Voucher.objects.exists()


def test_cancel_a_queued_job_stops_it_at_once():
    job = queued_job(CampaignFactory(), 100)
    cancel_generation(job=job)
    job.refresh_from_db()
    assert (job.status, job.cancel_requested) == (Status.CANCELLED, True)
    assert job.finished_at is not None
    run_generation(job.pk)
    assert not Voucher.objects.exists()


def test_cancel_a_running_job_stops_it_between_batches(monkeypatch):
    job = queued_job(CampaignFactory(), 100)
    real_batch = generation._batch
    batches = []

    def batch_then_cancel(*args, **kwargs):
        outcome = real_batch(*args, **kwargs)
        if not batches:
            cancel_generation(job=job)  # while this process runs the job
        batches.append(outcome)
        return outcome

    monkeypatch.setattr(generation, "_batch", batch_then_cancel)
    assert run_generation(job.pk, batch_size=10) == Status.CANCELLED
    job.refresh_from_db()
    assert (job.status, job.generated, Voucher.objects.count()) == (Status.CANCELLED, 10, 10)


def test_cancel_a_finished_job_is_refused():
    job = queued_job(CampaignFactory(), 1, status=Status.DONE)
    with pytest.raises(CodeJobFinished):
        cancel_generation(job=job)


def test_a_running_job_whose_worker_died_is_resumed_to_the_exact_count(
    django_capture_on_commit_callbacks,
):
    campaign = CampaignFactory()
    job = queued_job(campaign, 40, status=Status.RUNNING, generated=12)
    for i in range(15):  # more than recorded: the batch committed, the worker died after
        VoucherFactory(campaign=campaign, code=f"DONE{i}", job=job)
    with django_capture_on_commit_callbacks(execute=True):
        assert resume_orphaned_jobs() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.generated, campaign.vouchers.count()) == (Status.DONE, 40, 40)


def test_a_job_a_live_process_runs_is_not_resumed(django_capture_on_commit_callbacks):
    job = queued_job(CampaignFactory(), 10, status=Status.RUNNING)
    lock = JobLock(job.pk)
    assert lock.acquire()
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert resume_orphaned_jobs() == []
            with pytest.raises(CodeJobRunning):
                resume_generation(job=job)
    finally:
        lock.release()
    assert callbacks == []


def test_a_failed_job_can_be_resumed(django_capture_on_commit_callbacks):
    job = queued_job(CampaignFactory(), 10, status=Status.FAILED, message="Stopped")
    with django_capture_on_commit_callbacks(execute=True):
        resume_generation(job=job)
    job.refresh_from_db()
    assert (job.status, job.generated, job.message) == (Status.DONE, 10, "")


def test_a_finished_job_cannot_be_resumed():
    with pytest.raises(CodeJobFinished):
        resume_generation(job=queued_job(CampaignFactory(), 1, status=Status.CANCELLED))


def test_a_starting_worker_resumes_jobs_of_dead_workers(
    django_capture_on_commit_callbacks, monkeypatch
):
    # The handler closes the worker's connections; here that is the test's own.
    monkeypatch.setattr("promotions.tasks.connections.close_all", lambda: None)
    job = queued_job(CampaignFactory(), 10, status=Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        resume_code_jobs_of_dead_workers(sender=None)
    job.refresh_from_db()
    assert job.status == Status.DONE


def test_resume_command_queues_dead_workers_jobs(django_capture_on_commit_callbacks, capsys):
    job = queued_job(CampaignFactory(), 10, status=Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("resume_code_jobs")
    assert f"Queued again: {job.pk}." in capsys.readouterr().out
    job.refresh_from_db()
    assert job.status == Status.DONE


def test_resume_command_names_jobs_it_cannot_resume(capsys):
    from django.core.management.base import CommandError

    job = queued_job(CampaignFactory(), 1, status=Status.DONE)
    with pytest.raises(CommandError):
        call_command("resume_code_jobs", str(job.pk), "999999")
    err = capsys.readouterr().err
    assert f"Job {job.pk}: The job has already finished" in err
    assert "Job 999999: No code generation job" in err


# --- API -----------------------------------------------------------------------------------


def error_of(response) -> dict:
    return response.json()["error"]


def test_api_starts_a_job_and_answers_202(api, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/campaigns/{campaign.pk}/codes", {"count": 50})
    assert response.status_code == 202, response.content
    body = response.json()
    job = CodeGenerationJob.objects.get()
    assert body["id"] == job.pk and body["campaign"] == campaign.pk
    assert body["requested"] == 50 and body["status"] == "queued"
    assert body["created_by"] == "checkout"
    assert response["Location"].endswith(f"/api/v1/code-jobs/{job.pk}")
    shown = api.get(f"/api/v1/code-jobs/{job.pk}").json()
    assert (shown["status"], shown["generated"], shown["progress"]) == ("done", 50, 1.0)


def test_api_refuses_more_codes_than_the_space_holds(api):
    campaign = small_campaign("##")
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/codes", {"count": 100})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "code_space_too_small"
    assert error["details"]["space_size"] == 64 and "64" in error["message"]


@pytest.mark.parametrize("body", [{}, {"count": 0}, {"count": "ten"}, {"count": 1.5}, []])
def test_api_refuses_a_bad_count(api, body):
    response = api.post(f"/api/v1/campaigns/{CampaignFactory().pk}/codes", body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"


def test_api_refuses_unknown_fields(api):
    response = api.post(f"/api/v1/campaigns/{CampaignFactory().pk}/codes", {"count": 1, "x": 1})
    assert response.status_code == 400


def test_api_unknown_campaign_is_404(api):
    response = api.post("/api/v1/campaigns/999999/codes", {"count": 1})
    assert response.status_code == 404
    assert error_of(response)["code"] == "campaign_not_found"


def test_api_refuses_a_promotion(api):
    campaign = CampaignFactory(kind=Campaign.Kind.PROMOTION)
    response = api.post(f"/api/v1/campaigns/{campaign.pk}/codes", {"count": 1})
    assert response.status_code == 409
    assert error_of(response)["code"] == "codes_not_generated"


def test_api_unknown_job_is_404(api):
    response = api.get("/api/v1/code-jobs/999999")
    assert response.status_code == 404
    assert error_of(response)["code"] == "code_job_not_found"


def test_api_cancels_a_job(api):
    job = queued_job(CampaignFactory(), 10)
    response = api.post(f"/api/v1/code-jobs/{job.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_api_cancel_of_a_finished_job_is_409(api):
    job = queued_job(CampaignFactory(), 10, status=Status.DONE)
    response = api.post(f"/api/v1/code-jobs/{job.pk}/cancel")
    assert response.status_code == 409
    assert error_of(response)["code"] == "code_job_finished"


def test_api_needs_a_key(client):
    job = queued_job(CampaignFactory(), 10)
    assert client.get(f"/api/v1/code-jobs/{job.pk}").status_code == 401


# --- a real worker killed mid-job ----------------------------------------------------------

WORKER_REQUESTED = 20_000
WORKER_BATCH = 100  # 200 batches: time enough to kill the worker half-way
SEND = """
from promotions.tasks import generate_codes_task
generate_codes_task.apply_async(args=[{job}], kwargs={{"batch_size": {batch}}}, queue={queue!r})
"""


class SharedDatabase:
    """The test database, reachable from worker processes. PostgreSQL: as it is. SQLite: the
    in-memory test database is copied to a file for the workers, and copied back after."""

    def __init__(self, folder: Path):
        self.file = folder / "shared.sqlite3"

    @property
    def url(self) -> str:
        settings = connection.settings_dict
        if connection.vendor == "postgresql":
            password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
            return (
                f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:"
                f"{settings['PORT'] or 5432}/{settings['NAME']}"
            )
        return f"sqlite:///{self.file}"

    def __enter__(self):
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            with sqlite3.connect(self.file) as copy:
                connection.connection.backup(copy)
        return self

    def __exit__(self, *exc):
        if connection.vendor == "sqlite":
            with sqlite3.connect(self.file) as source:
                source.backup(connection.connection)


def start_worker(env: dict, queue: str, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [
                *[sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo"],
                *["--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "info"],
                *["-Q", queue, "-n", f"{queue}-{log.stem}@%h"],
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, *, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            text = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            raise AssertionError(f"timed out waiting for {what}\n{text}")
        time.sleep(0.05)


def progress_in(log: Path, job_id: int) -> int:
    found = re.findall(rf"Code generation job {job_id}: (\d+) of", log.read_text())
    return int(found[-1]) if found else 0


@pytest.mark.django_db(transaction=True)
def test_a_job_survives_a_worker_restart(tmp_path):
    campaign = CampaignFactory()
    job = queued_job(campaign, WORKER_REQUESTED)
    queue = f"test-codes-{uuid.uuid4().hex[:8]}"  # no other worker listens on it
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    logs = [first_log, second_log]
    with SharedDatabase(tmp_path) as shared:
        env = {
            **os.environ,
            "DATABASE_URL": shared.url,
            "OFFERWISE_DATA_DIR": str(tmp_path),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LOG_LEVEL": "INFO",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        first = start_worker(env, queue, first_log)
        try:
            sent = subprocess.run(
                [
                    *[sys.executable, "manage.py", "shell", "--no-imports", "-c"],
                    SEND.format(job=job.pk, batch=WORKER_BATCH, queue=queue),
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert sent.returncode == 0, sent.stderr
            wait_for(
                lambda: progress_in(first_log, job.pk) > 0,
                timeout=120,
                what="the first worker's first batch",
                logs=logs,
            )
        finally:
            first.kill()  # SIGKILL: no clean shutdown, the job stays "running"
            first.wait(timeout=30)
        made_by_first = progress_in(first_log, job.pk)
        assert 0 < made_by_first < WORKER_REQUESTED
        assert f"Code generation job {job.pk}: done" not in first_log.read_text()
        if connection.vendor == "postgresql":  # the server notices the dead session
            wait_for(
                lambda: not generation.job_is_running(job.pk),
                timeout=30,
                what="PostgreSQL to drop the dead worker's lock",
                logs=logs,
            )
        second = start_worker(env, queue, second_log)
        try:
            wait_for(
                lambda: f"Code generation job {job.pk}: done" in second_log.read_text(),
                timeout=180,
                what="the second worker to finish the job",
                logs=logs,
            )
        finally:
            second.terminate()
            second.wait(timeout=60)
    assert "queued again after a restart" in second_log.read_text()
    job.refresh_from_db()
    assert (job.status, job.generated) == (Status.DONE, WORKER_REQUESTED)
    codes = [code.upper() for code in codes_of(campaign)]
    assert len(codes) == len(set(codes)) == WORKER_REQUESTED
    assert Voucher.objects.filter(job=job).count() == WORKER_REQUESTED


# --- admin ---------------------------------------------------------------------------------

# The campaign and voucher admins take these pieces in promotions/admin.py; here they are
# mounted on a site of their own so that they are tested whatever that file does.
codes_site = AdminSite(name="codes_admin")


class CampaignWithCodes(CampaignCodesMixin, ModelAdmin):
    change_form_template = "admin/change_form.html"  # not the real campaign admin's
    readonly_fields = ("code_jobs",)
    actions = ("export_codes",)


class VoucherWithImport(VoucherImportExportMixin, ModelAdmin):
    pass


codes_site.register(Campaign, CampaignWithCodes)
codes_site.register(Voucher, VoucherWithImport)
codes_site.register(CodeGenerationJob, CodeGenerationJobAdmin)
urlpatterns = [path("codes-admin/", codes_site.urls), *config_urls.urlpatterns]
ADMIN = "/codes-admin/promotions"


@pytest.fixture
def staff(admin_client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return admin_client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.urls(__name__)
def test_job_list_shows_progress(staff):
    queued_job(CampaignFactory(name="Summer"), 1000, generated=250, status=Status.RUNNING)
    page = staff.get(f"{ADMIN}/codegenerationjob/").content.decode()
    assert '<progress value="250" max="1000"' in page
    assert "250 / 1,000 (25%)" in page and "Summer" in page


@pytest.mark.urls(__name__)
def test_job_actions_cancel_and_resume(staff, django_capture_on_commit_callbacks):
    campaign = CampaignFactory()
    queued = queued_job(campaign, 10)
    dead = queued_job(campaign, 10, status=Status.RUNNING)
    done = queued_job(campaign, 10, status=Status.DONE)
    response = staff.post(
        f"{ADMIN}/codegenerationjob/",
        {"action": "cancel_jobs", "_selected_action": [queued.pk, done.pk]},
        follow=True,
    )
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED
    assert any("has already finished" in m for m in messages_of(response))
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(
            f"{ADMIN}/codegenerationjob/",
            {"action": "resume_jobs", "_selected_action": [dead.pk]},
        )
    dead.refresh_from_db()
    assert (dead.status, dead.generated) == (Status.DONE, 10)


@pytest.mark.urls(__name__)
def test_generate_codes_page_shows_the_space_and_starts_a_job(
    staff, django_capture_on_commit_callbacks
):
    campaign = small_campaign("###")
    url = f"{ADMIN}/campaign/{campaign.pk}/generate-codes/"
    page = staff.get(url).content.decode()
    assert "512" in page and "23456789" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(url, {"count": 100})
    job = CodeGenerationJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}/codegenerationjob/{job.pk}/change/"
    assert job.created_by == "admin" and campaign.vouchers.count() == 100
    assert f"#{job.pk}" in staff.get(f"{ADMIN}/campaign/{campaign.pk}/change/").content.decode()


@pytest.mark.urls(__name__)
def test_generate_codes_page_refuses_more_than_the_space(staff):
    campaign = small_campaign("#")
    page = staff.post(f"{ADMIN}/campaign/{campaign.pk}/generate-codes/", {"count": 9})
    assert "holds 8 codes" in page.content.decode()
    assert not CodeGenerationJob.objects.exists()


@pytest.mark.urls(__name__)
def test_export_codes_page_and_action(staff):
    campaign = CampaignFactory(name="Summer")
    VoucherFactory(campaign=campaign, code="S-1")
    VoucherFactory(code="OTHER")
    response = staff.get(f"{ADMIN}/campaign/{campaign.pk}/export-codes/")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[1].startswith("S-1,Summer,")
    assert "OTHER" not in text
    response = staff.post(
        f"{ADMIN}/campaign/", {"action": "export_codes", "_selected_action": [campaign.pk]}
    )
    assert "S-1,Summer" in b"".join(response.streaming_content).decode()


def _hidden_inputs(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


@pytest.mark.urls(__name__)
def test_admin_import_reports_bad_rows_and_imports_a_good_file(staff):
    CampaignFactory(name="Summer")
    VoucherFactory(code="TAKEN")
    url = f"{ADMIN}/voucher/import/"
    bad = SimpleUploadedFile("codes.csv", b"code,campaign\ntaken,Summer\nA B,Summer\n")
    page = staff.post(url, {"format": "0", "import_file": bad}).content.decode()
    assert "Already exists as" in page and "Bad characters" in page
    assert Voucher.objects.count() == 1
    good = SimpleUploadedFile("codes.csv", b"code,campaign\nNEW-1,Summer\nNEW-2,Summer\n")
    page = staff.post(url, {"format": "0", "import_file": good}).content.decode()
    confirm = _hidden_inputs(page)
    staff.post(f"{ADMIN}/voucher/process_import/", confirm)
    assert set(Voucher.objects.values_list("code", flat=True)) == {"TAKEN", "NEW-1", "NEW-2"}
