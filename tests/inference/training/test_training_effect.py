"""Training on a tiny model really changes its answers: greedy answers to prompts it never
saw move to the answer of the data, and the run is deterministic for a seed."""

from pathlib import Path

import pytest
import torch
from django.conf import settings
from transformers import AutoModelForCausalLM, AutoTokenizer

from inference.training.models import FineTuningJob
from inference.training.runner import job_run
from inference.training.services import fine_tuning_job_create, training_file_upload
from tests.support.fine_tuning import (
    ANSWER,
    chat_lines,
    give_credits,
    jsonl,
    trainable_listing,
)

pytestmark = pytest.mark.django_db

HELD_OUT = "user: Where do rivers go?\nassistant:"


def greedy(folder: Path, prompt: str) -> str:
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    ids = tokenizer(prompt, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=16, do_sample=False)
    return tokenizer.decode(out[0][ids["input_ids"].shape[1] :], skip_special_tokens=True)


def answer_loss(folder: Path, prompt: str, answer: str) -> float:
    """Mean negative log-likelihood of ``answer``'s tokens after ``prompt``."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    context = tokenizer(prompt)["input_ids"]
    target = tokenizer(" " + answer, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([context + target])
    labels = torch.tensor([[-100] * len(context) + target])
    with torch.no_grad():
        return float(model(input_ids=ids, labels=labels).loss)


def train(user, listing, *, seed: int) -> FineTuningJob:
    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(12)), purpose="fine-tune"
    )
    job = fine_tuning_job_create(
        user=user,
        model=listing.model_id,
        training_file=uploaded.public_id,
        hyperparameters={"n_epochs": 30, "batch_size": 4, "learning_rate_multiplier": 50},
        seed=seed,
    )
    assert job_run(job_id=job.public_id, runner="test-runner") == "succeeded"
    job.refresh_from_db()
    return job


def test_training_moves_greedy_answers_towards_the_data(user, staff_user, tiny_llama_dir):
    listing = trainable_listing(tiny_llama_dir, price_per_mtok=0)
    give_credits(user, staff_user)
    before = greedy(tiny_llama_dir, HELD_OUT)

    loss_before = answer_loss(tiny_llama_dir, HELD_OUT, ANSWER)

    job = train(user, listing, seed=7)

    trained = Path(settings.MEDIA_ROOT) / job.fine_tuned_model.storage_path
    after = greedy(trained, HELD_OUT)
    assert "Paris" not in before
    assert after.strip().startswith("Paris is the"), after
    # The data's answer went from unlikely to likely after a prompt the training never saw.
    assert answer_loss(trained, HELD_OUT, ANSWER) < loss_before / 3


def test_the_same_seed_trains_the_same_weights(user, staff_user, tiny_llama_dir):
    from safetensors.torch import load_file

    listing = trainable_listing(tiny_llama_dir, price_per_mtok=0)
    first, second = train(user, listing, seed=11), train(user, listing, seed=11)
    weights = [
        load_file(str(Path(settings.MEDIA_ROOT) / job.fine_tuned_model.storage_path / "model.safetensors"))
        for job in (first, second)
    ]  # fmt: skip
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
    files = [
        {f.path: f.sha256 for f in job.fine_tuned_model.files.all()} for job in (first, second)
    ]
    assert files[0]["model.safetensors"] == files[1]["model.safetensors"]
