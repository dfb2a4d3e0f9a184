"""One fine-tuning job on a worker, from claim to merged model: the orchestration around
trainer.py, recording each step through the services (which hold the rules)."""

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings

from inference.tokenization import _load_lock, tokenizer_for
from inference.training import data, services
from inference.training.models import FineTuningJob

logger = logging.getLogger(__name__)

KEEP_CHECKPOINTS = 2


def _encoded(job: FineTuningJob, training_file, field: str):
    parsed = data.training_file_parse(
        services.training_file_content(training_file=training_file), field=field
    )
    version = job.base_version
    return data.examples_encode(
        parsed,
        storage_path=version.storage_path,
        context_length=version.context_length or 2048,
        field=field,
    )


def _metrics(trainer, *, step: int, total: int, loss: float, tokens_per_second: float, valid):
    seconds = trainer.seconds_per_step()
    eta = seconds * (total - step) if seconds is not None else None
    metrics = {
        "step": step,
        "total_steps": total,
        "train_loss": round(loss, 6),
        "valid_loss": round(valid, 6) if valid is not None else None,
        "tokens_per_second": round(tokens_per_second, 1),
        "eta_seconds": round(eta, 1) if eta is not None else None,
    }
    return metrics, eta


def _transformers_imported(attempts: int = 5) -> None:
    """transformers' lazy first import is not thread-safe: in a worker just started, the
    pool-warmup thread may be importing it too, and this thread then gets an ImportError
    for a name that is there a moment later. Imported here first, again if that happens."""
    for attempt in range(attempts):
        try:
            with _load_lock:
                from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
            return
        except ImportError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


def _claim_when_free(*, job_id: str, runner: str):
    """Claims the job, waiting up to two leases while another worker's lease on it is live:
    a redelivery that arrives just before a dead worker's lease runs out still takes the
    job over. A job alive elsewhere after that is left to it (and, should it die later, to
    the upkeep, which sends the job again)."""
    lease = settings.TRAINING_LEASE_SECONDS
    deadline = time.monotonic() + 2 * lease
    while True:
        job = services.job_claim(job_id=job_id, runner=runner)
        if job is not None:
            return job
        active = FineTuningJob.objects.filter(
            public_id=job_id, status__in=FineTuningJob.ACTIVE
        ).exists()
        if not active or time.monotonic() > deadline:
            return None
        time.sleep(max(0.2, lease / 4))


def job_run(*, job_id: str, runner: str) -> str:
    """Trains the job if this worker may take it; returns what happened."""
    job = _claim_when_free(job_id=job_id, runner=runner)
    if job is None:
        return "skipped"
    try:
        _transformers_imported()
        return _train(job, runner)
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, uncharged, saying why
        logger.exception("Fine-tuning job %s failed", job_id)
        services.job_fail(
            job=job,
            runner=runner,
            code="training_error",
            message=f"Training stopped with an error ({type(exc).__name__}: {exc}).",
        )
        return "failed"


def _train(job: FineTuningJob, runner: str) -> str:
    # torch: not imported with the task module, which web processes may import.
    from inference.engine.device import configure_torch_threads, select_device
    from inference.training.trainer import Plan, Trainer

    examples = _encoded(job, job.training_file, "training_file")
    if sum(len(example.input_ids) for example in examples) != job.training_tokens:
        services.job_fail(
            job=job,
            runner=runner,
            code="invalid_training_file",
            message="The training data no longer tokenizes as it did when the job was created.",
        )
        return "failed"
    validation = (
        _encoded(job, job.validation_file, "validation_file") if job.validation_file else []
    )
    tokenizer = tokenizer_for(storage_path=job.base_version.storage_path)
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    plan = Plan(
        base_dir=Path(settings.MEDIA_ROOT) / job.base_version.storage_path,
        examples=examples,
        validation=validation,
        n_epochs=job.n_epochs,
        batch_size=job.batch_size,
        learning_rate_multiplier=job.learning_rate_multiplier,
        seed=job.seed,
        pad_id=pad_id or 0,
    )
    threads = configure_torch_threads(settings.TRAINING_TORCH_THREADS)
    device, dtype = select_device(settings.INFERENCE_DEVICE)
    trainer = Trainer(plan, device=device, dtype=dtype)
    start = 0
    trained = 0
    checkpoint = services.job_resume_point(job=job)
    if checkpoint is not None:
        trainer.checkpoint_load(Path(settings.MEDIA_ROOT) / checkpoint.storage_path)
        start, trained = checkpoint.step, checkpoint.trained_tokens
        services.job_resumed(job=job, runner=runner, checkpoint=checkpoint)
    elif not services.job_alive(job=job, runner=runner):
        return "stopped"
    else:
        services.event_add(
            job=job,
            message=f"Training started on {device.type} ({str(dtype).removeprefix('torch.')}, "
            f"{threads} threads): {plan.total_steps} steps of up to {plan.batch_size} examples.",
        )
    valid = None
    for step in range(start + 1, plan.total_steps + 1):
        began = time.monotonic()
        loss, tokens = trainer.train_step(step)
        step_seconds = time.monotonic() - began  # the step alone, without validation
        trained += tokens
        checkpointing = step % job.checkpoint_every == 0 and step < plan.total_steps
        if checkpointing or step == plan.total_steps:
            valid = trainer.validation_loss()
        metrics, eta = _metrics(
            trainer,
            step=step,
            total=plan.total_steps,
            loss=loss,
            tokens_per_second=tokens / max(step_seconds, 1e-9),
            valid=valid if (checkpointing or step == plan.total_steps) else None,
        )
        if not services.job_progress(
            job=job,
            runner=runner,
            step=step,
            trained_tokens=trained,
            metrics=metrics,
            eta_seconds=eta,
        ):
            return "stopped"  # cancelled (and charged up to here) or taken over
        if checkpointing:
            relative = services.checkpoint_folder(job=job, step=step)
            folder = Path(settings.MEDIA_ROOT) / relative
            trainer.checkpoint_save(folder)
            services.run_state_write(folder, {"step": step, "trained_tokens": trained})
            services.job_checkpoint_record(
                job=job,
                runner=runner,
                step=step,
                trained_tokens=trained,
                path=relative,
                metrics=metrics,
            )
            services.checkpoints_prune(job=job, keep=KEEP_CHECKPOINTS)
    if not services.job_alive(job=job, runner=runner):
        return "stopped"
    relative = services.model_folder(job=job)
    target = Path(settings.MEDIA_ROOT) / relative
    shutil.rmtree(target, ignore_errors=True)
    trainer.merged_save(target)
    succeeded = services.job_succeed(
        job=job, runner=runner, folder=relative, metrics={"valid_loss": valid}
    )
    services.checkpoints_prune(job=job, keep=0)
    return "succeeded" if succeeded else "stopped"
