"""Demo data for the embedded store (`make run`): the demo customer can use the real model."""

from django.conf import settings

from accounts.models import User
from billing.models import Order
from billing.selectors import listing_by_model_id
from billing.services import grant_create

DEMO_CUSTOMER = "customer@example.com"
DEMO_MODEL_ID = "gptstore-labs/smollm2-135m-instruct"
DEMO_TOKENS = 200_000
DEMO_DAYS = 365


def demo_grants_ensure() -> Order | None:
    """Grants the demo customer SmolLM2 tokens once; skipped quietly while the demo
    customer or the listing does not exist yet (the catalog part of the seed makes it)."""
    if settings.PRODUCTION:
        raise RuntimeError("Demo grants are never made with production settings.")
    user = User.objects.filter(email=DEMO_CUSTOMER).first()
    listing = listing_by_model_id(model_id=DEMO_MODEL_ID)
    if user is None or listing is None:
        return None
    existing = Order.objects.filter(user=user, listing=listing, reason=Order.Reason.GRANT).first()
    if existing is not None:
        return existing
    return grant_create(user=user, listing=listing, actor=None, tokens=DEMO_TOKENS, days=DEMO_DAYS)
