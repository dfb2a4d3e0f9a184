import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Registers the store's webhook endpoint with localstripe (embedded demo only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Where localstripe should POST events.")

    def handle(self, *args, url, **options):
        if settings.PRODUCTION:
            raise CommandError("Register webhooks in the Stripe dashboard in production.")
        endpoint = f"{settings.STRIPE_API_BASE}/_config/webhooks/gptstore"
        try:
            response = httpx.post(
                endpoint,
                data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
                headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise CommandError(
                f"localstripe is unreachable at {settings.STRIPE_API_BASE}: {exc}"
            ) from exc
        if response.status_code >= 400:
            raise CommandError(
                f"localstripe refused the webhook: {response.status_code} {response.text}"
            )
        self.stdout.write(f"Webhook registered with localstripe: {url}")
