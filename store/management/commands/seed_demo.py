from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Creates the embedded demo: accounts, then the demo catalog. Idempotent."

    def handle(self, *args, **options):
        call_command("seed_demo_accounts", stdout=self.stdout)
        # Billing: the demo customer holds SmolLM2 tokens (skipped until that listing exists).
        from billing.demo import demo_grants_ensure

        if demo_grants_ensure() is not None:
            self.stdout.write("Demo customer holds a SmolLM2 token grant.")
