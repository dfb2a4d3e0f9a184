"""Pricing writes: a publisher's price options and licence terms for a listing.

Invariant: amounts are integers in the smallest currency unit inside sane bounds; a
listing has at most one active purchase price; a price option that customers ordered is
never edited, only deactivated (orders copy its terms anyway); a price taken off sale
cancels the pending orders made at it.
"""

import hashlib

from django.conf import settings
from django.db import transaction

from billing import policies
from billing.models import ListingTerms, PriceOption
from billing.services.orders import orders_cancel_pending
from config.api_errors import ApplicationError

# Stripe refuses charges under 50 cents; above these bounds a value is a typo, not a price.
MIN_AMOUNT = 50
MAX_AMOUNT = 1_000_000
MIN_TOKENS = 1_000
MAX_TOKENS = 10_000_000_000
MAX_DAYS = 3650
MAX_TERMS_CHARS = 50_000
PRICE_GONE = "The publisher withdrew this price; start again from the model's page."


def _require_owner(*, listing, actor) -> None:
    if not policies.may_edit_pricing(actor, listing):
        raise ApplicationError(
            "Only the listing's publisher can change its prices.", status=403, code="forbidden"
        )


def _whole_number(value, *, field: str, label: str) -> int:
    if isinstance(value, bool):
        raise ApplicationError(f"{label} must be a whole number.", field=field)
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            raise ApplicationError(f"{label} must be a whole number.", field=field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApplicationError(f"{label} must be a whole number.", field=field) from None
    if number != value and not isinstance(value, str):
        raise ApplicationError(f"{label} must be a whole number.", field=field)
    return number


def _validate_amount(amount) -> int:
    amount = _whole_number(amount, field="amount", label="The price")
    if amount <= 0:
        raise ApplicationError("The price must be more than zero.", field="amount")
    if amount < MIN_AMOUNT:
        raise ApplicationError(
            f"The lowest price is {MIN_AMOUNT} (in cents, i.e. 0.50 {settings.STORE_CURRENCY.upper()}).",
            field="amount",
        )
    if amount > MAX_AMOUNT:
        raise ApplicationError(
            f"The highest price is {MAX_AMOUNT} cents ({MAX_AMOUNT // 100:,} {settings.STORE_CURRENCY.upper()}).",
            field="amount",
        )
    return amount


def price_option_add(*, listing, actor, kind: str, amount, tokens=None, days=None) -> PriceOption:
    """Adds a price. A new purchase price replaces the active one (one live purchase price)."""
    _require_owner(listing=listing, actor=actor)
    if kind not in PriceOption.Kind.values:
        raise ApplicationError("Choose a purchase price or a rental pack.", field="kind")
    amount = _validate_amount(amount)
    if kind == PriceOption.Kind.RENTAL:
        tokens = _whole_number(tokens, field="tokens", label="The number of tokens")
        days = _whole_number(days, field="days", label="The number of days")
        if tokens < MIN_TOKENS:
            raise ApplicationError(
                f"A rental pack holds at least {MIN_TOKENS:,} tokens.", field="tokens"
            )
        if tokens > MAX_TOKENS:
            raise ApplicationError(
                f"A rental pack holds at most {MAX_TOKENS:,} tokens.", field="tokens"
            )
        if days < 1:
            raise ApplicationError("A rental pack lasts at least one day.", field="days")
        if days > MAX_DAYS:
            raise ApplicationError(f"A rental pack lasts at most {MAX_DAYS} days.", field="days")
        if PriceOption.objects.filter(
            listing=listing, kind=kind, active=True, tokens=tokens, days=days
        ).exists():
            raise ApplicationError(
                "This listing already has a pack with these tokens and days.", field="tokens"
            )
    else:
        tokens = days = None
    with transaction.atomic():
        if kind == PriceOption.Kind.PURCHASE:
            replaced = list(
                PriceOption.objects.filter(listing=listing, kind=kind, active=True).values_list(
                    "pk", flat=True
                )
            )
            PriceOption.objects.filter(pk__in=replaced).update(active=False)
            orders_cancel_pending(message=PRICE_GONE, price_option_ids=replaced)
        return PriceOption.objects.create(
            listing=listing,
            kind=kind,
            amount=amount,
            currency=settings.STORE_CURRENCY,
            tokens=tokens,
            days=days,
        )


def price_option_deactivate(*, option: PriceOption, actor) -> PriceOption:
    """Takes a price off sale. Existing orders keep the terms they were made with."""
    _require_owner(listing=option.listing, actor=actor)
    with transaction.atomic():
        if option.active:
            option.active = False
            option.save(update_fields=["active"])
        orders_cancel_pending(message=PRICE_GONE, price_option_ids=[option.pk])
    return option


def listing_terms_set(*, listing, actor, text: str) -> ListingTerms | None:
    """Sets the licence text buyers accept before paying; an empty text removes it.

    Acceptances are recorded against the text's SHA-256, so changing the text asks
    every later buyer to accept the new one.
    """
    _require_owner(listing=listing, actor=actor)
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        ListingTerms.objects.filter(listing=listing).delete()
        return None
    if len(text) > MAX_TERMS_CHARS:
        raise ApplicationError(
            f"The licence text is limited to {MAX_TERMS_CHARS:,} characters.", field="text"
        )
    digest = hashlib.sha256(text.encode()).hexdigest()
    terms, _ = ListingTerms.objects.update_or_create(
        listing=listing, defaults={"text": text, "text_sha256": digest}
    )
    return terms
