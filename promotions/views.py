"""Dashboard pages of the promotions app."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError

from .generation import cancel_generation, job_by_id
from .models import CodeGenerationJob

ACTIVE = (CodeGenerationJob.Status.QUEUED, CodeGenerationJob.Status.RUNNING)


@login_required
@require_GET
def code_jobs(request: HttpRequest) -> HttpResponse:
    """Code generation jobs with their progress; the page refreshes while one is running."""
    jobs = CodeGenerationJob.objects.select_related("campaign").order_by("-created_at", "-pk")
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    running = any(job.status in ACTIVE for job in page.object_list)
    return render(
        request,
        "promotions/code_jobs.html",
        {"page": page, "running": running, "active": ACTIVE},
    )


@login_required
@require_POST
def code_job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    if not request.user.has_perm("promotions.change_codegenerationjob"):
        messages.error(request, _("You may not cancel code generation jobs."))
        return redirect("promotions:code_jobs")
    try:
        cancel_generation(job=job_by_id(job_id))
    except DomainError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("The job stops after its current batch."))
    return redirect("promotions:code_jobs")
