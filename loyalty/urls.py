"""Dashboard pages for loyalty programmes."""

from django.urls import path

from loyalty import views

app_name = "loyalty"

urlpatterns = [
    path("", views.program_list, name="list"),
    path("<int:program_id>/", views.program_detail, name="program"),
]
