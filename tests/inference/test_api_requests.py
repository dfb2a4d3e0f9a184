"""/v1/chat/completions and /v1/completions without a worker: validation, every refusal
before the queue, and the 503 a customer gets when no worker serves the model."""

import json

import pytest

from inference.models import BlockedPattern, UsageRecord
from inference.tokenization import tokenizer_for
from tests.support.api_checks import admitted
from tests.support.servable import (
    available_tokens,
    grant_purchase,
    grant_rental,
    servable_listing,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_worker_serves_these_models(settings):
    # A worker another test started may still be up: route to a queue nobody consumes, so
    # every admitted request here ends at the worker check (503) and never waits for one.
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"


@pytest.fixture
def listing(tiny_model_dirs):
    return servable_listing(tiny_model_dirs[True])


@pytest.fixture
def owner_secret(user, listing, api_key_for):
    grant_purchase(user, listing)
    return api_key_for(user)[1]


def post(client, secret, body, path="/v1/chat/completions"):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        path, raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def chat(listing, **extra):
    return {
        "model": listing.model_id,
        "messages": [{"role": "user", "content": "Say hello"}],
        **extra,
    }


def error_of(response):
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_it_refuses_malformed_json_with_400(client, owner_secret):
    response = post(client, owner_secret, "{not json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"n": 99}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_completion_tokens": -5}, "max_completion_tokens"),
        # Both are checked, even though max_completion_tokens wins when both are valid.
        ({"max_completion_tokens": 5, "max_tokens": 0}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": 7}, "stop"),
        ({"seed": "x"}, "seed"),
        ({"seed": 2**64}, "seed"),  # beyond a 64-bit integer, as at OpenAI
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"frequency_penalty": "high"}, "frequency_penalty"),
        ({"logit_bias": {"hello": 5}}, "logit_bias"),
        ({"logit_bias": {"50": 101}}, "logit_bias"),
        ({"logit_bias": [1, 2]}, "logit_bias"),
        # Python's int() refuses these although str.isdigit() accepts them (was a 500).
        ({"logit_bias": {"\u00b2": 1}}, "logit_bias"),  # superscript two
        ({"logit_bias": {"1" * 5000: 1}}, "logit_bias"),  # past int()'s 4,300 digits
        ({"logit_bias": {"\u0661": 1}}, "logit_bias"),  # an Arabic-Indic one: no token id
        ({"logprobs": 3}, "logprobs"),  # a boolean for chat
        ({"top_logprobs": 3}, "top_logprobs"),  # only with logprobs=true
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"model": ""}, "model"),
    ],
)
def test_it_refuses_bad_parameters_with_400_naming_the_param(
    client, owner_secret, listing, extra, param
):
    response = post(client, owner_secret, chat(listing, **extra))
    assert response.status_code == 400
    assert error_of(response)["param"] == param


@pytest.mark.parametrize(
    "extra",
    [
        {"echo": True},
        {"best_of": 3},
        {"suffix": "and then"},
        {"tools": [{"type": "function", "function": {"name": "weather"}}]},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_fields_that_would_change_the_answer_and_are_not_served_are_refused_by_name(
    client, owner_secret, listing, extra
):
    response = post(client, owner_secret, chat(listing, **extra))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["code"]) == (next(iter(extra)), "unsupported_parameter")


def test_neutral_values_of_unserved_fields_and_the_edges_of_ranges_are_accepted(
    client, owner_secret, listing
):
    neutral = chat(
        listing,
        logprobs=False,
        echo=False,
        best_of=1,
        tools=[],
        response_format={"type": "text"},
        top_p=0,
        seed=-(2**63),
    )
    assert admitted(post(client, owner_secret, neutral))


def test_text_completions_take_logprobs_as_a_count_up_to_5(client, owner_secret, listing):
    body = {"model": listing.model_id, "prompt": "Once", "logprobs": 6}
    response = post(client, owner_secret, body, path="/v1/completions")
    assert (response.status_code, error_of(response)["param"]) == (400, "logprobs")
    body["logprobs"] = 5
    assert admitted(post(client, owner_secret, body, path="/v1/completions"))


@pytest.mark.parametrize(
    ("prompt", "status"),
    [
        ([464, 2068, 7586], 503),  # token ids: valid, it reached the worker check
        ([[464, 2068]], 503),  # a list holding one prompt of token ids
        (["Once"], 503),
        ([], 400),
        ([1, "a"], 400),
        ([-1], 400),
        ([2**32], 400),  # past the tokenizer's decoder: a clear 400, not a 500
        ([2**64], 400),
        ([True], 400),
        (["one", "two"], 400),  # several prompts: one per request here
    ],
)
def test_a_text_prompt_may_be_token_ids(client, owner_secret, listing, prompt, status):
    body = {"model": listing.model_id, "prompt": prompt}
    response = post(client, owner_secret, body, path="/v1/completions")
    assert response.status_code == status
    if status == 400:
        assert error_of(response)["param"] == "prompt"


def test_a_logit_bias_key_past_any_vocabulary_is_a_400(client, owner_secret, listing):
    response = post(client, owner_secret, chat(listing, logit_bias={str(2**64): 1}))
    assert (response.status_code, error_of(response)["param"]) == (400, "logit_bias")


def test_it_refuses_a_missing_prompt_on_completions(client, owner_secret, listing):
    response = post(client, owner_secret, {"model": listing.model_id}, path="/v1/completions")
    assert response.status_code == 400
    assert error_of(response)["param"] == "prompt"


def test_it_refuses_a_bad_key_with_401(client, listing):
    response = post(client, "gpts_nope_nope", chat(listing))
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_api_key"


def test_it_answers_404_model_not_found_for_an_unknown_model(client, owner_secret):
    response = post(
        client,
        owner_secret,
        {"model": "nobody/nothing", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"


def test_a_model_that_is_not_approved_is_not_found(client, owner_secret, listing):
    listing.status = listing.Status.DELISTED
    listing.save(update_fields=["status"])
    assert post(client, owner_secret, chat(listing)).status_code == 404


def test_it_answers_403_for_a_model_the_customer_has_not_bought_or_rented(
    client, other_user, listing, api_key_for
):
    _, secret = api_key_for(other_user)
    response = post(client, secret, chat(listing))
    assert response.status_code == 403
    assert error_of(response)["type"] == "permission_error"


def test_it_refuses_prompt_plus_max_tokens_beyond_the_context(client, owner_secret, listing):
    response = post(client, owner_secret, chat(listing, max_tokens=2000))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "context_length_exceeded"
    assert "1024" in error["message"]


def test_it_answers_503_when_no_worker_serves_the_model_and_holds_nothing(
    client, user, listing, api_key_for
):
    grant_rental(user, listing, tokens=1000)
    _, secret = api_key_for(user)
    response = post(client, secret, chat(listing, max_tokens=20))
    assert response.status_code == 503
    assert error_of(response)["code"] == "no_worker_available"
    assert available_tokens(user, listing) == 1000
    assert not UsageRecord.objects.exists()


def test_blocked_patterns_refuse_matching_prompts_and_count_them(
    client, owner_secret, listing, staff_user
):
    plain = BlockedPattern.objects.create(
        pattern="forbidden words", reason="No forbidden words.", created_by=staff_user
    )
    regex = BlockedPattern.objects.create(pattern=r"credit\s*card\s*\d{4}", is_regex=True)
    BlockedPattern.objects.create(pattern="hello", active=False)

    response = post(
        client,
        owner_secret,
        chat(listing, messages=[{"role": "user", "content": "Some FORBIDDEN words here"}]),
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "content_policy_violation"
    assert "No forbidden words." in error["message"]

    body = {"model": listing.model_id, "prompt": "my credit card 1234"}
    error = error_of(post(client, owner_secret, body, path="/v1/completions"))
    assert (error["code"], error["param"]) == ("content_policy_violation", "prompt")

    # Sent as token ids, the same words are read decoded and refused too.
    tokenizer = tokenizer_for(storage_path=listing.versions.get().storage_path)
    body = {"model": listing.model_id, "prompt": tokenizer("my credit card 1234")["input_ids"]}
    error = error_of(post(client, owner_secret, body, path="/v1/completions"))
    assert error["code"] == "content_policy_violation"

    plain.refresh_from_db()
    regex.refresh_from_db()
    assert (plain.match_count, regex.match_count) == (1, 2)
    # An inactive pattern refuses nothing: this request gets as far as the (absent) worker.
    assert admitted(post(client, owner_secret, chat(listing)))


def test_unknown_fields_are_ignored(client, owner_secret, listing):
    response = post(
        client, owner_secret, chat(listing, user="abc", metadata={"k": "v"}, store=False)
    )
    assert admitted(response)


def test_get_is_not_allowed(client, owner_secret):
    response = client.get("/v1/chat/completions", HTTP_AUTHORIZATION=f"Bearer {owner_secret}")
    assert response.status_code == 405


def test_an_empty_prompt_starts_from_the_beginning_of_text(client, owner_secret, listing):
    body = {"model": listing.model_id, "prompt": ""}
    assert admitted(post(client, owner_secret, body, path="/v1/completions"))


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/embeddings"), ("POST", "/v1/responses"), ("GET", "/v1/models/")],
)
def test_an_unknown_url_under_v1_gets_an_openai_error_not_a_web_page(
    client, owner_secret, method, path
):
    response = client.generic(method, path, HTTP_AUTHORIZATION=f"Bearer {owner_secret}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["message"] == f"Invalid URL ({method} {path})."


def test_an_unknown_url_with_a_line_break_gets_an_openai_error_too(client, owner_secret):
    response = client.get("/v1/models/a%0Ab", HTTP_AUTHORIZATION=f"Bearer {owner_secret}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "unknown_url"


@pytest.mark.parametrize("model", ["publisher/listing\x00", "ft:a:b\x00", "gpt:someone/\x00"])
def test_a_model_id_with_a_nul_character_is_not_found(client, owner_secret, model):
    """PostgreSQL text holds no NUL: the id names no model rather than failing the query."""
    response = post(client, owner_secret, {"model": model, "prompt": "hi"}, "/v1/completions")
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"
    response = client.get(
        "/v1/models/" + model.replace("\x00", "%00"), HTTP_AUTHORIZATION=f"Bearer {owner_secret}"
    )
    assert response.status_code == 404


def test_redis_down_answers_503_and_holds_nothing(client, user, listing, api_key_for, settings):
    grant_rental(user, listing, tokens=1000)
    _, secret = api_key_for(user, requests_per_minute=100)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = post(client, secret, chat(listing, max_tokens=20))
    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"
    assert available_tokens(user, listing) == 1000
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"temprature": 0.5}, "Unrecognized request argument supplied: temprature"),
        ({"max_length": 50}, "send 'max_tokens', the most tokens to generate"),
        ({"do_sample": False}, "send 'temperature' 0 for greedy answers"),
        ({"prompt": "hi"}, "Unrecognized request argument supplied: prompt"),
    ],
)
def test_a_field_openai_does_not_know_is_refused_by_name(
    client, owner_secret, listing, extra, message
):
    response = post(client, owner_secret, chat(listing, **extra))

    assert response.status_code == 400
    error = error_of(response)
    assert (error["param"], error["code"]) == (next(iter(extra)), "unknown_parameter")
    assert message in error["message"]


def test_hugging_face_names_are_understood_as_openai_ones():
    from inference.api.validation import completion_params

    params = completion_params(
        {"model": "a/b", "prompt": "hi", "num_return_sequences": 3, "max_new_tokens": 7},
        kind="text",
    )

    assert (params.n, params.max_tokens) == (3, 7)


def test_an_alias_that_disagrees_with_the_openai_name_is_refused(client, owner_secret, listing):
    response = post(client, owner_secret, chat(listing, n=2, num_return_sequences=3))

    assert response.status_code == 400
    assert error_of(response)["param"] == "num_return_sequences"
