"""Store reads: what a visitor may see, the catalog with its filters and sorts, home shelves.

Visibility: approved listings are public; drafts, pending, rejected and delisted listings are
visible to their publisher and to staff only (everyone else gets a 404, not a 403, so that a
hidden listing's existence does not leak).

Every list here is built in a constant number of queries, whatever its length: card data
(latest ready version's format and size, lowest price, rating, recent usage) is read from columns
of the listing itself (kept by triggers and a periodic task, see migration 0003), never looked
up row by row.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from accounts.models import PublisherProfile, PublisherSlug
from billing.models import TokenPrice
from billing.selectors import customer_can_review
from inference.models import UsageRecord
from store import model_ids, policies
from store.models import Collection, CollectionItem, Listing, ListingReport, ListingVersion, Review
from store.search import normalize_query, search_listings

APPROVED = Listing.Status.APPROVED
TRENDING_DAYS = 7


@dataclass(frozen=True)
class SizeBucket:
    label: str
    low: int | None  # parameters, inclusive
    high: int | None  # parameters, exclusive


SIZE_BUCKETS: dict[str, SizeBucket] = {
    "tiny": SizeBucket("Under 200M parameters", None, 200_000_000),
    "small": SizeBucket("200M to 2B", 200_000_000, 2_000_000_000),
    "medium": SizeBucket("2B to 10B", 2_000_000_000, 10_000_000_000),
    "large": SizeBucket("Over 10B", 10_000_000_000, None),
}
SORTS: dict[str, str] = {
    "relevance": "Relevance",
    "newest": "Newest",
    "most_used": "Most used this week",
    "rating": "Best rated",
    "price": "Lowest price",
    "token_price": "Cheapest per token",
}


def _is_owner(user, listing: Listing) -> bool:
    return bool(user and user.is_authenticated and listing.publisher.user_id == user.pk)


def listing_visible_to(*, listing: Listing, user) -> bool:
    if listing.status == APPROVED:
        return True
    return bool(user and user.is_authenticated and (user.is_staff or _is_owner(user, listing)))


def listing_for_viewer(*, publisher_slug: str, slug: str, user) -> Listing | None:
    """The listing at this address if ``user`` may see it, else None (the caller answers 404)."""
    listing = (
        Listing.objects.select_related("publisher", "publisher__user")
        .filter(publisher__slug=publisher_slug, slug=slug)
        .first()
    )
    if listing is None or not listing_visible_to(listing=listing, user=user):
        return None
    return listing


# --- catalog ----------------------------------------------------------------------------


def with_card_data(queryset: QuerySet) -> QuerySet:
    """Adds what a card shows and filters use: ``latest_format``, ``latest_parameter_count``
    (of the latest ready version) and ``lowest_price`` (cents), read from the columns that
    the triggers of migration 0003 keep, and ``token_input``/``token_output`` (the price per
    token now, from an indexed subquery), so a list costs no query per card.
    """
    newest_price = TokenPrice.objects.filter(listing=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        queryset.select_related("publisher")
        .defer("card_markdown", "search_vector", "search_rank_vector")
        .annotate(
            latest_format=F("ready_format"),
            latest_parameter_count=F("ready_parameter_count"),
            lowest_price=F("min_price"),
            # The price per token now (cents per 1M tokens), None if not sold per token.
            token_input=Subquery(newest_price.values("input_per_mtok")[:1]),
            token_output=Subquery(newest_price.values("output_per_mtok")[:1]),
            # Free per token: both prices of its current token price are zero.
            token_free=ExpressionWrapper(
                Q(token_input=0, token_output=0), output_field=BooleanField()
            ),
        )
    )


def catalog_listings(
    *,
    q: str = "",
    task: str = "",
    license: str = "",
    source_format: str = "",
    size: str = "",
    price_min: int | None = None,
    price_max: int | None = None,
    sort: str = "relevance",
    publisher: PublisherProfile | None = None,
    free: bool = False,
) -> QuerySet:
    """Public listings matching the filters, in the requested order (prices in cents).

    Each order matches a partial index of migration 0003, so a page without a
    search query is read from an index. "Most used" reads ``recent_uses``, refreshed every
    few minutes by store.services.listing_usage_refresh.
    """
    queryset = Listing.objects.filter(status=APPROVED)
    if publisher is not None:
        queryset = queryset.filter(publisher=publisher)
    if task:
        queryset = queryset.filter(task=task)
    if license:
        queryset = queryset.filter(license=license)
    q = normalize_query(q)
    queryset = with_card_data(search_listings(queryset, q))
    if source_format:
        queryset = queryset.filter(latest_format=source_format)
    bucket = SIZE_BUCKETS.get(size)
    if bucket is not None:
        if bucket.low is not None:
            queryset = queryset.filter(latest_parameter_count__gte=bucket.low)
        if bucket.high is not None:
            queryset = queryset.filter(latest_parameter_count__lt=bucket.high)
    if free:
        queryset = queryset.filter(token_free=True)
    if price_min is not None:
        queryset = queryset.filter(lowest_price__gte=price_min)
    if price_max is not None:
        queryset = queryset.filter(lowest_price__lte=price_max)
    newest = ("-approved_at", "-id")
    if sort == "newest":
        return queryset.order_by(*newest)
    if sort == "most_used":
        return queryset.order_by("-recent_uses", *newest)
    if sort == "rating":
        return queryset.order_by(
            F("rating_average").desc(nulls_last=True), "-review_count", *newest
        )
    if sort == "price":
        return queryset.order_by(F("lowest_price").asc(nulls_last=True), *newest)
    if sort == "token_price":
        # Input and output prices per 1M tokens together (a typical chat uses both); listings
        # not sold per token last.
        per_token = F("token_input") + F("token_output")
        return queryset.order_by(per_token.asc(nulls_last=True), "token_output", *newest)
    if q:
        return queryset.order_by("-rank", *newest)
    return queryset.order_by("-featured", *newest)


# --- home -------------------------------------------------------------------------------


def featured_listings(*, limit: int = 8) -> list[Listing]:
    queryset = Listing.objects.filter(status=APPROVED, featured=True)
    return list(with_card_data(queryset).order_by("-approved_at", "-id")[:limit])


def newest_listings(*, limit: int = 8) -> list[Listing]:
    queryset = Listing.objects.filter(status=APPROVED)
    return list(with_card_data(queryset).order_by("-approved_at", "-id")[:limit])


def trending_listings(*, days: int = TRENDING_DAYS, limit: int = 8) -> list[Listing]:
    """Public listings with the most usage records in the last ``days``; each gets ``recent_uses``."""
    since = timezone.now() - timedelta(days=days)
    counts = list(
        UsageRecord.objects.filter(created_at__gte=since, listing__status=APPROVED)
        .values("listing_id")
        .annotate(uses=Count("id"))
        .order_by("-uses", "listing_id")[:limit]
    )
    if not counts:
        return []
    by_id = with_card_data(
        Listing.objects.filter(pk__in=[row["listing_id"] for row in counts])
    ).in_bulk()
    trending = []
    for row in counts:
        listing = by_id.get(row["listing_id"])
        if listing is not None:
            listing.recent_uses = row["uses"]
            trending.append(listing)
    return trending


def home_collections(*, per_collection: int = 8) -> list[Collection]:
    """Visible collections in order, each with ``shelf``: its approved listings in order,
    with card data. Three queries whatever the number of collections."""
    items = CollectionItem.objects.filter(listing__status=APPROVED).only(
        "collection_id", "listing_id", "position"
    )
    collections = list(
        Collection.objects.filter(is_visible=True).prefetch_related(
            Prefetch("items", queryset=items)
        )
    )
    shelves = {
        collection.pk: [item.listing_id for item in collection.items.all()][:per_collection]
        for collection in collections
    }
    wanted = {listing_id for ids in shelves.values() for listing_id in ids}
    listings = with_card_data(Listing.objects.filter(pk__in=wanted)).in_bulk() if wanted else {}
    shown = []
    for collection in collections:
        collection.shelf = [listings[i] for i in shelves[collection.pk] if i in listings]
        if collection.shelf:
            shown.append(collection)
    return shown


# --- what a model id serves ------------------------------------------------------------


def latest_live_versions(listing_ids) -> dict[int, ListingVersion]:
    """Each listing's latest version customers get (store.policies.live_version_q)."""
    latest: dict[int, ListingVersion] = {}
    versions = ListingVersion.objects.filter(
        policies.live_version_q(), listing_id__in=listing_ids
    ).order_by("listing_id", "-number")
    for version in versions:
        latest.setdefault(version.listing_id, version)
    return latest


def listing_for_model(*, model_id: str) -> tuple[Listing | None, ListingVersion | None]:
    """The approved listing named "<publisher>/<listing>" and its latest live version, or the
    pinned version of "<publisher>/<listing>@v<N>" when that one is live (one query: this
    runs on every completion request)."""
    ref = model_ids.parse(model_id)
    if ref is None:
        return None, None
    versions = ListingVersion.objects.filter(
        policies.live_version_q(),
        listing__publisher__slug=ref.publisher_slug,
        listing__slug=ref.slug,
        listing__status=Listing.Status.APPROVED,
    )
    if ref.version is not None:
        versions = versions.filter(number=ref.version)
    version = versions.select_related("listing__publisher").order_by("-number").first()
    if version is None:
        # A publisher's slug before a rename still names their models.
        moved = publisher_slug_now(ref.publisher_slug)
        return listing_for_model(model_id=ref.named(moved)) if moved else (None, None)
    return version.listing, version


def served_model_id(*, requested: str, listing: Listing) -> str:
    """The id answers carry: the listing's current id, with the pin when one was asked for."""
    ref = model_ids.parse(requested)
    pinned = ref is not None and ref.version is not None
    return f"{listing.model_id}@v{ref.version}" if pinned else listing.model_id


# --- listing and publisher pages --------------------------------------------------------


def listing_versions_for_viewer(*, listing: Listing, user) -> list[ListingVersion]:
    """Live versions (processed, approved) for everyone; the publisher and staff also see
    versions in progress, failed, awaiting review or rejected. The one /v1 serves when no
    version is pinned has ``is_served`` set."""
    versions = listing.versions.prefetch_related("files").order_by("-number")
    if not (user and user.is_authenticated and (user.is_staff or _is_owner(user, listing))):
        versions = versions.filter(policies.live_version_q())
    return mark_served(list(versions))


def mark_served(versions: list[ListingVersion]) -> list[ListingVersion]:
    """Sets ``is_served`` on the version /v1 serves when no version is pinned (the first live
    one of ``versions``, newest first) and clears it on the others."""
    served = next((v for v in versions if policies.version_is_live(v)), None)
    for version in versions:
        version.is_served = version is served
    return versions


def derived_listings(*, listing: Listing, limit: int = 12) -> list[Listing]:
    """Public listings fine-tuned from ``listing``, newest first (its page's "Fine-tuned from
    this model")."""
    return list(with_card_data(listing.derived_listings.filter(status=APPROVED))[:limit])


def listing_reviews(*, listing: Listing, limit: int = 50) -> list[Review]:
    return list(listing.reviews.select_related("author").order_by("-created_at", "-id")[:limit])


def review_by(*, user, listing: Listing) -> Review | None:
    if not (user and user.is_authenticated):
        return None
    return Review.objects.filter(listing=listing, author=user).first()


def user_can_review(*, user, listing: Listing) -> bool:
    """Eligible to write a review now: a customer (billing decides), not the publisher, not yet reviewed."""
    if (
        not (user and user.is_authenticated)
        or listing.status != APPROVED
        or _is_owner(user, listing)
    ):
        return False
    return customer_can_review(user=user, listing=listing)


def publisher_public(*, slug: str) -> PublisherProfile | None:
    return PublisherProfile.objects.filter(
        slug=slug, status=PublisherProfile.Status.APPROVED
    ).first()


def publisher_slug_now(slug: str) -> str | None:
    """The current slug of the publisher who had ``slug`` before a rename (None: nobody)."""
    return PublisherSlug.objects.filter(slug=slug).values_list("profile__slug", flat=True).first()


# --- curation ---------------------------------------------------------------------------


def review_queue() -> list[Listing]:
    """Pending listings, oldest first, each with ``versions_newest_first`` (the first holds the report)."""
    versions = ListingVersion.objects.order_by("-number")
    return list(
        Listing.objects.filter(status=Listing.Status.PENDING)
        .select_related("publisher", "fine_tuned_from__publisher", "fine_tuned_from_version")
        .prefetch_related(Prefetch("versions", queryset=versions, to_attr="versions_newest_first"))
        .order_by("updated_at", "id")
    )


def versions_awaiting_review() -> list[ListingVersion]:
    """Processed new versions of approved listings that the curators have not decided yet,
    oldest first, each with ``served_number`` (the version customers get meanwhile)."""
    versions = list(
        ListingVersion.objects.filter(
            status=ListingVersion.Status.READY,
            review=ListingVersion.Review.AWAITING,
            listing__status=Listing.Status.APPROVED,
        )
        .select_related("listing__publisher")
        .order_by("processed_at", "id")
    )
    served = {}
    for row in (
        ListingVersion.objects.filter(
            policies.live_version_q(), listing_id__in={v.listing_id for v in versions}
        )
        .order_by("listing_id", "-number")
        .values("listing_id", "number")
    ):
        served.setdefault(row["listing_id"], row["number"])
    for version in versions:
        version.served_number = served.get(version.listing_id)
    return versions


def open_reports() -> list[ListingReport]:
    return list(
        ListingReport.objects.filter(status=ListingReport.Status.OPEN)
        .select_related("listing", "listing__publisher", "reporter")
        .order_by("created_at", "id")
    )
