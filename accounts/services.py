"""Account writes: sign-up, publisher applications, API keys."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from accounts import policies
from accounts.models import ApiKey, PublisherProfile, PublisherSlug, User
from config.api_errors import ApplicationError

KEY_PREFIX = "gpts"
# Writing last_used_at on every request would make each call a write; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60


def user_sign_up(*, email: str, password: str, name: str = "") -> User:
    """Creates a customer. Emails are unique case-insensitively; weak passwords are refused."""
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(
            "An account with this email already exists.", field="email", code="duplicate_email"
        )
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ApplicationError(
            " ".join(exc.messages), field="password", code="weak_password"
        ) from exc
    return User.objects.create_user(email=email, password=password, name=name)


def _slug_taken(slug: str, *, profile: PublisherProfile | None) -> bool:
    """Whether ``slug`` is another publisher's: their slug now, one waiting for review, or
    one they had (reserved for good: its pages and model ids lead to them)."""
    others = PublisherProfile.objects.filter(Q(slug=slug) | Q(pending_slug=slug))
    reserved = PublisherSlug.objects.filter(slug=slug)
    if profile is not None:
        others = others.exclude(pk=profile.pk)
        reserved = reserved.exclude(profile=profile)
    return others.exists() or reserved.exists()


def publisher_apply(
    *, user: User, display_name: str, slug: str, bio: str = "", website: str = ""
) -> PublisherProfile:
    """Files (or re-files after a rejection) the user's application to publish.

    A pending or rejected application is updated (and goes back to pending). An approved
    publisher's bio and website change at once; a new name or slug waits for staff review
    (``pending_*``), so that nobody renames a reviewed, perhaps verified, profile into someone
    else's (publisher_rename_review).
    """
    slug = slugify(slug or display_name)
    if not slug:
        raise ApplicationError("Choose a slug made of letters, digits or dashes.", field="slug")
    with transaction.atomic():
        profile = PublisherProfile.objects.select_for_update().filter(user=user).first()
        if _slug_taken(slug, profile=profile):
            raise ApplicationError(
                "This slug is taken by another publisher.", field="slug", code="duplicate_slug"
            )
        if profile is None:
            return PublisherProfile.objects.create(
                user=user, display_name=display_name, slug=slug, bio=bio, website=website
            )
        profile.bio = bio
        profile.website = website
        if profile.status == PublisherProfile.Status.APPROVED:
            renamed = (display_name, slug) != (profile.display_name, profile.slug)
            profile.pending_display_name = display_name if renamed else ""
            profile.pending_slug = slug if renamed else ""
        else:
            profile.display_name = display_name
            profile.slug = slug
        if profile.status == PublisherProfile.Status.REJECTED:
            profile.status = PublisherProfile.Status.PENDING
            profile.review_note = ""
        profile.save()
        return profile


def publisher_rename_review(
    *, profile: PublisherProfile, reviewer: User, approve: bool, note: str = ""
) -> PublisherProfile:
    """Staff decide on an approved publisher's new name and slug. Approved: the old slug is
    reserved for them (its pages and model ids lead to the new ones); the verified badge stays
    only if the reviewer keeps it. Rejected: the current name stays, with the note."""
    if not policies.may_review_publishers(reviewer):
        raise ApplicationError(
            "Only staff who review publishers can do this.", status=403, code="forbidden"
        )
    with transaction.atomic():
        profile = PublisherProfile.objects.select_for_update().get(pk=profile.pk)
        if not profile.rename_pending:
            raise ApplicationError(
                f"{profile.display_name} has no rename waiting.", code="no_rename_pending"
            )
        if approve:
            if profile.pending_slug != profile.slug:
                PublisherSlug.objects.get_or_create(
                    slug=profile.slug, defaults={"profile": profile}
                )
                # Taking back a slug of one's own: it is current again, not a reservation.
                PublisherSlug.objects.filter(slug=profile.pending_slug, profile=profile).delete()
            profile.display_name = profile.pending_display_name
            profile.slug = profile.pending_slug
            profile.review_note = ""
        else:
            if not note.strip():
                raise ApplicationError("Say why the rename is refused.", field="review_note")
            profile.review_note = note.strip()
        profile.pending_display_name = profile.pending_slug = ""
        profile.reviewed_at = timezone.now()
        profile.reviewed_by = reviewer
        profile.save()
    return profile


def publisher_verify(
    *, profile: PublisherProfile, reviewer: User, verified: bool
) -> PublisherProfile:
    """Staff mark a publisher verified (they checked who it is), or take the badge away."""
    if not policies.may_review_publishers(reviewer):
        raise ApplicationError(
            "Only staff who review publishers can do this.", status=403, code="forbidden"
        )
    profile.verified = verified
    profile.reviewed_at = timezone.now()
    profile.reviewed_by = reviewer
    profile.save(update_fields=["verified", "reviewed_at", "reviewed_by"])
    return profile


def publisher_review(
    *,
    profile: PublisherProfile,
    reviewer: User,
    approve: bool,
    note: str = "",
    verified: bool | None = None,
) -> PublisherProfile:
    """Staff decision on an application. Rejection needs a note the applicant will read."""
    if not policies.may_review_publishers(reviewer):
        raise ApplicationError(
            "Only staff who review publishers can do this.", status=403, code="forbidden"
        )
    if not approve and not note.strip():
        raise ApplicationError("Say why the application is rejected.", field="review_note")
    profile.status = (
        PublisherProfile.Status.APPROVED if approve else PublisherProfile.Status.REJECTED
    )
    profile.review_note = "" if approve else note.strip()
    profile.reviewed_at = timezone.now()
    profile.reviewed_by = reviewer
    if verified is not None:
        profile.verified = verified
    profile.save()
    return profile


def password_reset_throttle(*, ip: str, email: str) -> None:
    """At most PASSWORD_RESETS_PER_HOUR reset emails per hour per address and per email,
    counted in the shared cache (Redis) so every web process sees the same count: the form
    cannot be used to flood a mailbox or to probe the mail server. 429 past that."""
    window = int(time.time() // 3600)
    for scope, value in (("ip", ip or "-"), ("email", email.strip().lower())):
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        key = f"password-reset:{scope}:{digest}:{window}"
        cache.add(key, 0, timeout=3600)
        if cache.incr(key) > settings.PASSWORD_RESETS_PER_HOUR:
            raise ApplicationError(
                "Too many reset emails were asked for; try again in an hour.",
                status=429,
                code="throttled",
            )


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    secret: str  # the full key; shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    user: User,
    name: str,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    monthly_token_budget: int | None = None,
    monthly_spend_limit: int | None = None,
) -> IssuedKey:
    """Issues a new key. The returned secret is the only copy that will ever exist."""
    name = name.strip()
    if not name:
        raise ApplicationError("Give the key a name.", field="name")
    for field, value in (
        ("requests_per_minute", requests_per_minute),
        ("tokens_per_minute", tokens_per_minute),
        ("monthly_token_budget", monthly_token_budget),
        ("monthly_spend_limit", monthly_spend_limit),
    ):
        if value is not None and value < 1:
            raise ApplicationError("Limits must be positive, or left empty for none.", field=field)
    prefix = secrets.token_hex(6)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(6)
    full = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=prefix,
        secret_hash=_hash(full),
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        monthly_token_budget=monthly_token_budget,
        monthly_spend_limit=monthly_spend_limit,
    )
    return IssuedKey(api_key=key, secret=full)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        api_key.refresh_from_db()
    return api_key


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key matching ``raw``, or None. Marks it used (at most once a minute)."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = (
        ApiKey.objects.select_related("user")
        .filter(prefix=parts[1], revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(raw.strip())):
        return None
    now = timezone.now()
    if (
        key.last_used_at is None
        or (now - key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
