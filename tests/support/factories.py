"""Every factory of the suite, one per model: users and publishers, listings with processed
versions and their files (rows only, no weights on disk), collections, reviews, prices and
API keys; and the few builders of rows that need more than one factory call."""

import hashlib
import importlib
from pathlib import Path

import factory
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from accounts.models import PublisherProfile, User
from accounts.services import api_key_create
from billing.models import PriceOption
from store.models import Collection, CollectionItem, Listing, ListingVersion, Review, WeightFile

# --- accounts ------------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "correct-horse-battery-staple")
        if create:
            obj.save(update_fields=["password"])


class PublisherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PublisherProfile

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Publisher {n}")
    slug = factory.Sequence(lambda n: f"publisher-{n}")
    bio = "We publish small models."
    status = PublisherProfile.Status.APPROVED
    verified = True
    reviewed_at = factory.LazyFunction(timezone.now)


class ApiKeyFactory:
    """Keys are issued by the service only: it alone sees the secret before it is hashed."""

    @staticmethod
    def issue(*, user, name="test key", **limits):
        issued = api_key_create(user=user, name=name, **limits)
        return issued.api_key, issued.secret


# --- store ---------------------------------------------------------------------------------


class ListingFactory(factory.django.DjangoModelFactory):
    """An approved (public) listing by default; pass status="draft" etc. for hidden ones."""

    class Meta:
        model = Listing

    publisher = factory.SubFactory(PublisherFactory)
    name = factory.Sequence(lambda n: f"Test Model {n}")
    slug = factory.Sequence(lambda n: f"test-model-{n}")
    summary = "A small language model for tests."
    card_markdown = "# Test model\n\nTrained on nothing in particular."
    task = Listing.Task.CHAT
    license = "apache-2.0"
    tags = factory.LazyFunction(lambda: ["test"])
    languages = factory.LazyFunction(lambda: ["en"])
    status = Listing.Status.APPROVED
    approved_at = factory.LazyAttribute(
        lambda listing: timezone.now() if listing.status == Listing.Status.APPROVED else None
    )


class ListingVersionFactory(factory.django.DjangoModelFactory):
    """A processed (ready) version with the metadata processing would have read."""

    class Meta:
        model = ListingVersion

    listing = factory.SubFactory(ListingFactory)
    number = factory.Sequence(lambda n: n + 1)
    source_format = ListingVersion.Format.SAFETENSORS
    status = ListingVersion.Status.READY
    review = ListingVersion.Review.APPROVED  # a published listing's version, reviewed with it
    progress = 100
    processing_report = factory.LazyFunction(
        lambda: {"checks": ["files", "sha256", "metadata", "generation"], "sample": "Hello there"}
    )
    architecture = "LlamaForCausalLM"
    parameter_count = 134_515_008
    context_length = 8192
    vocab_size = 49152
    dtype = "float32"
    has_chat_template = True
    size_bytes = 538_000_000
    processed_at = factory.LazyFunction(timezone.now)


class WeightFileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeightFile

    version = factory.SubFactory(ListingVersionFactory)
    path = factory.Sequence(lambda n: f"model-{n:05d}.safetensors")
    size_bytes = 1024
    sha256 = factory.LazyAttribute(lambda f: hashlib.sha256(f.path.encode()).hexdigest())

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # A ready version's files are immutable through save(); tests build them as the
        # processing task does, all at once, so insert without the model's save guard.
        return model_class.objects.bulk_create([model_class(*args, **kwargs)])[0]


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collection

    name = factory.Sequence(lambda n: f"Collection {n}")
    slug = factory.Sequence(lambda n: f"collection-{n}")


class CollectionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CollectionItem

    collection = factory.SubFactory(CollectionFactory)
    listing = factory.SubFactory(ListingFactory)


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    listing = factory.SubFactory(ListingFactory)
    author = factory.SubFactory(UserFactory)
    stars = 4
    text = "Does what it says."


def gpt_categories_restore() -> None:
    """The GPT categories the store's migration writes, written again if missing: a
    transactional test's flush removes them, and tests that run after one may need them."""
    importlib.import_module("store.migrations.0006_gpts").add_categories(apps, None)


def published_listing(**fields) -> Listing:
    """An approved listing with one ready version holding config, tokenizer and weights files
    (rows only). ``version__<field>`` sets a field of the version."""
    version_fields = {
        key[len("version__") :]: fields.pop(key)
        for key in list(fields)
        if key.startswith("version__")
    }
    listing = ListingFactory(**fields)
    version = ListingVersionFactory(listing=listing, number=1, **version_fields)
    for path in ("config.json", "tokenizer.json", "model.safetensors"):
        WeightFileFactory(version=version, path=path)
    return listing


def downloadable_version(
    listing: Listing, *, content: bytes = b"", path: str = "model.safetensors"
) -> WeightFile:
    """The listing's next version, ready, with one weight file written under MEDIA_ROOT (for
    downloads); returns the file."""
    content = content or bytes(range(256)) * 64  # 16 KiB of known bytes
    number = listing.versions.count() + 1
    storage_path = f"models/{listing.publisher.slug}/{listing.slug}/v{number}"
    version = ListingVersion.objects.create(
        listing=listing,
        number=number,
        source_format=ListingVersion.Format.SAFETENSORS,
        status=ListingVersion.Status.PROCESSING,
        storage_path=storage_path,
        size_bytes=len(content),
        processed_at=timezone.now(),
    )
    target = Path(settings.MEDIA_ROOT) / storage_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    weight_file = WeightFile.objects.create(
        version=version,
        path=path,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    # Files are added while processing; a ready version is immutable.
    version.status = ListingVersion.Status.READY
    version.review = ListingVersion.Review.APPROVED
    version.save()
    return weight_file


# --- billing -------------------------------------------------------------------------------


def purchase_price(listing: Listing, amount: int = 1500) -> PriceOption:
    return PriceOption.objects.create(
        listing=listing, kind="purchase", amount=amount, currency=settings.STORE_CURRENCY
    )


def rental_price(
    listing: Listing, *, amount: int = 500, tokens: int = 100_000, days: int = 30
) -> PriceOption:
    return PriceOption.objects.create(
        listing=listing,
        kind="rental",
        amount=amount,
        currency=settings.STORE_CURRENCY,
        tokens=tokens,
        days=days,
    )
