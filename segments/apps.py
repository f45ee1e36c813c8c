from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from customers.demo import register_demo_extension
        from segments import receivers  # noqa: F401 - connects the signal receivers
        from segments.demo import create_demo_segments

        register_demo_extension(create_demo_segments)
