"""Demo data for the embedded store (`make run`): prices on the demo catalog (a purchase,
packs and a price per token), and a grant of SmolLM2 tokens and of credits for the demo
customer so the playground works out of the box. Every write goes through the billing
services, with the demo publisher as the actor, so the demo obeys the store's own rules."""

from django.conf import settings

from accounts.models import User
from billing.models import CreditLedgerEntry, Order
from billing.selectors import listing_by_model_id, live_packs, token_price_for
from billing.services import credits_grant, grant_create, price_option_add, token_price_set
from store.models import Listing

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
# Cents per 1M tokens, input and output: SmolLM2 is also sold per token, from credits (the
# other demo listings only as packs and purchases, as the launcher's tests expect).
DEMO_TOKEN_PRICE = (10, 20)
DEMO_CREDITS_CENTS = 500


def demo_prices_ensure() -> int:
    """Prices the demo publisher's approved listings that have none yet; returns how many."""
    priced = 0
    unpriced = Listing.objects.filter(
        publisher__slug=DEMO_PUBLISHER, status=Listing.Status.APPROVED, price_options__isnull=True
    ).select_related("publisher__user")
    for listing in unpriced:
        actor = listing.publisher.user
        for kind, amount, tokens, days in DEMO_PRICES:
            price_option_add(
                listing=listing, actor=actor, kind=kind, amount=amount, tokens=tokens, days=days
            )
        if listing.model_id == DEMO_MODEL_ID and token_price_for(listing=listing) is None:
            token_price_set(
                listing=listing,
                actor=actor,
                input_per_mtok=DEMO_TOKEN_PRICE[0],
                output_per_mtok=DEMO_TOKEN_PRICE[1],
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
    if not CreditLedgerEntry.objects.filter(account__user=user, kind="grant").exists():
        credits_grant(user=user, cents=DEMO_CREDITS_CENTS, actor=None, reason="Demo credits")
    live = live_packs(user=user, listing=listing).filter(order__reason=Order.Reason.GRANT).first()
    if live is not None:
        return live.order
    return grant_create(user=user, listing=listing, actor=None, tokens=DEMO_TOKENS, days=DEMO_DAYS)
