"""Web-side tokenization: the model's chat template when it has one, a plain role-prefixed
format when it has none, exact counts either way."""

import pytest

from inference import tokenization
from tests.support.servable import servable_listing

pytestmark = pytest.mark.django_db

MESSAGES = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
]


def decode(listing, ids):
    return tokenization.tokenizer_for(storage_path=listing.versions.get().storage_path).decode(ids)


def test_a_model_with_a_chat_template_gets_its_template(tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[True])
    ids = tokenization.chat_prompt_ids(
        storage_path=listing.versions.get().storage_path, messages=MESSAGES
    )
    assert decode(listing, ids) == "<|system|>Be brief.<|end|><|user|>Hi<|end|><|assistant|>"


def test_a_model_without_a_template_gets_role_prefixed_lines(tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[False], chat_template=False)
    ids = tokenization.chat_prompt_ids(
        storage_path=listing.versions.get().storage_path, messages=MESSAGES
    )
    assert decode(listing, ids) == "system: Be brief.\nuser: Hi\nassistant:"


def test_the_tokenizer_is_loaded_once_per_process(tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[True])
    path = listing.versions.get().storage_path
    assert tokenization.tokenizer_for(storage_path=path) is tokenization.tokenizer_for(
        storage_path=path
    )
