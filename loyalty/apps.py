from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"

    def ready(self) -> None:
        from customers.api.export import register_export_section
        from customers.demo import register_demo_extension
        from loyalty import receivers  # noqa: F401 - connects the signal receivers
        from loyalty.demo import create_demo_loyalty
        from loyalty.fields import register_loyalty_fields

        register_loyalty_fields()
        # After the demo campaigns (promotions is installed before loyalty): rewards use them.
        register_demo_extension(create_demo_loyalty)
        register_export_section("loyalty", _export_loyalty)


def _export_loyalty(customer) -> list[dict]:
    from loyalty.models import Member

    return [
        {
            "program": m.program.name,
            "tier": m.tier.name if m.tier else None,
            "points_active": m.points_active,
            "points_pending": m.points_pending,
            "referral_code": m.referral_code,
            "joined_at": m.joined_at.isoformat(),
            "entries": [
                {
                    "kind": e.kind,
                    "balance": e.balance,
                    "points": e.points,
                    "reason": e.reason,
                    "created_at": e.created_at.isoformat(),
                }
                for e in m.entries.order_by("created_at", "pk")
            ],
        }
        for m in Member.objects.filter(customer=customer).select_related("program", "tier")
    ]
