from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_accounts_ensure


class Command(BaseCommand):
    help = "Creates the demo accounts of the embedded store when they do not exist."

    def handle(self, *args, **options):
        try:
            demo_accounts_ensure()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        for email, _, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {role:<10} {email:<24} password: {DEMO_PASSWORD}")
