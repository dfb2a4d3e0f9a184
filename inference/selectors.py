"""Inference reads: which models a key may call, and how they are described to clients."""

from accounts.models import ApiKey
from store.models import Listing, ListingVersion


def _card(listing: Listing, version: ListingVersion | None) -> dict:
    return {
        "id": listing.model_id,
        "object": "model",
        "created": int(listing.created_at.timestamp()),
        "owned_by": listing.publisher.slug,
        "context_length": version.context_length if version else None,
    }


def _public_listings():
    return (
        Listing.objects.filter(status=Listing.Status.APPROVED)
        .select_related("publisher")
        .order_by("publisher__slug", "slug")
    )


def _latest_ready_versions(listing_ids) -> dict[int, ListingVersion]:
    latest: dict[int, ListingVersion] = {}
    versions = ListingVersion.objects.filter(
        listing_id__in=listing_ids, status=ListingVersion.Status.READY
    ).order_by("listing_id", "-number")
    for version in versions:
        latest.setdefault(version.listing_id, version)
    return latest


def models_for_key(*, api_key: ApiKey) -> list[dict]:
    """Approved models with a ready version, in OpenAI's model object shape."""
    listings = list(_public_listings())
    versions = _latest_ready_versions([listing.pk for listing in listings])
    return [_card(listing, versions[listing.pk]) for listing in listings if listing.pk in versions]


def model_card_for_key(*, api_key: ApiKey, model_id: str) -> dict | None:
    publisher_slug, _, slug = model_id.partition("/")
    listing = _public_listings().filter(publisher__slug=publisher_slug, slug=slug).first()
    if listing is None:
        return None
    version = _latest_ready_versions([listing.pk]).get(listing.pk)
    if version is None:
        return None
    return _card(listing, version)
