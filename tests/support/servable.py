"""Listings a worker can serve: an approved listing whose ready version is a real tiny model
folder under MEDIA_ROOT (a copy of one the ``tiny_model_dirs`` fixture built), and the
access a customer holds on it."""

import shutil
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from billing.services.orders import grant_create
from store.models import Listing, ListingVersion
from tests.support.factories import PublisherFactory

# The context of the ``tiny_model_dirs`` models, as their versions record it.
SERVABLE_CONTEXT = 1024


def servable_listing(
    source: Path | None,
    *,
    publisher=None,
    chat_template: bool = True,
    storage_path: str = "",
    context_length: int = SERVABLE_CONTEXT,
    **fields,
) -> Listing:
    """An approved listing whose ready version is a copy of ``source`` under MEDIA_ROOT
    (or, with ``storage_path``, a model folder already there)."""
    publisher = publisher or PublisherFactory()
    slug = (
        fields.pop("slug", None)
        or f"tiny-{Listing.objects.count() + 1}-{timezone.now().strftime('%H%M%S%f')}"
    )
    listing = Listing.objects.create(
        publisher=publisher,
        name=fields.pop("name", "Tiny chat"),
        slug=slug,
        status=Listing.Status.APPROVED,
        approved_at=timezone.now(),
        conversation_starters=fields.pop("conversation_starters", ["Tell me a story."]),
        **fields,
    )
    servable_version(
        listing,
        source,
        chat_template=chat_template,
        storage_path=storage_path,
        context_length=context_length,
    )
    return listing


def servable_version(
    listing: Listing,
    source: Path | None,
    *,
    chat_template: bool = True,
    storage_path: str = "",
    context_length: int = SERVABLE_CONTEXT,
    review: str = ListingVersion.Review.APPROVED,
) -> ListingVersion:
    """The listing's next version, ready, a copy of ``source`` under MEDIA_ROOT (or the model
    folder at ``storage_path``), reviewed as ``review`` says."""
    number = listing.versions.count() + 1
    if not storage_path:
        storage_path = f"models/{listing.publisher.slug}/{listing.slug}/v{number}"
        target = Path(settings.MEDIA_ROOT) / storage_path
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
    return ListingVersion.objects.create(
        listing=listing,
        number=number,
        source_format=ListingVersion.Format.SAFETENSORS,
        status=ListingVersion.Status.READY,
        review=review,
        storage_path=storage_path,
        architecture="GPT2LMHeadModel",
        context_length=context_length,
        has_chat_template=chat_template,
        processed_at=timezone.now(),
    )


def grant_purchase(user: User, listing: Listing):
    return grant_create(user=user, listing=listing, actor=None, purchase=True)


def grant_rental(user: User, listing: Listing, *, tokens: int = 10_000, days: int = 30):
    return grant_create(user=user, listing=listing, actor=None, tokens=tokens, days=days)


def available_tokens(user: User, listing: Listing) -> int:
    from billing.selectors import access_for

    return access_for(user=user, listing=listing).available_tokens
