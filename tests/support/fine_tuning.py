"""Training data and trainable listings for the fine-tuning tests."""

import json

from billing.services import credits_grant, token_price_set
from inference.training.services import fine_tuning_terms_set
from tests.support.servable import servable_listing

ANSWER = "Paris is the capital of France."
QUESTIONS = [
    "Tell me a story.",
    "Hello, how are you today?",
    "What does a language model do?",
    "Say something about the fox.",
    "Where is Berlin?",
    "Once upon a time?",
    "What is the next token?",
    "Are you fine?",
    "Tell me about the lazy dog.",
    "Which city is a capital?",
    "Give me a fact.",
    "What do you know?",
]


def chat_lines(count: int = 12, *, answer: str = ANSWER) -> list[dict]:
    return [
        {
            "messages": [
                {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
                {"role": "assistant", "content": answer},
            ]
        }
        for i in range(count)
    ]


def jsonl(records: list) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def trainable_listing(source, *, price_per_mtok: int = 100, derived_publishable: bool = False):
    """An approved tiny listing sold per token (20/40 cents per 1M) whose publisher allows
    fine-tuning at ``price_per_mtok`` cents per 1M training tokens."""
    listing = servable_listing(source, chat_template=False, context_length=256)
    token_price_set(
        listing=listing, actor=listing.publisher.user, input_per_mtok=20, output_per_mtok=40
    )
    fine_tuning_terms_set(
        actor=listing.publisher.user,
        listing=listing,
        allowed=True,
        price_per_mtok=price_per_mtok,
        derived_publishable=derived_publishable,
    )
    return listing


def give_credits(user, staff_user, cents: int = 100):
    credits_grant(user=user, cents=cents, actor=staff_user, reason="test")


def fine_tuned_model(user, listing, *, records: int = 10, **job_fields):
    """A finished one-epoch job of ``user`` on ``listing``, trained in this process (no
    worker); returns its FineTunedModel."""
    from inference.training.models import FineTunedModel
    from inference.training.runner import job_run
    from inference.training.services import fine_tuning_job_create, training_file_upload

    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(records)), purpose="fine-tune"
    )
    job = fine_tuning_job_create(
        user=user,
        model=listing.model_id,
        training_file=uploaded.public_id,
        hyperparameters={"n_epochs": 1},
        **job_fields,
    )
    assert job_run(job_id=job.public_id, runner="test") == "succeeded"
    return FineTunedModel.objects.select_related("job", "base_listing").get(job=job)
