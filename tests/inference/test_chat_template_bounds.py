"""A publisher's chat template cannot burn the store's CPU or memory: rendering has a time,
memory and output bound and a template size limit, a template that passes them is refused at
upload, and a request whose template goes past them gets a clear 400 with nothing held."""

import shutil

import pytest
from django.test import override_settings

from billing.models import QuotaHold
from config.api_errors import ApplicationError
from inference import tokenization
from store.publishing.smoke_test import smoke_test
from store.publishing.validation import UploadRefused
from tests.support.models import CHAT_TEMPLATE
from tests.support.servable import available_tokens, grant_rental, servable_listing

pytestmark = pytest.mark.django_db

HELLO = [{"role": "user", "content": "Hi"}]
LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HUGE_STRING = "{{ 'x' * 3000000000 }}"
LONG_OUTPUT = "{% for i in range(100000) %}{{ 'abcdefghij' * 10 }}{% endfor %}"
REFUSES = "{{ raise_exception('Conversation roles must alternate user/assistant') }}"


def with_template(tiny_model_dirs, tmp_path, template: str):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs[True], folder)
    for old in folder.glob("chat_template.*"):
        old.unlink()
    (folder / "chat_template.jinja").write_text(template)
    return folder


def refusal(listing) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        tokenization.chat_prompt_ids(
            storage_path=listing.versions.get().storage_path, messages=HELLO
        )
    return refused.value


@override_settings(CHAT_TEMPLATE_SECONDS=0.5)
def test_a_template_that_loops_is_stopped_and_the_next_request_is_served(tiny_model_dirs, tmp_path):
    looping = servable_listing(with_template(tiny_model_dirs, tmp_path, LOOPS))
    error = refusal(looping)
    assert (error.status, error.code, error.field) == (400, "chat_template_failed", "messages")
    assert "took longer than 0.5 s" in error.message
    # The renderer that was killed is replaced: a sound template still renders.
    sound = servable_listing(tiny_model_dirs[True])
    ids = tokenization.chat_prompt_ids(
        storage_path=sound.versions.get().storage_path, messages=HELLO
    )
    assert (
        tokenization.tokenizer_for(storage_path=sound.versions.get().storage_path).decode(ids)
        == "<|user|>Hi<|end|><|assistant|>"
    )


def test_a_template_that_builds_a_huge_string_hits_the_memory_bound(tiny_model_dirs, tmp_path):
    error = refusal(servable_listing(with_template(tiny_model_dirs, tmp_path, HUGE_STRING)))
    assert error.code == "chat_template_failed"
    assert "more memory than a chat template may use" in error.message


@override_settings(CHAT_TEMPLATE_MAX_OUTPUT_CHARS=1_000_000)
def test_a_template_that_writes_too_much_is_refused(tiny_model_dirs, tmp_path):
    error = refusal(servable_listing(with_template(tiny_model_dirs, tmp_path, LONG_OUTPUT)))
    assert error.code == "chat_template_failed"
    assert "wrote more than 1,000,000 characters" in error.message


@override_settings(CHAT_TEMPLATE_MAX_CHARS=1000)
def test_a_template_over_the_size_limit_is_not_rendered(tiny_model_dirs, tmp_path):
    template = "{# " + "padding " * 200 + "#}" + CHAT_TEMPLATE
    error = refusal(servable_listing(with_template(tiny_model_dirs, tmp_path, template)))
    assert error.code == "chat_template_failed"
    assert "at most 1,000" in error.message


def test_a_template_that_refuses_the_messages_says_why(tiny_model_dirs, tmp_path):
    error = refusal(servable_listing(with_template(tiny_model_dirs, tmp_path, REFUSES)))
    assert (error.status, error.code) == (400, "chat_template_refused")
    assert "Conversation roles must alternate user/assistant" in error.message


@override_settings(CHAT_TEMPLATE_SECONDS=0.5)
def test_an_upload_whose_template_loops_is_refused(tiny_model_dirs, tmp_path):
    with pytest.raises(UploadRefused, match="The chat template took longer than 0.5 s"):
        smoke_test(with_template(tiny_model_dirs, tmp_path, LOOPS), chat=True)


@override_settings(CHAT_TEMPLATE_SECONDS=0.5)
def test_an_api_request_on_a_looping_template_is_a_400_and_holds_nothing(
    client, user, tiny_model_dirs, tmp_path, api_key_for
):
    listing = servable_listing(with_template(tiny_model_dirs, tmp_path, LOOPS))
    grant_rental(user, listing, tokens=1000)
    secret = api_key_for(user)[1]
    response = client.post(
        "/v1/chat/completions",
        {"model": listing.model_id, "messages": HELLO, "max_tokens": 4},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "chat_template_failed",
        "messages",
        "invalid_request_error",
    )
    assert not QuotaHold.objects.exists()
    assert available_tokens(user, listing) == 1000
