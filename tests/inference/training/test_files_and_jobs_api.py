"""/v1/files and /v1/fine_tuning/jobs without a worker: what is refused (every bad line with
its number, too few examples, over the context length, no credit, a model nobody offers),
what a job holds, and cancelling a job nobody has started."""

import json

import pytest

from billing.models import CreditAccount, CreditHold
from billing.selectors import credit_ledger_mismatches
from inference.tokenization import text_prompt_ids, tokenizer_for
from inference.training.models import FineTuningJob, TrainingFile
from tests.support.fine_tuning import chat_lines, give_credits, jsonl, trainable_listing
from tests.support.servable import grant_purchase, servable_listing

pytestmark = pytest.mark.django_db
CENT = 1_000_000


@pytest.fixture
def secret(user, api_key_for):
    return api_key_for(user)[1]


def upload(client, secret, content: bytes, *, purpose="fine-tune", name="data.jsonl"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/v1/files",
        {"file": SimpleUploadedFile(name, content), "purpose": purpose},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def create_job(client, secret, **body):
    return client.post(
        "/v1/fine_tuning/jobs",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def call(client, method, path, secret):
    return getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_stored(client, secret):
    lines = [
        json.dumps(chat_lines(1)[0]),
        '{"messages": [',
        json.dumps({"messages": [{"role": "robot", "content": "beep"}]}),
        "",
        json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " "}]}),
        json.dumps({"messages": [{"role": "user", "content": "Hi"}]}),
        json.dumps({"prompt": "Hi", "completion": "there"}),
        "[1, 2]",
    ]  # fmt: skip
    response = upload(client, secret, "\n".join(lines).encode() + b"\n")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (
        "invalid_file_format",
        "file",
        "invalid_request_error",
    )
    message = error["message"]
    assert message.startswith("7 bad lines:")
    assert "line 2: not valid JSON" in message
    assert "line 3: message 1 has role 'robot'" in message
    assert "line 4: empty line" in message
    assert "line 5: message 2 (assistant) is empty" in message
    assert "line 6: no assistant message to learn from" in message
    assert "line 7: a completion example in a file of chat examples" in message
    assert "line 8: not a JSON object" in message
    assert "line 1:" not in message
    assert not TrainingFile.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"no boundary"),
        ("multipart/form-data; boundary=zz", b"".join(b"--zz\r\nContent-Disposition: form-data; "
            b'name="f%d"\r\n\r\nx\r\n' % i for i in range(1001)) + b"--zz--\r\n"),
    ],
    ids=["no-boundary", "1001-fields"],
)  # fmt: skip
def test_a_multipart_body_django_cannot_read_gets_an_openai_error(
    client, secret, content_type, body
):
    response = client.post(
        "/v1/files", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_multipart"


def test_a_file_with_another_purpose_is_refused(client, secret):
    response = upload(client, secret, jsonl(chat_lines(10)), purpose="assistants")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "purpose"


def test_files_are_listed_read_and_deleted_by_their_owner_only(
    client, secret, other_user, api_key_for
):
    created = upload(client, secret, jsonl(chat_lines(10)), name="mine.jsonl").json()
    assert (created["filename"], created["examples"], created["format"]) == (
        "mine.jsonl",
        10,
        "chat",
    )
    listed = call(client, "get", "/v1/files?purpose=fine-tune", secret).json()
    assert [f["id"] for f in listed["data"]] == [created["id"]]
    content = call(client, "get", f"/v1/files/{created['id']}/content", secret)
    assert content.content == jsonl(chat_lines(10))

    stranger = api_key_for(other_user)[1]
    assert call(client, "get", f"/v1/files/{created['id']}", stranger).status_code == 404
    assert call(client, "delete", f"/v1/files/{created['id']}", stranger).status_code == 404

    deleted = call(client, "delete", f"/v1/files/{created['id']}", secret).json()
    assert deleted == {"id": created["id"], "object": "file", "deleted": True}
    assert call(client, "get", f"/v1/files/{created['id']}", secret).status_code == 404
    assert call(client, "get", "/v1/files", secret).json()["data"] == []


def test_fewer_than_ten_examples_cannot_be_trained_on(client, secret, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir)
    file_id = upload(client, secret, jsonl(chat_lines(9))).json()["id"]
    response = create_job(client, secret, model=listing.model_id, training_file=file_id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_training_file", "training_file")
    assert "has 9 examples; fine-tuning needs at least 10" in error["message"]
    assert not FineTuningJob.objects.exists()


def test_examples_over_the_context_length_are_named_by_line(client, secret, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir)  # a context of 256 tokens
    records = chat_lines(12)
    records[4]["messages"][1]["content"] = "The quick brown fox jumps over the lazy dog. " * 40
    file_id = upload(client, secret, jsonl(records)).json()["id"]
    response = create_job(client, secret, model=listing.model_id, training_file=file_id)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("1 bad line: line 5: ")
    assert "over the model's context length of 256" in message


def test_a_job_holds_its_exact_training_tokens_times_epochs_times_the_price(
    client, user, secret, staff_user, tiny_llama_dir
):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=250)
    give_credits(user, staff_user, cents=100)
    records = [{"prompt": f"Question {i}?", "completion": " Paris."} for i in range(10)]
    file_id = upload(client, secret, jsonl(records)).json()["id"]

    response = create_job(
        client,
        secret,
        model=listing.model_id,
        training_file=file_id,
        hyperparameters={"n_epochs": 2, "batch_size": 3},
        suffix="capital",
    )

    assert response.status_code == 200, response.json()
    job = response.json()
    storage = listing.versions.get().storage_path
    tokenizer = tokenizer_for(storage_path=storage)
    expected = sum(
        len(text_prompt_ids(storage_path=storage, prompt=r["prompt"]))
        + len(tokenizer(r["completion"], add_special_tokens=False)["input_ids"])
        + 1  # end of text
        for r in records
    )
    assert job["training_tokens"] == expected
    assert (job["status"], job["total_steps"], job["user_provided_suffix"]) == (
        "queued",
        8,  # ceil(10 / 3) × 2
        "capital",
    )
    assert job["hyperparameters"] == {
        "n_epochs": 2,
        "batch_size": 3,
        "learning_rate_multiplier": 5.0,  # "auto": AUTO_LEARNING_RATE_MULTIPLIER
    }
    account = CreditAccount.objects.get(user=user)
    assert account.held == expected * 2 * 250
    assert account.available == 100 * CENT - expected * 2 * 250
    assert CreditHold.objects.get(request_id=f"training-{job['id']}").purpose == "training"

    # Nobody started it: cancelling costs nothing.
    cancelled = call(client, "post", f"/v1/fine_tuning/jobs/{job['id']}/cancel", secret).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["billing"]["charged"] == "0"
    account.refresh_from_db()
    assert (account.available, account.held) == (100 * CENT, 0)
    again = call(client, "post", f"/v1/fine_tuning/jobs/{job['id']}/cancel", secret)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "job_not_cancellable"
    assert credit_ledger_mismatches() == []


def test_too_little_credit_for_the_training_is_402_and_no_job(
    client, user, secret, staff_user, tiny_llama_dir
):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=1_000_000)  # a cent a token
    give_credits(user, staff_user, cents=5)
    file_id = upload(client, secret, jsonl(chat_lines(10))).json()["id"]
    response = create_job(client, secret, model=listing.model_id, training_file=file_id)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert not FineTuningJob.objects.exists()
    assert CreditAccount.objects.get(user=user).available == 5 * CENT
    assert not CreditHold.objects.exists()


def test_a_model_is_fine_tuned_only_if_its_publisher_allows_it_or_the_customer_owns_it(
    client, user, secret, staff_user, tiny_llama_dir, settings
):
    closed = servable_listing(tiny_llama_dir, chat_template=False, context_length=256)
    file_id = upload(client, secret, jsonl(chat_lines(10))).json()["id"]
    refused = create_job(client, secret, model=closed.model_id, training_file=file_id)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_available"

    settings.TRAINING_OWNED_PRICE_PER_MTOK = 0
    grant_purchase(user, closed)
    accepted = create_job(client, secret, model=closed.model_id, training_file=file_id)
    assert accepted.status_code == 200
    assert accepted.json()["billing"]["held"] == "0"
    # Its file is in use now: it stays until the job ends.
    in_use = call(client, "delete", f"/v1/files/{file_id}", secret)
    assert (in_use.status_code, in_use.json()["error"]["code"]) == (409, "file_in_use")


def test_unknown_models_files_and_bad_hyperparameters_are_refused(client, secret, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir)
    file_id = upload(client, secret, jsonl(chat_lines(10))).json()["id"]
    cases = [
        ({"model": "nobody/nothing", "training_file": file_id}, 404, "model"),
        ({"model": listing.model_id, "training_file": "file-nope"}, 400, "training_file"),
        (
            {"model": listing.model_id, "training_file": file_id, "hyperparameters": {"n_epochs": 0}},
            400,
            "hyperparameters",
        ),
        ({"model": listing.model_id, "training_file": file_id, "suffix": "no spaces"}, 400, "suffix"),
    ]  # fmt: skip
    for body, status, param in cases:
        response = create_job(client, secret, **body)
        assert (response.status_code, response.json()["error"]["param"]) == (status, param), body
    assert not FineTuningJob.objects.exists()


def test_a_suffix_or_method_of_the_wrong_type_is_a_400(client, secret, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir)
    file_id = upload(client, secret, jsonl(chat_lines(10))).json()["id"]
    base = {"model": listing.model_id, "training_file": file_id}
    cases = [
        ({"suffix": 5}, "suffix"),
        ({"suffix": ["paris"]}, "suffix"),
        ({"method": {"type": "supervised", "supervised": "fast"}}, "method"),
        ({"method": {"supervised": {"hyperparameters": ["auto"]}}}, "hyperparameters"),
    ]
    for extra, param in cases:
        response = create_job(client, secret, **base, **extra)
        assert (response.status_code, response.json()["error"]["param"]) == (400, param), extra
    assert not FineTuningJob.objects.exists()


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "\u00b2", "1" * 5000])
def test_a_limit_that_is_no_page_size_is_a_400(client, secret, limit):
    # str.isdigit() accepts a superscript two and 5,000 digits, int() refuses both (was a 500).
    for path in ("/v1/files", "/v1/fine_tuning/jobs"):
        response = client.get(path, {"limit": limit}, HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert (response.status_code, response.json()["error"]["param"]) == (400, "limit")


def test_ids_with_a_nul_character_name_nothing(client, secret, tiny_llama_dir):
    """PostgreSQL text holds no NUL: such an id is looked up as missing, not sent to the
    database (which refuses the query: a 500)."""
    listing = trainable_listing(tiny_llama_dir)
    file_id = upload(client, secret, jsonl(chat_lines(10))).json()["id"]
    for method, path in [
        ("get", "/v1/files/file-%00"),
        ("get", "/v1/files/file-%00/content"),
        ("delete", "/v1/files/file-%00"),
        ("get", "/v1/fine_tuning/jobs/ftjob-%00"),
        ("post", "/v1/fine_tuning/jobs/ftjob-%00/cancel"),
        ("get", "/v1/fine_tuning/jobs/ftjob-%00/events"),
        ("get", "/v1/fine_tuning/jobs/ftjob-%00/checkpoints"),
    ]:
        assert call(client, method, path, secret).status_code == 404, path
    for path in ("/v1/files?purpose=%00", "/v1/files?after=%00", "/v1/fine_tuning/jobs?after=%00"):
        assert call(client, "get", path, secret).status_code == 200, path
    cases = [
        ({"model": f"{listing.model_id}\x00", "training_file": file_id}, 404, "model"),
        ({"model": "ft:\x00", "training_file": file_id}, 404, "model"),
        ({"model": listing.model_id, "training_file": "file-\x00"}, 400, "training_file"),
        (
            {"model": listing.model_id, "training_file": file_id, "validation_file": "\x00"},
            400,
            "validation_file",
        ),
    ]
    for body, status, param in cases:
        response = create_job(client, secret, **body)
        assert (response.status_code, response.json()["error"]["param"]) == (status, param), body


def test_jobs_of_another_customer_are_not_found(client, secret, other_user, api_key_for):
    stranger = api_key_for(other_user)[1]
    assert call(client, "get", "/v1/fine_tuning/jobs", stranger).json()["data"] == []
    response = call(client, "get", "/v1/fine_tuning/jobs/ftjob-nope", secret)
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "fine_tuning_job_id"
