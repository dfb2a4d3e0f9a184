"""Fine-tuning through the official openai SDK, end to end with a real worker and a tiny
model: upload → job → events → succeeded → the ft: model answers with what it learned,
at exactly the price held."""

import time

import openai
import pytest

from billing.models import CreditAccount, CreditHold, UsageEarningsEntry
from billing.selectors import credit_ledger_mismatches
from billing.services import usage_earnings_roll_up
from inference.training.models import FineTunedModel
from tests.support.fine_tuning import (
    ANSWER,
    chat_lines,
    give_credits,
    jsonl,
    trainable_listing,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CENT = 1_000_000  # µ¢


@pytest.fixture
def sdk(asgi_server, celery_worker, api_key_for):
    def make(user):
        _, secret = api_key_for(user)
        return openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=60
        )

    return make


def wait_for(client, job_id: str, statuses: set[str], timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def test_a_customer_fine_tunes_a_model_and_calls_it_at_once(sdk, user, staff_user, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=100)
    give_credits(user, staff_user, cents=100)
    client = sdk(user)

    uploaded = client.files.create(
        file=("pirate.jsonl", jsonl(chat_lines(12))), purpose="fine-tune"
    )
    assert (uploaded.object, uploaded.purpose, uploaded.status) == (
        "file",
        "fine-tune",
        "processed",
    )
    assert [f.id for f in client.files.list(purpose="fine-tune").data] == [uploaded.id]
    assert client.files.content(uploaded.id).content == jsonl(chat_lines(12))

    job = client.fine_tuning.jobs.create(
        model=listing.model_id,
        training_file=uploaded.id,
        hyperparameters={"n_epochs": 15, "batch_size": 4, "learning_rate_multiplier": 50},
        suffix="paris",
        seed=7,
    )
    assert job.status in {"queued", "running"}
    assert job.model == listing.model_id
    held = job.model_extra["training_tokens"] * 15 * 100  # tokens × epochs × µ¢ per token
    assert CreditAccount.objects.get(user=user).available == 100 * CENT - held

    done = wait_for(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model.startswith(f"ft:{listing.model_id}:")
    assert done.fine_tuned_model.split(":")[-2] == "paris"
    assert done.trained_tokens == job.model_extra["training_tokens"] * 15

    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    metrics = [e.data for e in events if e.type == "metrics"]
    assert sorted(m["step"] for m in metrics) == list(range(1, 46))
    assert {m["total_steps"] for m in metrics} == {45}
    assert all(m["tokens_per_second"] > 0 for m in metrics)
    first, last = min(metrics, key=lambda m: m["step"]), max(metrics, key=lambda m: m["step"])
    assert last["train_loss"] < first["train_loss"] / 2
    assert "successfully completed" in events[0].message

    assert done.fine_tuned_model in {m.id for m in client.models.list().data}
    answer = client.chat.completions.create(
        model=done.fine_tuned_model,
        messages=[{"role": "user", "content": "Tell me a story."}],
        max_tokens=24,
        temperature=0,
    )
    assert answer.model == done.fine_tuned_model
    assert answer.choices[0].message.content.strip().startswith(ANSWER[:20])

    # Exactly the training was charged; the base publisher earns their share of it.
    account = CreditAccount.objects.get(user=user)
    assert account.held == 0
    hold = CreditHold.objects.get(request_id=f"training-{job.id}")
    assert (hold.status, hold.used) == ("settled", held)
    usage_earnings_roll_up()
    earned = UsageEarningsEntry.objects.get(listing=listing)
    assert earned.gross >= held  # the chat call above may have been paid per token too
    assert credit_ledger_mismatches() == []

    model = FineTunedModel.objects.get(model_id=done.fine_tuned_model)
    assert model.owner == user
    assert {f.path for f in model.files.all()} >= {"model.safetensors", "config.json"}
    assert all(len(f.sha256) == 64 for f in model.files.all())


def test_another_customer_cannot_see_or_call_a_fine_tuned_model(
    sdk, user, other_user, staff_user, tiny_llama_dir
):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=0)
    client = sdk(user)
    uploaded = client.files.create(file=("d.jsonl", jsonl(chat_lines(10))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=listing.model_id, training_file=uploaded.id, hyperparameters={"n_epochs": 1}
    )
    done = wait_for(client, job.id, {"succeeded", "failed"})
    assert done.status == "succeeded", done.error

    stranger = sdk(other_user)
    with pytest.raises(openai.NotFoundError):
        stranger.fine_tuning.jobs.retrieve(job.id)
    with pytest.raises(openai.NotFoundError):
        stranger.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError) as refused:
        stranger.chat.completions.create(
            model=done.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}]
        )
    assert refused.value.code == "model_not_found"
    assert done.fine_tuned_model not in {m.id for m in stranger.models.list().data}
