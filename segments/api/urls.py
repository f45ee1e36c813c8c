from django.urls import path

from segments.api import views

urlpatterns = [
    path("segments", views.SegmentListView.as_view(), name="segment-list"),
    path("segments/<int:segment_id>", views.SegmentDetailView.as_view(), name="segment-detail"),
    path(
        "segments/<int:segment_id>/members",
        views.SegmentMembersView.as_view(),
        name="segment-members",
    ),
    path(
        "segments/<int:segment_id>/members/<source_id:source_id>",
        views.SegmentMemberView.as_view(),
        name="segment-member",
    ),
    path(
        "customers/<source_id:source_id>/segments",
        views.CustomerSegmentsView.as_view(),
        name="customer-segments",
    ),
]
