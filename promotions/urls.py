"""Dashboard pages for promotions."""

from django.urls import path

from promotions import views

app_name = "promotions"

urlpatterns = [
    path("codes/jobs/", views.code_jobs, name="code_jobs"),
    path("codes/jobs/<int:job_id>/cancel", views.code_job_cancel, name="code_job_cancel"),
]
