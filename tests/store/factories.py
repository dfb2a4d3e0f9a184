"""Factories for store tests: listings with processed versions, without real weights."""

import hashlib

import factory
from django.utils import timezone

from store.models import Collection, CollectionItem, Listing, ListingVersion, Review, WeightFile
from tests.factories import PublisherFactory, UserFactory


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


def published_listing(**fields) -> Listing:
    """An approved listing with one ready version holding config, tokenizer and weights files."""
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
