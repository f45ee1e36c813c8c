from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from config import views

api_v1 = [
    path("", include("customers.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("promotions.api.urls")),
    path("", include("loyalty.api.urls")),
]

urlpatterns = [
    path("", include((views.dashboard_urls, "dashboard"))),
    path("favicon.ico", views.favicon),
    path("segments/", include("segments.urls")),
    path("promotions/", include("promotions.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="api-schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema", authentication_classes=[], permission_classes=[AllowAny]
        ),
        name="api-docs",
    ),
]

handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
