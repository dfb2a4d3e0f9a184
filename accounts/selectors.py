"""Account reads."""

from django.db.models import QuerySet

from accounts.models import ApiKey, PublisherProfile, User


def user_by_email(*, email: str) -> User | None:
    """The account with this email, compared case-insensitively as sign-up stores it."""
    return User.objects.filter(email__iexact=email.strip()).first()


def api_keys_of(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("revoked_at", "-created_at")


def api_key_of(*, user: User, key_id: int) -> ApiKey | None:
    """The user's own key; someone else's key is indistinguishable from a missing one."""
    return ApiKey.objects.filter(user=user, pk=key_id).first()


def publisher_profile_of(*, user: User) -> PublisherProfile | None:
    return PublisherProfile.objects.filter(user=user).first()


def approved_publisher_by_slug(*, slug: str) -> PublisherProfile | None:
    return (
        PublisherProfile.objects.select_related("user")
        .filter(slug=slug, status=PublisherProfile.Status.APPROVED)
        .first()
    )


def login_attempt_email(request, credentials) -> str | None:
    """The email a login attempt was for, as django-axes counts failures by it (the login
    form's field is ``username``; Django's backends call it ``email`` for this user model)."""
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if value is None and request is not None:
        value = request.POST.get("username") or request.POST.get("email")
    return value.strip().lower() if isinstance(value, str) else None
