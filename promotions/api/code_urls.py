"""Code generation endpoints."""

from django.urls import path

from promotions.api import code_views

urlpatterns = [
    path(
        "campaigns/<int:campaign_id>/codes",
        code_views.CampaignCodesView.as_view(),
        name="campaign-codes",
    ),
    path("code-jobs/<int:job_id>", code_views.CodeJobDetailView.as_view(), name="code-job-detail"),
    path(
        "code-jobs/<int:job_id>/cancel",
        code_views.CodeJobCancelView.as_view(),
        name="code-job-cancel",
    ),
]
