"""Billing test data: public listings with a ready version and a small weight file on disk."""

import hashlib
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from billing.models import PriceOption
from store.models import Listing, ListingVersion, WeightFile
from tests.store.factories import ListingFactory  # the one listing factory, re-exported

__all__ = ["ListingFactory", "days_ago", "purchase_price", "ready_version", "rental_price"]


def ready_version(
    listing: Listing, *, content: bytes = b"", path: str = "model.safetensors"
) -> WeightFile:
    """A processed version with one weight file written under MEDIA_ROOT; returns the file."""
    content = content or bytes(range(256)) * 64  # 16 KiB of known bytes
    number = listing.versions.count() + 1
    storage_path = f"models/{listing.publisher.slug}/{listing.slug}/v{number}"
    version = ListingVersion.objects.create(
        listing=listing,
        number=number,
        source_format=ListingVersion.Format.SAFETENSORS,
        status=ListingVersion.Status.PROCESSING,
        storage_path=storage_path,
        size_bytes=len(content),
        processed_at=timezone.now(),
    )
    target = Path(settings.MEDIA_ROOT) / storage_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    weight_file = WeightFile.objects.create(
        version=version,
        path=path,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    # Files are added while processing; a ready version is immutable.
    version.status = ListingVersion.Status.READY
    version.review = ListingVersion.Review.APPROVED
    version.save()
    return weight_file


def purchase_price(listing: Listing, amount: int = 1500) -> PriceOption:
    return PriceOption.objects.create(
        listing=listing, kind="purchase", amount=amount, currency=settings.STORE_CURRENCY
    )


def rental_price(
    listing: Listing, *, amount: int = 500, tokens: int = 100_000, days: int = 30
) -> PriceOption:
    return PriceOption.objects.create(
        listing=listing,
        kind="rental",
        amount=amount,
        currency=settings.STORE_CURRENCY,
        tokens=tokens,
        days=days,
    )


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)
