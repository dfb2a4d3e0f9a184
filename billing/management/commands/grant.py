from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import user_by_email
from billing.selectors import listing_by_model_id
from billing.services import grant_create
from config.api_errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Grants a customer a purchase or a rental pack of a model without payment (reason: grant)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The customer's email.")
        parser.add_argument("model_id", help='The model id, "<publisher_slug>/<listing_slug>".')
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument(
            "--purchase", action="store_true", help="Grant ownership (download + unlimited use)."
        )
        kind.add_argument(
            "--tokens", type=int, help="Grant a rental pack of this many tokens (needs --days)."
        )
        parser.add_argument("--days", type=int, help="How long the rental pack lasts.")

    def handle(self, *args, email, model_id, purchase, tokens, days, **options):
        user = user_by_email(email=email)
        if user is None:
            raise CommandError(f"No user has the email {email}.")
        listing = listing_by_model_id(model_id=model_id)
        if listing is None:
            raise CommandError(
                f"No model has the id {model_id!r} (expected publisher_slug/listing_slug)."
            )
        if purchase and days is not None:
            raise CommandError("--days goes with --tokens, not with --purchase.")
        if not purchase and days is None:
            raise CommandError("A rental grant needs --days.")
        try:
            order = grant_create(
                user=user, listing=listing, actor=None, purchase=purchase, tokens=tokens, days=days
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        what = "ownership" if purchase else f"{tokens:,} tokens for {days} days"
        self.stdout.write(
            f"Granted {user.email} {what} of {listing.model_id} (order {order.short_number})."
        )
