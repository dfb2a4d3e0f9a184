from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_by_email
from accounts.services import api_key_create
from config.api_errors import ApplicationError


class Command(BaseCommand):
    help = "Issues a new API key for an existing user and prints it (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", required=True, help="A name to recognise the key by.")
        parser.add_argument("--rpm", type=int, default=None, help="Requests per minute limit.")
        parser.add_argument("--tpm", type=int, default=None, help="Tokens per minute limit.")
        parser.add_argument(
            "--monthly-tokens", type=int, default=None, help="Monthly token budget."
        )
        parser.add_argument(
            "--monthly-spend-cents",
            type=int,
            default=None,
            help="Monthly spending limit in cents of credits.",
        )

    def handle(self, *args, email, name, rpm, tpm, monthly_tokens, monthly_spend_cents, **options):
        user = user_by_email(email=email)
        if user is None:
            raise CommandError(f"No user has the email {email!r}.")
        try:
            issued = api_key_create(
                user=user,
                name=name,
                requests_per_minute=rpm,
                tokens_per_minute=tpm,
                monthly_token_budget=monthly_tokens,
                monthly_spend_limit=monthly_spend_cents,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(issued.secret)
