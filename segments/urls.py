"""Dashboard pages for segments."""

from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new", views.segment_create, name="create"),
    path("preview", views.segment_preview, name="preview"),
    path("<int:segment_id>/", views.segment_detail, name="detail"),
    path("<int:segment_id>/edit", views.segment_edit, name="edit"),
    path("<int:segment_id>/refresh", views.segment_refresh, name="refresh"),
    path("<int:segment_id>/members/upload", views.members_upload, name="members_upload"),
    path("<int:segment_id>/members/remove", views.member_remove, name="member_remove"),
]
