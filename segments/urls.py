"""Dashboard pages for segments."""

app_name = "segments"

urlpatterns: list = []
