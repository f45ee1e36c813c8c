from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "promotions"

    def ready(self) -> None:
        from customers.demo import register_demo_extension
        from promotions import receivers  # noqa: F401 - connects the signal receivers
        from promotions.demo import create_demo_campaigns

        # After the demo segments (segments is installed before promotions): the campaigns
        # aim at them.
        register_demo_extension(create_demo_campaigns)
