from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_by_email
from billing.money import format_microcents
from billing.selectors import credit_balance
from billing.services import credits_grant
from config.api_errors import ApplicationError


class Command(BaseCommand):
    help = "Grants a customer credits (whole cents of the store currency), saying why."

    def add_arguments(self, parser):
        parser.add_argument("email", help="The customer's email.")
        parser.add_argument("cents", type=int, help="How much, in cents (500 = $5.00).")
        parser.add_argument("--reason", required=True, help="Why (kept on the ledger row).")

    def handle(self, *args, email, cents, reason, **options):
        user = user_by_email(email=email)
        if user is None:
            raise CommandError(f"No user has the email {email}.")
        try:
            credits_grant(user=user, cents=cents, actor=None, reason=reason)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        balance = format_microcents(credit_balance(user=user))
        self.stdout.write(f"Granted {email} {cents} cents of credit; balance {balance}.")
