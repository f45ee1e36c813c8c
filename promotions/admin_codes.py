"""Admin for codes: generation jobs, the "Generate codes" page of a campaign, voucher import
and export.

``CodeGenerationJobAdmin`` is registered here. The rest is for the campaign and voucher
admins to take in:

- ``CampaignCodesMixin`` (before ``admin.ModelAdmin`` in the bases of the campaign admin):
  the pages ``<id>/generate-codes/`` and ``<id>/export-codes/``, the ``export_codes`` action
  and the ``code_jobs`` read-only field;
- ``VoucherImportExportMixin`` (before ``admin.ModelAdmin`` in the bases of the voucher
  admin): import and export of codes with ``promotions.resources.VoucherResource``.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX

from config.errors import DomainError

from . import generation
from .codes import code_maker
from .models import Campaign, CodeGenerationJob, Voucher
from .resources import VoucherResource, codes_csv_lines

Status = CodeGenerationJob.Status


def progress_bar(job: CodeGenerationJob):
    """``<progress>`` with "1,234 / 10,000 (12%)" beside it."""
    percent = int(job.progress * 100)
    return format_html(
        '<progress value="{}" max="{}" style="width: 8em">{}%</progress> {} / {} ({}%)',
        job.generated,
        job.requested or 1,
        percent,
        f"{job.generated:,}",
        f"{job.requested:,}",
        percent,
    )


# --- jobs ----------------------------------------------------------------------------------


@admin.register(CodeGenerationJob)
class CodeGenerationJobAdmin(admin.ModelAdmin):
    """Jobs are started from a campaign ("Generate codes") or the API; here they are followed,
    cancelled or resumed."""

    list_display = (
        "id",
        "campaign",
        "status",
        "display_progress",
        "cancel_requested",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status",)
    list_select_related = ("campaign",)
    search_fields = ("campaign__name",)
    actions = ("cancel_jobs", "resume_jobs")
    fields = (
        "campaign",
        "status",
        "display_progress",
        "requested",
        "generated",
        "cancel_requested",
        "message",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description=_("progress"))
    def display_progress(self, obj):
        return progress_bar(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing only; the actions below are what changes a job.
        return False

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status not in generation.FINAL:
            return False  # a worker may be writing its codes
        return super().has_delete_permission(request, obj)

    def has_operate_permission(self, request):
        # The model's change permission; the form itself stays read-only.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def _each(self, request, queryset, service, done_message) -> None:
        done = 0
        for job in queryset:
            try:
                service(job=job)
            except DomainError as e:
                self.message_user(request, f"#{job.pk}: {e.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Cancel the selected jobs"), permissions=["operate"])
    def cancel_jobs(self, request, queryset):
        self._each(
            request,
            queryset,
            generation.cancel_generation,
            lambda n: (
                ngettext(
                    "%(n)d job cancelled (a running job stops after its current batch).",
                    "%(n)d jobs cancelled (running jobs stop after their current batch).",
                    n,
                )
                % {"n": n}
            ),
        )

    @admin.action(
        description=_("Resume the selected jobs (worker gone, lost or failed)"),
        permissions=["operate"],
    )
    def resume_jobs(self, request, queryset):
        self._each(
            request,
            queryset,
            generation.resume_generation,
            lambda n: ngettext("%(n)d job queued again.", "%(n)d jobs queued again.", n) % {"n": n},
        )


# --- campaigns: generate and export codes --------------------------------------------------


class GenerateCodesForm(forms.Form):
    count = forms.IntegerField(
        label=_("Number of codes"),
        min_value=1,
        max_value=generation.MAX_JOB_CODES,
        help_text=_("New random codes from the campaign's pattern, made in the background."),
    )


def campaign_codes_response(campaigns: QuerySet[Campaign]) -> StreamingHttpResponse:
    """The codes of these campaigns as one streamed CSV."""
    response = StreamingHttpResponse(
        codes_csv_lines(Voucher.objects.filter(campaign__in=campaigns)), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="codes-{stamp}.csv"'
    return response


class CampaignCodesMixin:
    """For the campaign admin: generate codes, export them, see the campaign's jobs."""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/generate-codes/",
                self.admin_site.admin_view(self.generate_codes_view),
                name=f"{name}_generate_codes",
            ),
            path(
                "<path:object_id>/export-codes/",
                self.admin_site.admin_view(self.export_codes_view),
                name=f"{name}_export_codes",
            ),
            *super().get_urls(),
        ]

    def _codes_campaign(self, request, object_id: str) -> Campaign:
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404(_("No campaign with this id."))
        return campaign

    def generate_codes_view(self, request, object_id: str):
        campaign = self._codes_campaign(request, object_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        form = GenerateCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = generation.start_generation(
                    campaign=campaign,
                    count=form.cleaned_data["count"],
                    created_by=request.user.get_username(),
                )
            except DomainError as e:
                form.add_error(None, e.message)
                for field, message in (e.details or {}).items():
                    if field.startswith("code_"):
                        form.add_error(None, f"{field}: {message}")
            else:
                self.message_user(
                    request,
                    _("Making %(n)s codes for “%(name)s” in the background.")
                    % {"n": f"{job.requested:,}", "name": campaign.name},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(
                        "admin:promotions_codegenerationjob_change",
                        args=[quote(job.pk)],
                        current_app=self.admin_site.name,
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": _("Generate codes for “%(name)s”") % {"name": campaign.name},
            "form": form,
            "change_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=[quote(campaign.pk)],
                current_app=self.admin_site.name,
            ),
            **_pattern_facts(campaign),
        }
        return TemplateResponse(request, "admin/promotions/campaign/generate_codes.html", context)

    def export_codes_view(self, request, object_id: str):
        campaign = self._codes_campaign(request, object_id)
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        return campaign_codes_response(Campaign.objects.filter(pk=campaign.pk))

    @admin.action(
        description=_("Export the codes of the selected campaigns (CSV)"), permissions=["view"]
    )
    def export_codes(self, request, queryset):
        return campaign_codes_response(queryset)

    @admin.display(description=_("code generation"))
    def code_jobs(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        jobs = list(CodeGenerationJob.objects.filter(campaign=obj).order_by("-pk")[:5])
        generate = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_generate_codes",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )
        rows = format_html_join(
            "",
            '<li><a href="{}">#{}</a> {} {}</li>',
            (
                (
                    reverse(
                        "admin:promotions_codegenerationjob_change",
                        args=[quote(job.pk)],
                        current_app=self.admin_site.name,
                    ),
                    job.pk,
                    job.get_status_display(),
                    progress_bar(job),
                )
                for job in jobs
            ),
        )
        return format_html(
            '<ul style="margin-left: 0">{}</ul><a href="{}">{}</a>',
            rows,
            generate,
            _("Generate codes"),
        )


def _pattern_facts(campaign: Campaign) -> dict:
    """What the generate page shows: example codes and the room left in the pattern."""
    try:
        maker = code_maker(campaign)
    except ValueError as e:
        return {"pattern_error": str(e)}
    if maker.personalised:
        return {
            "pattern_error": _(
                "This pattern is personalised: its codes are made when published to a customer."
            )
        }
    space = generation.code_space(campaign, maker)
    return {
        "examples": maker.draw(3),
        "charset": maker.charset,
        "space": space,
    }


# --- vouchers: import and export -----------------------------------------------------------


class VoucherImportExportMixin(ImportExportMixin):
    """Import of existing codes (new codes only, all or nothing, with a report per row) and
    export of the listed codes, in CSV or XLSX."""

    resource_classes = [VoucherResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]

    # import-export lets any staff user import and export unless told otherwise.
    def has_import_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('add', opts)}")

    def has_export_permission(self, request):
        return self.has_view_permission(request)
