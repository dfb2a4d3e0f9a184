from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account: customer by default, publisher once approved, staff by flag."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def publisher(self):
        """The approved publisher profile, or None."""
        profile = getattr(self, "publisher_profile", None)
        if profile is not None and profile.status == PublisherProfile.Status.APPROVED:
            return profile
        return None

    @property
    def is_publisher(self) -> bool:
        return self.publisher is not None

    @property
    def role(self) -> str:
        if self.is_staff:
            return "staff"
        if self.is_publisher:
            return "publisher"
        return "customer"


class PublisherProfile(models.Model):
    """A customer's application to publish, then their public publisher identity."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="publisher_profile")
    display_name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    bio = models.TextField(blank=True, max_length=2000)
    website = models.URLField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    verified = models.BooleanField(default=False, help_text="Staff checked who this publisher is.")
    review_note = models.TextField(blank=True, help_text="Shown to the applicant when rejected.")
    # An approved publisher's new name and slug wait here for staff review (the store keeps
    # showing the current ones meanwhile): accounts.services.publisher_rename_review.
    pending_display_name = models.CharField(max_length=100, blank=True)
    pending_slug = models.SlugField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return f"{self.display_name} ({self.slug})"

    @property
    def rename_pending(self) -> bool:
        return bool(self.pending_display_name or self.pending_slug)


class PublisherSlug(models.Model):
    """A slug a publisher had before a rename: reserved for them for good (nobody else may
    take it), and its pages and model ids lead to their current ones."""

    slug = models.SlugField(max_length=60, unique=True)
    profile = models.ForeignKey(
        PublisherProfile, on_delete=models.CASCADE, related_name="old_slugs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.slug} → {self.profile.slug}"


class ApiKey(models.Model):
    """A named secret for the /v1 API. Only a SHA-256 hash of the secret is kept.

    The full key reads ``gpts_<prefix>_<secret>``; the prefix is public and indexes
    the lookup, the hash is compared in constant time.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    tokens_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    monthly_token_budget = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Cents of credits this key may spend per UTC calendar month (held at admission).
    monthly_spend_limit = models.PositiveBigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} (gpts_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def display(self) -> str:
        return f"gpts_{self.prefix}_…"
