from django.core.management.base import BaseCommand, CommandError

from customers.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key for a checkout or CRM system. The key is printed once, last."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'web checkout'")
        parser.add_argument("--test", action="store_true", help="A sandbox (test mode) key")

    def handle(self, *args, name: str, test: bool, **options):
        name = name.strip()
        if not name or len(name) > 50:
            raise CommandError("NAME must be 1 to 50 characters.")
        mode = ApiKey.Mode.TEST if test else ApiKey.Mode.LIVE
        api_key, key = ApiKey.objects.create_key(name=name, mode=mode)
        self.stderr.write(
            f"Created {mode} key '{name}' (prefix {api_key.prefix}). Store it now: "
            "it is not shown again. Send it as 'Authorization: Api-Key <key>'."
        )
        self.stdout.write(key)
