import time

from django.core.management.base import BaseCommand, CommandError

from customers.demo import DemoDataError, build_demo_shop


class Command(BaseCommand):
    help = (
        "Load a demo shop: customers in several countries with consents, a catalogue, "
        "13 months of orders, live and abandoned carts and behavioural events. The same "
        "--seed gives the same shop. Refuses to run when demo data is already loaded, unless "
        "--reset is given (demo customers, orders and carts are then replaced; the catalogue "
        "is kept and reused)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed", type=int, default=42, help="Random seed; the same seed, the same shop"
        )
        parser.add_argument(
            "--customers", type=int, default=2000, help="How many customers (at least 1)"
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data already loaded first"
        )

    def handle(self, *args, seed: int, customers: int, reset: bool, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1.")
        started = time.monotonic()
        try:
            summary = build_demo_shop(seed=seed, customers=customers, reset=reset)
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        orders = summary.orders
        carts = summary.carts
        events = summary.events
        lines = [
            f"Demo shop loaded (seed {seed}) in {time.monotonic() - started:.1f} s:",
            f"  customers    {summary.customers} ({summary.consents} consents)",
            f"  catalogue    {summary.categories} new categories, {summary.products} new products",
            f"  orders       {orders.total()} ({orders['paid']} paid, {orders['refunded']} "
            f"refunded, {orders['cancelled']} cancelled, {orders['created']} unpaid), "
            f"{summary.order_items} items",
            f"  carts        {carts.total()} ({carts['live']} live, {carts['abandoned']} "
            f"abandoned, {carts['converted']} converted, {carts['guest']} guest)",
            f"  events       {events.total()} ({events['behavioural']} behavioural, "
            f"{events['custom']} custom)",
            *(f"  {line}" for line in summary.extensions),
        ]
        self.stdout.write("\n".join(lines))
