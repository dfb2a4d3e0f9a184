"""The fine-tuning pages without a browser: who sees what, the estimate, creating a job
from the form, the owner's downloads and the publisher's terms."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.training.models import FineTuningJob, FineTuningTerms
from inference.training.services import training_file_upload
from tests.support.fine_tuning import (
    chat_lines,
    fine_tuned_model,
    give_credits,
    jsonl,
    trainable_listing,
)

pytestmark = pytest.mark.django_db


def test_the_estimate_says_what_training_would_cost(client, user, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=1000)
    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(10)), purpose="fine-tune"
    )
    client.force_login(user)
    response = client.post(
        "/fine-tuning/estimate",
        {"model": listing.model_id, "training_file": uploaded.public_id, "n_epochs": "2"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["examples"] == 10
    assert body["billable_tokens"] == body["training_tokens"] * 2
    cost = body["billable_tokens"] * 1000  # µ¢
    assert body["cost"] == f"${cost / 100_000_000:.8f}".rstrip("0")


def test_the_upload_endpoint_lists_bad_lines(client, user):
    client.force_login(user)
    response = client.post("/fine-tuning/files", {"file": SimpleUploadedFile("x.jsonl", b"nope\n")})
    assert response.status_code == 400
    assert "line 1: not valid JSON" in response.json()["error"]["message"]


def test_a_job_started_from_the_form_opens_its_page(client, user, staff_user, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir)
    give_credits(user, staff_user)
    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(10)), purpose="fine-tune"
    )
    client.force_login(user)
    response = client.post(
        "/fine-tuning/",
        {"model": listing.model_id, "training_file": uploaded.public_id, "suffix": "mine"},
    )
    job = FineTuningJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/fine-tuning/jobs/{job.public_id}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"Loss" in page.content and b"Cancel job" in page.content
    status = client.get(f"/fine-tuning/jobs/{job.public_id}/status.json").json()
    assert status["job"]["status"] == "queued"
    assert status["held"].startswith("$")
    listed = client.get("/fine-tuning/")
    assert job.public_id.encode() in listed.content


def test_another_customer_gets_404_for_a_job_page(client, user, other_user, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=0)
    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(10)), purpose="fine-tune"
    )
    from inference.training.services import fine_tuning_job_create

    job = fine_tuning_job_create(
        user=user, model=listing.model_id, training_file=uploaded.public_id
    )
    client.force_login(other_user)
    assert client.get(f"/fine-tuning/jobs/{job.public_id}/").status_code == 404
    assert client.post(f"/fine-tuning/jobs/{job.public_id}/cancel").status_code == 404


def test_the_publisher_sets_the_fine_tuning_terms(client, publisher, user, tiny_llama_dir):
    from tests.support.servable import servable_listing

    listing = servable_listing(tiny_llama_dir, publisher=publisher)
    client.force_login(user)
    assert client.get(f"/fine-tuning/terms/{listing.pk}/").status_code == 403
    client.force_login(publisher.user)
    response = client.post(
        f"/fine-tuning/terms/{listing.pk}/",
        {"allowed": "on", "price_per_mtok": "250", "derived_publishable": "on"},
    )
    assert response.status_code == 302
    terms = FineTuningTerms.objects.get(listing=listing)
    assert (terms.allowed, terms.price_per_mtok, terms.derived_publishable) == (True, 250, True)


def test_only_the_owner_downloads_a_fine_tuned_models_files(
    client, user, other_user, tiny_llama_dir
):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=0)
    model = fine_tuned_model(user, listing)
    job = model.job
    weights = model.files.get(path="model.safetensors")
    url = f"/fine-tuning/models/{model.pk}/files/model.safetensors"

    client.force_login(other_user)
    assert client.get(url).status_code == 404
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == weights.sha256
    assert (
        json.loads(client.get(f"/fine-tuning/jobs/{job.public_id}/status.json").content)["job"][
            "fine_tuned_model"
        ]
        == model.model_id
    )
