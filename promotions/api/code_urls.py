"""Code generation endpoints."""

urlpatterns: list = []
