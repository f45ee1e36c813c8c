"""Publications and experiments endpoints."""

urlpatterns: list = []
