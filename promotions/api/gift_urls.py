"""Gift card endpoints."""

urlpatterns: list = []
