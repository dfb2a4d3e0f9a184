"""Reads of the publisher studio. Access rules live here: a listing's studio pages belong to
its publisher, and staff may open any."""

from django.db.models import Count, Prefetch, Q

from accounts.models import User
from inference.selectors import usage_by_version
from store.models import Listing, ListingStatusChange, ListingVersion
from store.selectors import mark_served


def studio_listings_of(*, user: User) -> list[Listing]:
    """The user's listings with their version counts and newest version, in two queries."""
    publisher = user.publisher
    if publisher is None:
        return []
    listings = list(
        Listing.objects.filter(publisher=publisher)
        .annotate(
            version_count=Count("versions"),
            ready_count=Count("versions", filter=Q(versions__status=ListingVersion.Status.READY)),
        )
        .order_by("-updated_at")
    )
    latest: dict[int, ListingVersion] = {}
    for version in ListingVersion.objects.filter(listing__in=listings).order_by(
        "listing_id", "-number"
    ):
        latest.setdefault(version.listing_id, version)
    for listing in listings:
        listing.latest_version = latest.get(listing.pk)
    return listings


def studio_listing_for(*, user: User, listing_id: int) -> Listing | None:
    """The listing if the user may open its studio pages (its publisher, or staff); else None."""
    queryset = Listing.objects.select_related("publisher", "publisher__user").filter(pk=listing_id)
    if not user.is_staff:
        queryset = queryset.filter(publisher__user=user)
    return queryset.prefetch_related(
        Prefetch(
            "versions",
            queryset=ListingVersion.objects.prefetch_related("files").order_by("-number"),
        ),
        Prefetch("status_changes", queryset=ListingStatusChange.objects.select_related("actor")),
    ).first()


def studio_version_for(*, user: User, version_id: int) -> ListingVersion | None:
    queryset = ListingVersion.objects.filter(pk=version_id)
    if not user.is_staff:
        queryset = queryset.filter(listing__publisher__user=user)
    return queryset.first()


USAGE_DAYS = 30


def studio_versions(*, listing: Listing) -> list[ListingVersion]:
    """The listing's versions, newest first (prefetched by studio_listing_for), each with
    ``is_served`` (what /v1 serves when no version is pinned) and ``usage`` over the last
    USAGE_DAYS days (requests, errors, tokens, customers; None when unused)."""
    versions = mark_served(list(listing.versions.all()))
    usage = usage_by_version(listing=listing, days=USAGE_DAYS)
    for version in versions:
        version.usage = usage.get(version.pk)
    return versions
