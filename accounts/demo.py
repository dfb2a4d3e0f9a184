"""Demo accounts for the embedded store (`make run`). Never created with production settings."""

from django.conf import settings
from django.utils import timezone

from accounts.models import PublisherProfile, User

DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNTS = (
    ("admin@example.com", "Store Admin", "staff"),
    ("publisher@example.com", "Demo Publisher", "publisher"),
    ("customer@example.com", "Demo Customer", "customer"),
)


def demo_accounts_ensure() -> list[User]:
    """Creates the demo accounts that are missing; existing ones are left as they are."""
    if settings.PRODUCTION:
        raise RuntimeError("Demo accounts are never created with production settings.")
    users = []
    for email, name, role in DEMO_ACCOUNTS:
        user = User.objects.filter(email=email).first()
        if user is None:
            extra = {"is_staff": True, "is_superuser": True} if role == "staff" else {}
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name, **extra)
        if role == "publisher" and not PublisherProfile.objects.filter(user=user).exists():
            PublisherProfile.objects.create(
                user=user,
                display_name="GPT Store Labs",
                slug="gptstore-labs",
                bio="The store's own demo publisher: small models we built or converted ourselves.",
                status=PublisherProfile.Status.APPROVED,
                verified=True,
                reviewed_at=timezone.now(),
            )
        users.append(user)
    return users
