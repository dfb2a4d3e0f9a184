"""Who may do what with a GPT, and which GPTs are live: each rule once, for the views,
templates, selectors, services, the admin and /v1 alike."""

from store.gpts.models import BuilderProfile, Gpt

CURATE_PERMISSION = "store.change_gpt"


def _signed_in(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def may_build(user) -> bool:
    """Any signed-in user builds GPTs (only they see them until they share or publish)."""
    return _signed_in(user)


def is_builder(user, gpt: Gpt) -> bool:
    return _signed_in(user) and gpt.builder_id == user.pk


def may_publish_publicly(user) -> bool:
    """The public GPT store needs a builder profile staff have verified."""
    # Read fresh: a profile cached on the user object may predate the verification.
    return _signed_in(user) and BuilderProfile.objects.filter(user=user, verified=True).exists()


def is_listed(gpt: Gpt) -> bool:
    """In the GPT store's pages and search: public, approved, published."""
    return (
        gpt.visibility == Gpt.Visibility.PUBLIC
        and gpt.review == Gpt.Review.APPROVED
        and gpt.published_id is not None
    )


def listed_filter() -> dict:
    """is_listed as queryset filter arguments (the selectors' form of the same rule)."""
    return {
        "visibility": Gpt.Visibility.PUBLIC,
        "review": Gpt.Review.APPROVED,
        "published__isnull": False,
    }


def may_use(user, gpt: Gpt) -> bool:
    """Chat with it (page or /v1): its builder always; others when it is listed, or shared
    by link. A private or not yet published GPT is its builder's alone."""
    if gpt.published_id is None:
        return False
    if is_builder(user, gpt):
        return True
    if gpt.visibility == Gpt.Visibility.LINK:
        return True
    return is_listed(gpt)


def may_curate(user) -> bool:
    """Approve, reject, delist, feature GPTs and close reports: staff with change_gpt."""
    return bool(_signed_in(user) and user.is_staff and user.has_perm(CURATE_PERMISSION))


def may_rate(user, gpt: Gpt, *, has_chatted: bool) -> bool:
    """Ratings only from users who have chatted with it, never its builder."""
    return _signed_in(user) and not is_builder(user, gpt) and has_chatted


def may_see_instructions(user, gpt: Gpt) -> bool:
    """Customers never read a GPT's instructions or knowledge files; its builder and
    curators do."""
    return is_builder(user, gpt) or may_curate(user)
