"""Fine-tuning objects in OpenAI's shapes (File, fine_tuning.job, its events and
checkpoints), with a few fields of the store's own (progress, money) beside them."""

from billing.money import exact_major_units
from inference.training.models import (
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    TrainingFile,
)


def _ts(moment) -> int | None:
    return int(moment.timestamp()) if moment else None


def file_object(training_file: TrainingFile) -> dict:
    return {
        "id": training_file.public_id,
        "object": "file",
        "bytes": training_file.bytes,
        "created_at": _ts(training_file.created_at),
        "filename": training_file.filename,
        "purpose": training_file.purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
        "examples": training_file.examples,
        "format": training_file.format,
    }


def job_object(job: FineTuningJob) -> dict:
    hyperparameters = {
        "n_epochs": job.n_epochs,
        "batch_size": job.batch_size,
        "learning_rate_multiplier": job.learning_rate_multiplier,
    }
    error = (
        {"code": job.error_code, "message": job.error_message, "param": job.error_param or None}
        if job.status == FineTuningJob.Status.FAILED
        else None
    )
    fine_tuned = getattr(job, "fine_tuned_model", None)
    return {
        "id": job.public_id,
        "object": "fine_tuning.job",
        "model": job.base_listing.model_id,
        "created_at": _ts(job.created_at),
        "finished_at": _ts(job.finished_at),
        "fine_tuned_model": fine_tuned.model_id if fine_tuned else None,
        "organization_id": f"user-{job.user_id}",
        "result_files": [],
        "status": job.status,
        "training_file": job.training_file.public_id,
        "validation_file": job.validation_file.public_id if job.validation_file else None,
        "hyperparameters": hyperparameters,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        "trained_tokens": job.trained_tokens,
        "error": error,
        "seed": job.seed,
        "user_provided_suffix": job.suffix or None,
        "estimated_finish": _ts(job.estimated_finish),
        "integrations": [],
        "metadata": None,
        # The store's own: progress and money (exact decimal strings of major units).
        "steps_done": job.steps_done,
        "total_steps": job.total_steps,
        "training_tokens": job.training_tokens,
        "billing": {
            "price_per_million_tokens": exact_major_units(job.price_per_mtok * 1_000_000),
            "held": exact_major_units(job.held),
            "charged": exact_major_units(job.charged) if job.charged is not None else None,
        },
    }


def event_object(event: FineTuningEvent) -> dict:
    return {
        "id": event.public_id,
        "object": "fine_tuning.job.event",
        "created_at": _ts(event.created_at),
        "level": event.level,
        "message": event.message,
        "data": event.data or None,
        "type": event.type,
    }


def checkpoint_object(checkpoint: FineTuningCheckpoint) -> dict:
    job = checkpoint.job
    return {
        "id": checkpoint.public_id,
        "object": "fine_tuning.job.checkpoint",
        "created_at": _ts(checkpoint.created_at),
        "fine_tuning_job_id": job.public_id,
        "fine_tuned_model_checkpoint": f"{job.public_id}:ckpt-step-{checkpoint.step}",
        "step_number": checkpoint.step,
        "metrics": {
            "step": checkpoint.step,
            "train_loss": checkpoint.metrics.get("train_loss"),
            "valid_loss": checkpoint.metrics.get("valid_loss"),
        },
    }


def page(rows: list[dict], *, has_more: bool) -> dict:
    return {
        "object": "list",
        "data": rows,
        "has_more": has_more,
        "first_id": rows[0]["id"] if rows else None,
        "last_id": rows[-1]["id"] if rows else None,
    }
