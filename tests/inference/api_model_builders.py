"""Tiny servable models for the API tests: a 2-layer GPT-2 with a byte-level BPE tokenizer
trained on a few sentences, saved with save_pretrained, listed and approved in the store.

Built once per session in a temporary folder, then copied into MEDIA_ROOT for each listing
(a few hundred KB), so every test gets its own version folder.
"""

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from billing.services.orders import grant_create
from store.models import Listing, ListingVersion
from tests.support.factories import PublisherFactory

CONTEXT_LENGTH = 1024
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, how are you today? I am fine, thank you.",
    "A language model predicts the next token of a text.",
    "Paris is the capital of France. Berlin is the capital of Germany.",
    "user: tell me a story. assistant: once upon a time there was a small model.",
]


def build_tiny_model(folder: Path, *, chat_template: bool) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    eos = fast.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=CONTEXT_LENGTH,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory) -> dict[bool, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        True: build_tiny_model(root / "chat", chat_template=True),
        False: build_tiny_model(root / "plain", chat_template=False),
    }


def servable_listing(
    source: Path | None,
    *,
    publisher=None,
    chat_template: bool = True,
    storage_path: str = "",
    context_length: int = CONTEXT_LENGTH,
    **fields,
) -> Listing:
    """An approved listing whose ready version is a copy of ``source`` under MEDIA_ROOT
    (or, with ``storage_path``, a model folder already there)."""
    publisher = publisher or PublisherFactory()
    slug = (
        fields.pop("slug", None)
        or f"tiny-{Listing.objects.count() + 1}-{timezone.now().strftime('%H%M%S%f')}"
    )
    listing = Listing.objects.create(
        publisher=publisher,
        name=fields.pop("name", "Tiny chat"),
        slug=slug,
        status=Listing.Status.APPROVED,
        approved_at=timezone.now(),
        conversation_starters=fields.pop("conversation_starters", ["Tell me a story."]),
        **fields,
    )
    servable_version(
        listing,
        source,
        chat_template=chat_template,
        storage_path=storage_path,
        context_length=context_length,
    )
    return listing


def servable_version(
    listing: Listing,
    source: Path | None,
    *,
    chat_template: bool = True,
    storage_path: str = "",
    context_length: int = CONTEXT_LENGTH,
    review: str = ListingVersion.Review.APPROVED,
) -> ListingVersion:
    """The listing's next version, ready, a copy of ``source`` under MEDIA_ROOT (or the model
    folder at ``storage_path``), reviewed as ``review`` says."""
    number = listing.versions.count() + 1
    if not storage_path:
        storage_path = f"models/{listing.publisher.slug}/{listing.slug}/v{number}"
        target = Path(settings.MEDIA_ROOT) / storage_path
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
    return ListingVersion.objects.create(
        listing=listing,
        number=number,
        source_format=ListingVersion.Format.SAFETENSORS,
        status=ListingVersion.Status.READY,
        review=review,
        storage_path=storage_path,
        architecture="GPT2LMHeadModel",
        context_length=context_length,
        has_chat_template=chat_template,
        processed_at=timezone.now(),
    )


def grant_purchase(user: User, listing: Listing):
    return grant_create(user=user, listing=listing, actor=None, purchase=True)


def grant_rental(user: User, listing: Listing, *, tokens: int = 10_000, days: int = 30):
    return grant_create(user=user, listing=listing, actor=None, tokens=tokens, days=days)


def available_tokens(user: User, listing: Listing) -> int:
    from billing.selectors import access_for

    return access_for(user=user, listing=listing).available_tokens
