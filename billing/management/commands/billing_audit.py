from django.core.management.base import BaseCommand, CommandError

from billing.selectors import quota_ledger_mismatches


class Command(BaseCommand):
    help = "Checks that every quota pack's balances equal the sums of its ledger rows."

    def handle(self, *args, **options):
        mismatches = quota_ledger_mismatches()
        for pack in mismatches:
            self.stderr.write(
                f"pack {pack.pk} ({pack.user.email}, {pack.listing.model_id}): "
                f"available {pack.available} vs ledger {pack.ledger_available}, "
                f"held {pack.held} vs ledger {pack.ledger_held}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} quota pack(s) disagree with their ledger.")
        self.stdout.write("Every quota pack agrees with its ledger.")
