"""Demo data for the embedded store (`make run`): prices on the demo catalog, and a grant of
SmolLM2 tokens for the demo customer so the playground works out of the box."""

from django.conf import settings

from accounts.models import User
from billing.models import Order, PriceOption
from billing.selectors import listing_by_model_id, live_packs
from billing.services import grant_create

DEMO_CUSTOMER = "customer@example.com"
DEMO_PUBLISHER = "gptstore-labs"
DEMO_MODEL_ID = f"{DEMO_PUBLISHER}/smollm2-135m-instruct"
DEMO_TOKENS = 200_000
DEMO_DAYS = 365
# (kind, amount in cents, tokens, days): what a demo listing without prices is sold for.
DEMO_PRICES = (
    ("purchase", 900, None, None),
    ("rental", 200, 100_000, 30),
    ("rental", 500, 500_000, 90),
)


def demo_prices_ensure() -> int:
    """Prices the demo publisher's approved listings that have none yet; returns how many."""
    from store.models import Listing

    priced = 0
    unpriced = Listing.objects.filter(
        publisher__slug=DEMO_PUBLISHER, status=Listing.Status.APPROVED, price_options__isnull=True
    )
    for listing in unpriced:
        for kind, amount, tokens, days in DEMO_PRICES:
            PriceOption.objects.create(
                listing=listing,
                kind=kind,
                amount=amount,
                currency=settings.STORE_CURRENCY,
                tokens=tokens,
                days=days,
            )
        priced += 1
    return priced


def demo_grants_ensure() -> Order | None:
    """Grants the demo customer SmolLM2 tokens unless a live grant pack exists; skipped
    quietly while the demo customer or the listing does not exist yet."""
    if settings.PRODUCTION:
        raise RuntimeError("Demo grants are never made with production settings.")
    demo_prices_ensure()
    user = User.objects.filter(email=DEMO_CUSTOMER).first()
    listing = listing_by_model_id(model_id=DEMO_MODEL_ID)
    if user is None or listing is None:
        return None
    live = live_packs(user=user, listing=listing).filter(order__reason=Order.Reason.GRANT).first()
    if live is not None:
        return live.order
    return grant_create(user=user, listing=listing, actor=None, tokens=DEMO_TOKENS, days=DEMO_DAYS)
