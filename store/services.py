"""Store writes: listings and their lifecycle.

Lifecycle: draft → pending → approved | rejected; rejected → pending (after a fix);
approved → delisted; delisted → pending (relist asks for a new review).
Every change of status writes a ListingStatusChange row (the audit log) in the same
transaction as the change itself.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import PublisherProfile, User
from config.api_errors import ApplicationError
from store.models import Listing, ListingStatusChange, ListingVersion

S = Listing.Status
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.PENDING},
    S.PENDING: {S.APPROVED, S.REJECTED, S.DRAFT},
    S.REJECTED: {S.PENDING},
    S.APPROVED: {S.DELISTED},
    S.DELISTED: {S.PENDING, S.APPROVED},
}
STAFF_ONLY = {S.APPROVED, S.REJECTED, S.DELISTED}

LISTING_FIELDS = ("name", "summary", "card_markdown", "task", "tags", "license", "languages", "conversation_starters")


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
    from store.licenses import LICENSE_IDS

    if "name" in fields:
        fields["name"] = fields["name"].strip()
        if not fields["name"]:
            raise ApplicationError("A listing needs a name.", field="name")
    if "license" in fields and fields["license"] not in LICENSE_IDS:
        raise ApplicationError(f"Unknown licence {fields['license']!r}: pick an SPDX id from the list.", field="license")
    if "task" in fields and fields["task"] not in Listing.Task.values:
        raise ApplicationError(f"Unknown task {fields['task']!r}.", field="task")
    for name in ("tags", "languages"):
        if name in fields:
            fields[name] = _clean_list(fields[name], field=name)
    if "conversation_starters" in fields:
        fields["conversation_starters"] = _clean_list(fields["conversation_starters"], field="conversation_starters", limit=6)
    return fields


def listing_create(*, publisher: PublisherProfile, name: str, slug: str = "", **fields) -> Listing:
    """Creates a draft listing owned by an approved publisher."""
    if publisher.status != PublisherProfile.Status.APPROVED:
        raise ApplicationError("Only approved publishers can create listings.", status=403, code="forbidden")
    slug = slugify(slug or name)[:80]
    if not slug:
        raise ApplicationError("Choose a slug made of letters, digits or dashes.", field="slug")
    if Listing.objects.filter(publisher=publisher, slug=slug).exists():
        raise ApplicationError("You already have a listing with this slug.", field="slug", code="duplicate_slug")
    unknown = set(fields) - set(LISTING_FIELDS)
    if unknown:
        raise TypeError(f"Unknown listing fields: {sorted(unknown)}")
    values = _validate({"name": name, **fields})
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


def listing_transition(*, listing_id: int, to_status: str, actor: User | None, reason: str = "") -> Listing:
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
        is_staff = actor is not None and actor.is_staff
        is_owner = actor is not None and listing.publisher.user_id == actor.pk
        if to_status in STAFF_ONLY and not is_staff:
            raise ApplicationError("Only staff can do this.", status=403, code="forbidden")
        if to_status in {S.PENDING, S.DRAFT} and not (is_owner or is_staff):
            raise ApplicationError("Only the publisher can submit this listing.", status=403, code="forbidden")
        if to_status == S.REJECTED and not reason:
            raise ApplicationError("Say why the listing is rejected.", field="reason")
        if to_status in {S.PENDING, S.APPROVED} and not ListingVersion.objects.filter(
            listing=listing, status=ListingVersion.Status.READY
        ).exists():
            raise ApplicationError(
                "Upload weights and wait until a version is processed first.", code="no_ready_version"
            )
        listing.status = to_status
        listing.rejection_reason = reason if to_status == S.REJECTED else ""
        if to_status == S.APPROVED:
            listing.approved_at = timezone.now()
        listing.save(update_fields=["status", "rejection_reason", "approved_at", "updated_at"])
        ListingStatusChange.objects.create(
            listing=listing, actor=actor, from_status=current, to_status=to_status, reason=reason
        )
    return listing
