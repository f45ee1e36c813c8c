from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from segments import receivers  # noqa: F401 - connects the signal receivers
