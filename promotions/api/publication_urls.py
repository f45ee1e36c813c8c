"""Publications endpoints."""

from django.urls import path

from promotions.api import publication_views

urlpatterns = [
    path(
        "publications",
        publication_views.PublicationListView.as_view(),
        name="publication-list",
    ),
]
