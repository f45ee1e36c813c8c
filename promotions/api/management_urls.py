"""Campaign and voucher management endpoints (filled by the management API)."""

urlpatterns: list = []
