"""Who may curate the store: each rule once, for the admin, the curator page and services.

Staff status opens the admin and the curator page; each decision also needs the Django
permission on what it changes (a superuser has them all), so a staff account given only
view rights cannot approve, delist or feature a listing, close a report or delete a review.
"""

from django.db.models import Q

from store.models import ListingVersion

CURATE_PERMISSION = "store.change_listing"
REPORT_PERMISSION = "store.change_listingreport"
MODERATE_REVIEWS_PERMISSION = "store.delete_review"


def _staff_with(user, permission: str) -> bool:
    return bool(user and user.is_active and user.is_staff and user.has_perm(permission))


def may_open_curation(user) -> bool:
    """The curator page: staff who may decide listings or reports."""
    return may_curate_listings(user) or may_close_reports(user)


def may_curate_listings(user) -> bool:
    """Approve, reject, delist, feature: staff with ``change_listing``."""
    return _staff_with(user, CURATE_PERMISSION)


def may_close_reports(user) -> bool:
    return _staff_with(user, REPORT_PERMISSION)


def may_moderate_reviews(user) -> bool:
    return _staff_with(user, MODERATE_REVIEWS_PERMISSION)


# --- what customers get ---------------------------------------------------------------


def live_version_q(prefix: str = "") -> Q:
    """A version customers get (served by /v1, listed, downloadable): processed and approved
    by the curators. ``prefix`` reaches it through a relation ("versions__")."""
    return Q(
        **{
            f"{prefix}status": ListingVersion.Status.READY,
            f"{prefix}review": ListingVersion.Review.APPROVED,
        }
    )


def version_is_live(version) -> bool:
    return (
        version.status == ListingVersion.Status.READY
        and version.review == ListingVersion.Review.APPROVED
    )
