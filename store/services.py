"""Store writes: listings and their lifecycle, curation (featuring, collections, reports), reviews.

Lifecycle: draft → pending → approved | rejected; rejected → pending (after a fix);
approved → delisted; delisted → pending (relist asks for a new review).
Every change of status writes a ListingStatusChange row (the audit log) in the same
transaction as the change itself.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import PublisherProfile, User
from billing.selectors import customer_can_review
from billing.services import orders_cancel_pending
from config.api_errors import ApplicationError
from inference.models import UsageRecord
from store import policies
from store.licenses import LICENSE_IDS
from store.models import (
    Collection,
    CollectionItem,
    Listing,
    ListingReport,
    ListingStatusChange,
    ListingVersion,
    Review,
)

S = Listing.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.PENDING},
    S.PENDING: {S.APPROVED, S.REJECTED, S.DRAFT},
    S.REJECTED: {S.PENDING},
    S.APPROVED: {S.DELISTED},
    S.DELISTED: {S.PENDING, S.APPROVED},
}
STAFF_ONLY = {S.APPROVED, S.REJECTED, S.DELISTED}

LISTING_FIELDS = (
    "name",
    "summary",
    "card_markdown",
    "task",
    "tags",
    "license",
    "languages",
    "conversation_starters",
)


def _clean_list(values, *, field: str, limit: int = 20) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    cleaned = []
    for value in values or []:
        value = str(value).strip()
        if value and value not in cleaned:
            cleaned.append(value[:60])
    if len(cleaned) > limit:
        raise ApplicationError(f"At most {limit} {field} are allowed.", field=field)
    return cleaned


def _validate(fields: dict) -> dict:
    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not fields["name"]:
            raise ApplicationError("A listing needs a name.", field="name")
    if "license" in fields and fields["license"] not in LICENSE_IDS:
        raise ApplicationError(
            f"Unknown licence {fields['license']!r}: pick an SPDX id from the list.",
            field="license",
        )
    if "task" in fields and fields["task"] not in Listing.Task.values:
        raise ApplicationError(f"Unknown task {fields['task']!r}.", field="task")
    for name in ("tags", "languages"):
        if name in fields:
            fields[name] = _clean_list(fields[name], field=name)
    if "conversation_starters" in fields:
        fields["conversation_starters"] = _clean_list(
            fields["conversation_starters"], field="conversation_starters", limit=6
        )
    return fields


def listing_create(
    *,
    publisher: PublisherProfile,
    name: str,
    slug: str = "",
    lineage: ListingVersion | None = None,
    **fields,
) -> Listing:
    """Creates a draft listing owned by an approved publisher. ``lineage`` is the base version
    a fine-tuned model was trained from, when the listing publishes one (shown on its page)."""
    if publisher.status != PublisherProfile.Status.APPROVED:
        raise ApplicationError(
            "Only approved publishers can create listings.", status=403, code="forbidden"
        )
    slug = slugify(slug or name)[:80]
    if not slug:
        raise ApplicationError("Choose a slug made of letters, digits or dashes.", field="slug")
    if Listing.objects.filter(publisher=publisher, slug=slug).exists():
        raise ApplicationError(
            "You already have a listing with this slug.", field="slug", code="duplicate_slug"
        )
    unknown = set(fields) - set(LISTING_FIELDS)
    if unknown:
        raise TypeError(f"Unknown listing fields: {sorted(unknown)}")
    values = _validate({"name": name, **fields})
    if lineage is not None:
        values.update(fine_tuned_from_id=lineage.listing_id, fine_tuned_from_version=lineage)
    return Listing.objects.create(publisher=publisher, slug=slug, **values)


def listing_update(*, listing: Listing, **fields) -> Listing:
    """Edits the descriptive fields. Status is changed only through listing_transition."""
    unknown = set(fields) - set(LISTING_FIELDS)
    if unknown:
        raise TypeError(f"Unknown listing fields: {sorted(unknown)}")
    for name, value in _validate(dict(fields)).items():
        setattr(listing, name, value)
    listing.save()
    return listing


def listing_can_submit(*, listing: Listing, versions: list[ListingVersion]) -> bool:
    """Whether the owner may send the listing to review now: its lifecycle allows it and one
    of its versions is processed (the same rules listing_transition enforces)."""
    return S.PENDING in ALLOWED_TRANSITIONS.get(listing.status, set()) and any(
        version.status == ListingVersion.Status.READY for version in versions
    )


def listing_transition(
    *, listing_id: int, to_status: str, actor: User | None, reason: str = ""
) -> Listing:
    """Moves a listing along its lifecycle and records the change in the audit log.

    Staff decide approved/rejected/delisted; the owner submits (→ pending) and may
    withdraw a pending listing (→ draft). A rejection needs a reason the publisher reads.
    A listing goes to review only with a processed (ready) version.
    """
    reason = reason.strip()
    with transaction.atomic():
        # Locked so that two curators clicking at once produce one change, not two.
        listing = Listing.objects.select_for_update().select_related("publisher").get(pk=listing_id)
        current = listing.status
        if to_status not in ALLOWED_TRANSITIONS.get(current, set()):
            raise ApplicationError(
                f"A {listing.get_status_display().lower()} listing cannot become {to_status}.",
                code="invalid_transition",
                status=409,
            )
        is_staff = policies.may_curate_listings(actor)
        is_owner = actor is not None and listing.publisher.user_id == actor.pk
        if to_status in STAFF_ONLY and not is_staff:
            raise ApplicationError("Only staff can do this.", status=403, code="forbidden")
        if to_status in {S.PENDING, S.DRAFT} and not (is_owner or is_staff):
            raise ApplicationError(
                "Only the publisher can submit this listing.", status=403, code="forbidden"
            )
        if to_status == S.REJECTED and not reason:
            raise ApplicationError("Say why the listing is rejected.", field="reason")
        if (
            to_status in {S.PENDING, S.APPROVED}
            and not ListingVersion.objects.filter(
                listing=listing, status=ListingVersion.Status.READY
            ).exists()
        ):
            raise ApplicationError(
                "Upload weights and wait until a version is processed first.",
                code="no_ready_version",
            )
        listing.status = to_status
        listing.rejection_reason = reason if to_status == S.REJECTED else ""
        if to_status == S.APPROVED:
            listing.approved_at = timezone.now()
            # The curators reviewed the listing with its weights: its processed versions that
            # await review are approved with it (a version they rejected stays rejected).
            ListingVersion.objects.filter(
                listing=listing,
                status=ListingVersion.Status.READY,
                review=ListingVersion.Review.AWAITING,
            ).update(
                review=ListingVersion.Review.APPROVED,
                reviewed_at=listing.approved_at,
                reviewed_by=actor,
            )
        listing.save(update_fields=["status", "rejection_reason", "approved_at", "updated_at"])
        ListingStatusChange.objects.create(
            listing=listing, actor=actor, from_status=current, to_status=to_status, reason=reason
        )
        if current == S.APPROVED and to_status != S.APPROVED:
            orders_cancel_pending(message="This model is no longer on sale.", listing_id=listing.pk)
    return listing


def version_review(
    *, version_id: int, approve: bool, actor: User | None, reason: str = ""
) -> ListingVersion:
    """Staff approve or reject a processed version of an approved listing.

    Approved, it becomes what /v1 serves when no version is pinned (the latest approved
    version is served) and buyers may download it; rejected, it is never served and its
    publisher reads why. Decided once: a second decision is refused (409), so two curators
    clicking at once produce one decision.
    """
    _require(policies.may_curate_listings(actor))
    reason = reason.strip()
    if not approve and not reason:
        raise ApplicationError("Say why the version is rejected.", field="reason")
    with transaction.atomic():
        version = (
            ListingVersion.objects.select_for_update()
            .select_related("listing__publisher")
            .get(pk=version_id)
        )
        if version.status != ListingVersion.Status.READY:
            raise ApplicationError(
                "Only a processed version can be reviewed.", code="not_ready", status=409
            )
        if version.review != ListingVersion.Review.AWAITING:
            raise ApplicationError(
                f"Version {version.number} was already {version.get_review_display().lower()}.",
                code="already_reviewed",
                status=409,
            )
        decision = ListingVersion.Review.APPROVED if approve else ListingVersion.Review.REJECTED
        ListingVersion.objects.filter(pk=version.pk).update(
            review=decision,
            review_reason="" if approve else reason,
            reviewed_at=timezone.now(),
            reviewed_by=actor,
        )
    version.refresh_from_db()
    return version


def _require(allowed: bool) -> None:
    if not allowed:
        raise ApplicationError("Only staff can do this.", status=403, code="forbidden")


# --- curation ---------------------------------------------------------------------------


def listing_set_featured(*, listing_id: int, featured: bool, actor: User | None) -> Listing:
    """Staff put an approved listing on (or take it off) the home page's featured shelf.

    Only approved listings can be featured; delisting does not clear the flag, but the
    home page shows approved listings only, so a delisted one disappears from the shelf.
    """
    _require(policies.may_curate_listings(actor))
    listing = Listing.objects.get(pk=listing_id)
    if featured and listing.status != Listing.Status.APPROVED:
        raise ApplicationError(
            "Only approved listings can be featured.", code="not_public", status=409
        )
    if listing.featured != featured:
        listing.featured = featured
        listing.save(update_fields=["featured", "updated_at"])
    return listing


def collection_create(
    *, name: str, slug: str = "", description: str = "", position: int = 0, is_visible: bool = True
) -> Collection:
    """Creates a curated collection; its slug is unique across collections."""
    name = name.strip()
    if not name:
        raise ApplicationError("A collection needs a name.", field="name")
    slug = slugify(slug or name)[:80]
    if Collection.objects.filter(slug=slug).exists():
        raise ApplicationError(
            "A collection with this slug exists.", field="slug", code="duplicate_slug"
        )
    return Collection.objects.create(
        name=name,
        slug=slug,
        description=description.strip(),
        position=position,
        is_visible=is_visible,
    )


def collection_add_listing(
    *, collection: Collection, listing: Listing, position: int | None = None
) -> CollectionItem:
    """Puts a listing in a collection (at the end unless a position is given); adding twice moves it."""
    if position is None:
        last = collection.items.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    item, _ = CollectionItem.objects.update_or_create(
        collection=collection, listing=listing, defaults={"position": position}
    )
    return item


def collection_remove_listing(*, collection: Collection, listing: Listing) -> None:
    CollectionItem.objects.filter(collection=collection, listing=listing).delete()


# --- reports ----------------------------------------------------------------------------


def report_create(*, listing: Listing, reporter: User, reason: str, text: str) -> ListingReport:
    """A signed-in visitor reports a listing they can see; one open report per visitor and listing."""
    if reporter is None or not reporter.is_authenticated:
        raise ApplicationError("Log in to report a listing.", status=401, code="not_authenticated")
    if reason not in ListingReport.Reason.values:
        raise ApplicationError("Pick a reason for the report.", field="reason")
    text = (text or "").strip()
    if len(text) < 10:
        raise ApplicationError("Tell us what is wrong in a sentence or two.", field="text")
    if len(text) > 4000:
        raise ApplicationError("Keep the report under 4000 characters.", field="text")
    if ListingReport.objects.filter(
        listing=listing, reporter=reporter, status=ListingReport.Status.OPEN
    ).exists():
        raise ApplicationError(
            "You already reported this listing; staff are looking into it.",
            code="duplicate_report",
            status=409,
        )
    return ListingReport.objects.create(
        listing=listing, reporter=reporter, reason=reason, text=text
    )


def report_close(
    *, report_id: int, actor: User | None, status: str, note: str = ""
) -> ListingReport:
    """Staff resolve (acted on it) or dismiss (nothing wrong) an open report, once."""
    _require(policies.may_close_reports(actor))
    if status not in {ListingReport.Status.RESOLVED, ListingReport.Status.DISMISSED}:
        raise ApplicationError("A report is closed as resolved or dismissed.", field="status")
    now = timezone.now()
    # Conditional update: two curators closing the same report produce one decision.
    updated = ListingReport.objects.filter(pk=report_id, status=ListingReport.Status.OPEN).update(
        status=status, resolution_note=note.strip(), resolved_by=actor, resolved_at=now
    )
    if not updated:
        raise ApplicationError("This report is already closed.", code="already_closed", status=409)
    return ListingReport.objects.get(pk=report_id)


# --- reviews ----------------------------------------------------------------------------


def _listing_refresh_rating(listing_id: int) -> None:
    summary = Review.objects.filter(listing_id=listing_id).aggregate(
        avg=Avg("stars"), n=Count("id")
    )
    Listing.objects.filter(pk=listing_id).update(
        rating_average=summary["avg"], review_count=summary["n"]
    )


def _clean_review(stars, text: str) -> tuple[int, str]:
    try:
        stars = int(stars)
    except (TypeError, ValueError):
        stars = 0
    if not 1 <= stars <= 5:
        raise ApplicationError("Give between 1 and 5 stars.", field="stars")
    text = (text or "").strip()
    if len(text) > 4000:
        raise ApplicationError("Keep the review under 4000 characters.", field="text")
    return stars, text


def review_create(*, listing: Listing, author: User, stars: int, text: str = "") -> Review:
    """A customer who bought or used an approved listing reviews it, once; its publisher cannot.

    The listing's denormalised average and count change in the same transaction.
    """
    stars, text = _clean_review(stars, text)
    if listing.status != Listing.Status.APPROVED:
        raise ApplicationError(
            "Only published listings can be reviewed.", code="not_public", status=409
        )
    if listing.publisher.user_id == author.pk:
        raise ApplicationError(
            "Publishers cannot review their own listings.", status=403, code="forbidden"
        )
    if not customer_can_review(user=author, listing=listing):
        raise ApplicationError(
            "Buy this model or use it with a rental before reviewing it.",
            status=403,
            code="not_a_customer",
        )
    try:
        with transaction.atomic():
            review = Review.objects.create(listing=listing, author=author, stars=stars, text=text)
            _listing_refresh_rating(listing.pk)
    except IntegrityError:
        raise ApplicationError(
            "You already reviewed this model; edit your review instead.",
            code="duplicate_review",
            status=409,
        ) from None
    return review


def review_update(*, review_id: int, author: User, stars: int, text: str = "") -> Review:
    """Only the author edits a review; the listing's average follows."""
    stars, text = _clean_review(stars, text)
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review_id)
        if review.author_id != author.pk:
            raise ApplicationError("This is someone else's review.", status=403, code="forbidden")
        review.stars, review.text = stars, text
        review.save(update_fields=["stars", "text", "updated_at"])
        _listing_refresh_rating(review.listing_id)
    return review


def review_delete(*, review_id: int, actor: User) -> None:
    """The author, or staff moderating, delete a review; the listing's average follows."""
    with transaction.atomic():
        review = Review.objects.select_for_update().get(pk=review_id)
        if review.author_id != actor.pk and not policies.may_moderate_reviews(actor):
            raise ApplicationError("This is someone else's review.", status=403, code="forbidden")
        listing_id = review.listing_id
        review.delete()
        _listing_refresh_rating(listing_id)


# --- usage ------------------------------------------------------------------------------

RECENT_USAGE_DAYS = 7


def listing_usage_refresh(*, days: int = RECENT_USAGE_DAYS) -> int:
    """Copies each listing's number of usage records of the last ``days`` onto ``recent_uses``.

    Run periodically (Celery beat, store.listing_usage_refresh): the "most used" sort then reads
    an indexed column instead of counting usage for every listing on every page. Only rows whose
    count changed are written. Returns how many listings changed.
    """
    since = timezone.now() - timedelta(days=days)
    counts = dict(
        UsageRecord.objects.filter(created_at__gte=since)
        .values("listing_id")
        .annotate(n=Count("id"))
        .values_list("listing_id", "n")
    )
    changed = (
        Listing.objects.filter(recent_uses__gt=0).exclude(pk__in=list(counts)).update(recent_uses=0)
    )
    by_count: dict[int, list[int]] = {}
    for listing_id, n in counts.items():
        by_count.setdefault(n, []).append(listing_id)
    for n, ids in by_count.items():
        changed += Listing.objects.filter(pk__in=ids).exclude(recent_uses=n).update(recent_uses=n)
    return changed
