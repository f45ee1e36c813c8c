"""The dashboard's code generation page: progress of every job, cancel a running one."""

import pytest

from promotions.models import CodeGenerationJob
from tests.promotions.factories import CampaignFactory

pytestmark = pytest.mark.django_db

PAGE = "/promotions/codes/jobs/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_page_needs_a_sign_in(client):
    assert client.get(PAGE).status_code == 302


def test_jobs_show_their_progress_and_running_ones_refresh(admin_client):
    campaign = CampaignFactory(name="Welcome codes")
    CodeGenerationJob.objects.create(
        campaign=campaign, requested=200, generated=50, status="running"
    )
    page = admin_client.get(PAGE).content.decode()
    assert "Welcome codes" in page
    assert 'max="200" value="50"' in page
    assert "25%" in page
    assert 'http-equiv="refresh"' in page


def test_finished_jobs_do_not_refresh_the_page(admin_client):
    CodeGenerationJob.objects.create(
        campaign=CampaignFactory(), requested=10, generated=10, status="done"
    )
    page = admin_client.get(PAGE).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "Cancel" not in page


def test_cancel_asks_the_job_to_stop(admin_client):
    job = CodeGenerationJob.objects.create(
        campaign=CampaignFactory(), requested=10, generated=2, status="running"
    )
    response = admin_client.post(f"/promotions/codes/jobs/{job.pk}/cancel", follow=True)
    job.refresh_from_db()
    assert job.cancel_requested or job.status == "cancelled"
    assert "stops after its current batch" in response.content.decode()
