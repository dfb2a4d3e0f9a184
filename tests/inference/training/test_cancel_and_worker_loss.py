"""Cancelling a running job and killing its worker, with real worker processes: cancel
stops within a step and charges exactly the steps done; a worker SIGKILLed mid-training
is replaced and the broker's redelivery resumes from the last checkpoint, charging the
whole training once."""

import signal
import time

import pytest

from billing.models import CreditAccount, CreditHold
from billing.selectors import credit_ledger_mismatches
from inference.training.models import FineTunedModel, FineTuningCheckpoint, FineTuningJob
from inference.training.services import (
    fine_tuning_job_cancel,
    fine_tuning_job_create,
    training_file_upload,
)
from tests.support.fine_tuning import chat_lines, give_credits, jsonl, trainable_listing
from tests.support.processes import start_celery_worker, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CENT = 1_000_000
PRICE = 300  # µ¢ per training token


def wait_until(predicate, *, timeout: float, job: FineTuningJob, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    log = [event.message for event in job.events.order_by("id")]
    raise AssertionError(f"condition not met in time: {fresh(job).status} {log[-5:]}")


def start_job(user, listing, *, epochs: int) -> FineTuningJob:
    uploaded = training_file_upload(
        user=user, filename="d.jsonl", content=jsonl(chat_lines(12)), purpose="fine-tune"
    )
    return fine_tuning_job_create(
        user=user,
        model=listing.model_id,
        training_file=uploaded.public_id,
        hyperparameters={"n_epochs": epochs, "batch_size": 4, "learning_rate_multiplier": 5},
        seed=1,
    )


def fresh(job: FineTuningJob) -> FineTuningJob:
    return FineTuningJob.objects.get(pk=job.pk)


def test_cancel_stops_within_a_step_and_charges_the_steps_done(
    celery_worker, user, staff_user, slower_llama_dir
):
    listing = trainable_listing(slower_llama_dir, price_per_mtok=PRICE)
    give_credits(user, staff_user, cents=100)
    job = start_job(user, listing, epochs=40)  # 120 steps
    wait_until(lambda: fresh(job).steps_done >= 3, timeout=60, job=job)

    cancelled = fine_tuning_job_cancel(job=job)

    assert cancelled.status == "cancelled"
    assert 3 <= cancelled.steps_done < cancelled.total_steps
    assert cancelled.charged == cancelled.trained_tokens * PRICE
    time.sleep(1.5)  # the worker finishes the step it was in, finds the job cancelled, stops
    after = fresh(job)
    assert (after.steps_done, after.trained_tokens) == (
        cancelled.steps_done,
        cancelled.trained_tokens,
    )
    assert not after.events.filter(id__gt=after.events.order_by("-id").first().id).exists()
    assert "Job cancelled after" in after.events.order_by("-id").first().message
    assert not FineTunedModel.objects.filter(job=job).exists()
    account = CreditAccount.objects.get(user=user)
    assert (account.available, account.held) == (100 * CENT - cancelled.charged, 0)
    hold = CreditHold.objects.get(request_id=job.hold_request_id)
    assert (hold.status, hold.used) == ("settled", cancelled.charged)
    assert credit_ledger_mismatches() == []


def test_a_killed_worker_is_resumed_from_the_last_checkpoint_and_charged_once(
    user, staff_user, slower_llama_dir, settings, tmp_path
):
    queue = f"training.doomed-{tmp_path.name}"
    settings.TRAINING_QUEUE = queue
    settings.TRAINING_CHECKPOINT_EVERY_STEPS = 5
    # The second worker hands back messages unacknowledged for 2 s (production: an hour),
    # and takes a job over once its lease is 2 s old (production: 2 minutes).
    quick = {
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        "TRAINING_LEASE_SECONDS": "2",
    }
    database = settings.DATABASES["default"]["NAME"]
    first = start_celery_worker(
        database_name=database, queues=[queue], log_path=tmp_path / "first.log", concurrency=1
    )
    listing = trainable_listing(slower_llama_dir, price_per_mtok=PRICE)
    give_credits(user, staff_user, cents=100)
    try:
        job = start_job(user, listing, epochs=12)  # 36 steps, a checkpoint every 5
        wait_until(
            lambda: (
                FineTuningCheckpoint.objects.filter(job=job, step=5).exists()
                and fresh(job).steps_done >= 7
            ),
            timeout=60,
            job=job,
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = fresh(job).steps_done
        assert killed_at < job.total_steps
    finally:
        stop_process(first)

    second = start_celery_worker(
        database_name=database,
        queues=[queue],
        log_path=tmp_path / "second.log",
        concurrency=1,
        extra_env=quick,
    )
    try:
        done = wait_until(
            lambda: (j := fresh(job)).status in ("succeeded", "failed") and j, timeout=120, job=job
        )
    finally:
        stop_process(second)

    assert done.status == "succeeded", done.error_message
    resumed = done.events.filter(message__startswith="Resumed from the checkpoint").get()
    checkpoint_step = int(resumed.message.split("step ")[1].split(" ")[0])
    assert checkpoint_step % 5 == 0 and 5 <= checkpoint_step <= killed_at
    steps = sorted(done.events.filter(type="metrics").values_list("data__step", flat=True))
    redone = list(range(checkpoint_step + 1, killed_at + 1))
    assert steps == sorted(list(range(1, done.total_steps + 1)) + redone)
    # The whole training, charged once: the redone steps are not paid twice.
    billable = done.training_tokens * done.n_epochs
    assert (done.trained_tokens, done.charged) == (billable, billable * PRICE)
    account = CreditAccount.objects.get(user=user)
    assert (account.available, account.held) == (100 * CENT - billable * PRICE, 0)
    assert FineTunedModel.objects.filter(job=job).exists()
    assert credit_ledger_mismatches() == []
