from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from customers.api.export import register_export_section
        from customers.demo import register_demo_extension
        from segments import receivers  # noqa: F401 - connects the signal receivers
        from segments.demo import create_demo_segments

        register_demo_extension(create_demo_segments)
        register_export_section("segments", _export_segments)


def _export_segments(customer) -> list[dict]:
    from segments.selectors import segments_of_customer

    return [
        {"id": s.pk, "name": s.name, "kind": s.kind, "on_list": s.kind == "static"}
        for s in segments_of_customer(customer)
    ]
