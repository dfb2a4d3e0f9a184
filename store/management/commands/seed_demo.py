from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Creates the embedded demo: accounts, then the demo catalog. Idempotent."

    def handle(self, *args, **options):
        call_command("seed_demo_accounts", stdout=self.stdout)
