from django.urls import include, path

from promotions.api import checkout_views

urlpatterns = [
    path("validations", checkout_views.ValidationView.as_view(), name="validation"),
    path("qualifications", checkout_views.QualificationView.as_view(), name="qualification"),
    path("", include("promotions.api.management_urls")),
]
