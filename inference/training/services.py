"""Fine-tuning writes: files, jobs (create, cancel), what a training worker records, and
the publisher's terms.

Invariant (money): a job holds ``held`` = training tokens × epochs × price from the
customer's credits when it is created (402 and no job when they cannot cover it); the hold
is finished exactly once, in the same transaction as the job's final status: succeeded →
the whole training is debited; cancelled → the tokens of the steps done when the customer
cancelled; failed → nothing (released). Steps redone after a worker died are never charged
twice: ``trained_tokens`` goes back to the checkpoint's count when a run resumes.

Invariant (runs): one worker at a time runs a job. It claims the job with a conditional
UPDATE and renews its lease (``heartbeat_at``) at every step with another; a second
delivery of a live job finds the lease held and stops, a delivery after the lease ran out
takes the job over from its last checkpoint.
"""

import hashlib
import json
import logging
import math
import random
import re
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from billing.models import CreditHold
from billing.money import format_microcents
from billing.services import credits_hold, credits_release, credits_settle
from billing.services.credits import MAX_PRICE_PER_MTOK
from config.api_errors import ApplicationError
from config.celery import app as celery_app
from inference.training import data
from inference.training.models import (
    FineTunedModel,
    FineTunedWeightFile,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    FineTuningTerms,
    TrainingFile,
    public_id,
)
from inference.training.policies import derived_publish_refusal, may_edit_terms, training_price_for
from inference.training.selectors import FINE_TUNED_PREFIX, file_for
from store.model_ids import model_not_found
from store.publishing.checksum import sha256_file
from store.publishing.services import version_create
from store.selectors import listing_for_model
from store.services import listing_create

logger = logging.getLogger(__name__)

TRAIN_TASK = "training.fine_tune"
SUFFIX = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
MAX_EPOCHS = 50
MAX_BATCH_SIZE = 256
MIN_LR_MULTIPLIER = 1e-6
MAX_LR_MULTIPLIER = 100.0
MAX_SEED = 2**31 - 1


def _media(relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


# --- files -----------------------------------------------------------------------------


def training_file_upload(*, user, filename: str, content: bytes, purpose: str) -> TrainingFile:
    """Stores an uploaded JSONL training file once every line checks out (the error lists
    each bad line with its number); nothing is stored otherwise."""
    if purpose != "fine-tune":
        raise ApplicationError(
            f"Files with purpose {purpose!r} are not accepted here; use purpose 'fine-tune'.",
            field="purpose",
        )
    if len(content) > settings.TRAINING_MAX_FILE_BYTES:
        raise ApplicationError(
            f"The file is {len(content)} bytes; the limit is {settings.TRAINING_MAX_FILE_BYTES}.",
            code="file_too_large",
            status=413,
            field="file",
        )
    parsed = data.training_file_parse(content, field="file")
    identifier = public_id("file-")
    relative = f"fine-tuning/files/{user.pk}/{identifier}.jsonl"
    path = _media(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    try:
        return TrainingFile.objects.create(
            public_id=identifier,
            user=user,
            filename=(Path(filename or "data.jsonl").name or "data.jsonl")[:255],
            purpose=purpose,
            bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_path=relative,
            format=parsed.format,
            examples=len(parsed.examples),
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise


def training_file_delete(*, training_file: TrainingFile) -> None:
    """Deletes the file's content; a job still training on it keeps it until it ends (409)."""
    in_use = FineTuningJob.objects.filter(
        Q(training_file=training_file) | Q(validation_file=training_file),
        status__in=FineTuningJob.ACTIVE,
    ).exists()
    if in_use:
        raise ApplicationError(
            "A fine-tuning job in progress uses this file; cancel it or wait until it ends.",
            code="file_in_use",
            status=409,
        )
    TrainingFile.objects.filter(pk=training_file.pk).update(deleted_at=timezone.now())
    _media(training_file.storage_path).unlink(missing_ok=True)


def training_file_content(*, training_file: TrainingFile) -> bytes:
    return _media(training_file.storage_path).read_bytes()


# --- jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hyperparameters:
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float


def _number(value, *, name: str, kind, low, high, auto):
    if value is None or value == "auto":
        return auto
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and not float(value).is_integer())
    ):
        raise ApplicationError(
            f"hyperparameters.{name} must be 'auto' or a number.", field="hyperparameters"
        )
    if not low <= value <= high:
        raise ApplicationError(
            f"hyperparameters.{name} must be between {low} and {high}.", field="hyperparameters"
        )
    return kind(value)


# "auto" learning rate: 5 × trainer.BASE_LEARNING_RATE = 1e-3 for the LoRA adapters.
# bench/fine_tune.py (docs/BENCHMARKS.md, Fine-tuning): 100 examples × 3 epochs on SmolLM2
# took the taught style in 0 of 10 held-out answers at 2e-4 and in 10 of 10 at 1e-3.
AUTO_LEARNING_RATE_MULTIPLIER = 5.0


def hyperparameters_resolve(raw: dict | None, *, examples: int) -> Hyperparameters:
    """OpenAI's hyperparameters with "auto" filled in: 3 epochs, a batch of about a tenth of
    the examples (1 … 8), AUTO_LEARNING_RATE_MULTIPLIER."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ApplicationError("hyperparameters must be an object.", field="hyperparameters")
    return Hyperparameters(
        n_epochs=_number(
            raw.get("n_epochs"), name="n_epochs", kind=int, low=1, high=MAX_EPOCHS, auto=3
        ),
        batch_size=_number(
            raw.get("batch_size"),
            name="batch_size",
            kind=int,
            low=1,
            high=MAX_BATCH_SIZE,
            auto=min(8, max(1, examples // 10)),
        ),
        learning_rate_multiplier=_number(
            raw.get("learning_rate_multiplier"),
            name="learning_rate_multiplier",
            kind=float,
            low=MIN_LR_MULTIPLIER,
            high=MAX_LR_MULTIPLIER,
            auto=AUTO_LEARNING_RATE_MULTIPLIER,
        ),
    )


def _model_id(*, base_model_id: str, user, suffix: str, job_id: str) -> str:
    account = slugify(user.email.split("@")[0])[:24] or f"user{user.pk}"
    return f"ft:{base_model_id}:{account}:{suffix}:{job_id.removeprefix('ftjob-')[:8]}"


@dataclass(frozen=True)
class _TrainingPrice:
    """A training price in the shape billing's credit hold expects (µ¢ per token)."""

    input_per_mtok: int
    output_per_mtok: int = 0


@dataclass(frozen=True)
class JobEstimate:
    examples: int
    training_tokens: int  # one epoch
    hyperparameters: Hyperparameters
    total_steps: int
    price_per_mtok: int
    cost: int  # µ¢

    @property
    def billable_tokens(self) -> int:
        return self.training_tokens * self.hyperparameters.n_epochs


def _file(user, identifier, *, field: str) -> TrainingFile:

    found = file_for(user=user, public_id=identifier) if isinstance(identifier, str) else None
    if found is None:
        raise ApplicationError(
            f"No file with id {identifier!r} exists in your account.",
            code="file_not_found",
            field=field,
        )
    return found


def job_estimate(
    *, user, listing, version, training_file: TrainingFile, hyperparameters: dict | None
) -> JobEstimate:
    """Checks the training file against the base model (at least 10 examples, each within
    its context length, every bad line reported) and counts its billable tokens: what a job
    would train and cost, before anything is charged."""
    price = training_price_for(user=user, listing=listing)
    if price is None:
        raise ApplicationError(
            f"The model '{listing.model_id}' cannot be fine-tuned: its publisher does not "
            "allow it and you do not own it.",
            code="model_not_available",
            status=403,
            field="model",
        )
    parsed = data.training_file_parse(
        training_file_content(training_file=training_file), field="training_file"
    )
    data.enough_examples(parsed, field="training_file")
    context = version.context_length or 2048
    encoded = data.examples_encode(
        parsed, storage_path=version.storage_path, context_length=context, field="training_file"
    )
    tokens = sum(len(example.input_ids) for example in encoded)
    params = hyperparameters_resolve(hyperparameters, examples=len(encoded))
    steps = math.ceil(len(encoded) / params.batch_size) * params.n_epochs
    return JobEstimate(
        examples=len(encoded),
        training_tokens=tokens,
        hyperparameters=params,
        total_steps=steps,
        price_per_mtok=price,
        cost=tokens * params.n_epochs * price,
    )


def _send(job_id: str) -> None:

    celery_app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, queue=settings.TRAINING_QUEUE)


def event_add(*, job: FineTuningJob, message: str, type: str = "message", data=None, level="info"):
    return FineTuningEvent.objects.create(
        public_id=public_id("ftevent-"),
        job=job,
        message=message,
        type=type,
        data=data or {},
        level=level,
    )


def fine_tuning_job_create(
    *,
    user,
    model: str,
    training_file: str,
    validation_file: str | None = None,
    hyperparameters: dict | None = None,
    suffix: str | None = None,
    seed: int | None = None,
) -> FineTuningJob:
    """Validates the files against the base model, holds the whole training's cost from
    credits (402 insufficient_quota: no job), and queues the run on the training queue."""

    listing, version = listing_for_model(model_id=model) if isinstance(model, str) else (None,) * 2
    if listing is None or version is None:
        raise model_not_found(model)
    if suffix and (not isinstance(suffix, str) or not SUFFIX.match(suffix)):
        raise ApplicationError(
            "suffix: up to 40 letters, digits, '-' or '_'.", code="invalid_suffix", field="suffix"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ApplicationError("seed must be an integer.", field="seed")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ApplicationError(f"seed must be between 0 and {MAX_SEED}.", field="seed")
    train = _file(user, training_file, field="training_file")
    validation = _file(user, validation_file, field="validation_file") if validation_file else None
    estimate = job_estimate(
        user=user,
        listing=listing,
        version=version,
        training_file=train,
        hyperparameters=hyperparameters,
    )
    if validation is not None:
        parsed = data.training_file_parse(
            training_file_content(training_file=validation), field="validation_file"
        )
        data.examples_encode(
            parsed,
            storage_path=version.storage_path,
            context_length=version.context_length or 2048,
            field="validation_file",
        )
    identifier = public_id("ftjob-")
    params = estimate.hyperparameters
    with transaction.atomic():
        job = FineTuningJob.objects.create(
            public_id=identifier,
            user=user,
            base_listing=listing,
            base_version=version,
            training_file=train,
            validation_file=validation,
            n_epochs=params.n_epochs,
            batch_size=params.batch_size,
            learning_rate_multiplier=params.learning_rate_multiplier,
            seed=seed if seed is not None else random.SystemRandom().randrange(MAX_SEED),
            suffix=suffix or "",
            checkpoint_every=max(1, settings.TRAINING_CHECKPOINT_EVERY_STEPS),
            status=FineTuningJob.Status.QUEUED,
            training_tokens=estimate.training_tokens,
            examples=estimate.examples,
            total_steps=estimate.total_steps,
            price_per_mtok=estimate.price_per_mtok,
            held=estimate.cost,
            hold_request_id=f"training-{identifier}",
        )
        credits_hold(
            user=user,
            listing=listing,
            price=_TrainingPrice(input_per_mtok=estimate.price_per_mtok),
            amount=estimate.cost,
            request_id=job.hold_request_id,
            purpose=CreditHold.Purpose.TRAINING,
        )
        event_add(
            job=job,
            message=f"Created fine-tuning job {identifier}: {estimate.examples} examples, "
            f"{estimate.billable_tokens} training tokens ({params.n_epochs} epochs), "
            f"{format_microcents(estimate.cost)} held from your credits.",
        )
        transaction.on_commit(lambda: _send(identifier))
    return job


def fine_tuning_job_cancel(*, job: FineTuningJob) -> FineTuningJob:
    """Stops the job: a queued one is never trained and costs nothing; a running one is
    charged the steps done by now, and its worker stops at the end of the step it is in."""

    with transaction.atomic():
        job = FineTuningJob.objects.select_for_update().get(pk=job.pk)
        if not job.is_active:
            raise ApplicationError(
                f"The job is {job.status} already; only a job in progress can be cancelled.",
                code="job_not_cancellable",
            )
        if job.trained_tokens:
            charged = credits_settle(
                request_id=job.hold_request_id,
                prompt_tokens=job.trained_tokens,
                completion_tokens=0,
            )
        else:
            credits_release(request_id=job.hold_request_id)
            charged = 0
        job.status = FineTuningJob.Status.CANCELLED
        job.charged = charged
        job.finished_at = timezone.now()
        job.estimated_finish = None
        job.save(update_fields=["status", "charged", "finished_at", "estimated_finish"])
        event_add(
            job=job,
            message=f"Job cancelled after {job.steps_done} of {job.total_steps} steps; "
            f"charged {format_microcents(charged)} for {job.trained_tokens} trained tokens.",
        )
    return job


# --- what a training worker records ---------------------------------------------------


def _now():
    return timezone.now()


def job_claim(*, job_id: str, runner: str) -> FineTuningJob | None:
    """Takes the job for ``runner``: a queued job, or a running one whose lease ran out (its
    worker died). None when it is finished, cancelled, or alive in another worker."""
    stale = _now() - timedelta(seconds=settings.TRAINING_LEASE_SECONDS)
    claimed = FineTuningJob.objects.filter(public_id=job_id).filter(
        Q(status=FineTuningJob.Status.QUEUED)
        | Q(status=FineTuningJob.Status.RUNNING, heartbeat_at__lt=stale)
    )
    now = _now()
    if not claimed.update(status=FineTuningJob.Status.RUNNING, runner=runner, heartbeat_at=now):
        return None
    job = FineTuningJob.objects.select_related("base_version", "base_listing").get(public_id=job_id)
    if job.started_at is None:
        FineTuningJob.objects.filter(pk=job.pk).update(started_at=now)
        job.started_at = now
    return job


def _ours(job: FineTuningJob, runner: str):
    return FineTuningJob.objects.filter(
        pk=job.pk, status=FineTuningJob.Status.RUNNING, runner=runner
    )


def job_resume_point(*, job: FineTuningJob) -> FineTuningCheckpoint | None:
    """The last checkpoint whose files are all there."""
    for checkpoint in FineTuningCheckpoint.objects.filter(job=job).order_by("-step"):
        if (_media(checkpoint.storage_path) / "state.json").exists():
            return checkpoint
    return None


def job_progress(
    *,
    job: FineTuningJob,
    runner: str,
    step: int,
    trained_tokens: int,
    metrics: dict,
    eta_seconds: float | None,
    message: str | None = None,
) -> bool:
    """Records a finished step (and renews the lease). False: the job was cancelled or
    taken over meanwhile, and this worker must stop."""
    with transaction.atomic():
        estimated = _now() + timedelta(seconds=eta_seconds) if eta_seconds is not None else None
        if not _ours(job, runner).update(
            steps_done=step,
            trained_tokens=trained_tokens,
            heartbeat_at=_now(),
            estimated_finish=estimated,
        ):
            return False
        event_add(
            job=job,
            type="metrics",
            data=metrics,
            message=message
            or f"Step {step}/{job.total_steps}: training loss={metrics['train_loss']:.4f}",
        )
    return True


def job_alive(*, job: FineTuningJob, runner: str) -> bool:
    """Renews the lease between steps (a long merge, a slow load); False as job_progress."""
    return bool(_ours(job, runner).update(heartbeat_at=_now()))


def job_checkpoint_record(
    *, job: FineTuningJob, runner: str, step: int, trained_tokens: int, path: str, metrics: dict
) -> FineTuningCheckpoint | None:
    with transaction.atomic():
        if not _ours(job, runner).exists():
            return None
        checkpoint, _ = FineTuningCheckpoint.objects.update_or_create(
            job=job,
            step=step,
            defaults={
                "public_id": public_id("ftckpt-"),
                "trained_tokens": trained_tokens,
                "metrics": metrics,
                "storage_path": path,
            },
        )
    return checkpoint


def job_resumed(*, job: FineTuningJob, runner: str, checkpoint: FineTuningCheckpoint) -> None:
    """A new worker goes on from ``checkpoint``: the steps after it are trained again and
    counted (charged) once."""
    with transaction.atomic():
        _ours(job, runner).update(
            steps_done=checkpoint.step, trained_tokens=checkpoint.trained_tokens
        )
        event_add(
            job=job,
            message=f"Resumed from the checkpoint at step {checkpoint.step} of {job.total_steps} "
            "(the worker that was training this job stopped).",
            level="warn",
        )


def _sha256(path: Path) -> str:

    return sha256_file(path)


def job_succeed(*, job: FineTuningJob, runner: str, folder: str, metrics: dict) -> bool:
    """The merged model is in ``folder`` (relative to MEDIA_ROOT): it becomes the job's
    private model and the whole training is debited, in one transaction. False (and the
    folder removed) when the job was cancelled meanwhile."""

    root = _media(folder)
    files = [
        (str(path.relative_to(root)), path.stat().st_size, _sha256(path))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]
    with transaction.atomic():
        locked = _ours(job, runner).select_for_update().first()
        if locked is None:
            shutil.rmtree(root, ignore_errors=True)
            return False
        billable = job.training_tokens * job.n_epochs
        charged = credits_settle(
            request_id=job.hold_request_id, prompt_tokens=billable, completion_tokens=0
        )
        model_id = _model_id(
            base_model_id=job.base_listing.model_id,
            user=locked.user,
            suffix=job.suffix,
            job_id=job.public_id,
        )
        assert model_id.startswith(FINE_TUNED_PREFIX)
        model = FineTunedModel.objects.create(
            model_id=model_id,
            owner_id=job.user_id,
            job=job,
            base_listing=job.base_listing,
            base_version=job.base_version,
            storage_path=folder,
            context_length=job.base_version.context_length,
            size_bytes=sum(size for _, size, _ in files),
        )
        FineTunedWeightFile.objects.bulk_create(
            FineTunedWeightFile(model=model, path=path, size_bytes=size, sha256=digest)
            for path, size, digest in files
        )
        FineTuningJob.objects.filter(pk=job.pk).update(
            status=FineTuningJob.Status.SUCCEEDED,
            steps_done=job.total_steps,
            trained_tokens=billable,
            charged=charged,
            finished_at=_now(),
            estimated_finish=None,
        )
        event_add(
            job=job,
            data=metrics,
            message=f"The job has successfully completed: {model_id} "
            f"({billable} trained tokens, {format_microcents(charged)}).",
        )
    return True


def job_fail(*, job: FineTuningJob, runner: str | None, code: str, message: str) -> bool:
    """The job failed: it says why, and nothing is charged (the hold is released)."""

    with transaction.atomic():
        rows = FineTuningJob.objects.filter(pk=job.pk, status__in=FineTuningJob.ACTIVE)
        if runner is not None:
            rows = rows.filter(Q(runner=runner) | Q(status=FineTuningJob.Status.QUEUED))
        locked = rows.select_for_update().first()
        if locked is None:
            return False
        credits_release(request_id=job.hold_request_id)
        FineTuningJob.objects.filter(pk=job.pk).update(
            status=FineTuningJob.Status.FAILED,
            error_code=code[:64],
            error_message=message,
            charged=0,
            finished_at=_now(),
            estimated_finish=None,
        )
        event_add(job=job, message=f"The job failed: {message} Nothing was charged.", level="error")
    return True


def training_upkeep() -> int:
    """Sends again the jobs whose worker stopped renewing its lease (the broker hands back
    a dead worker's message only after its visibility timeout); a worker claims them only
    if the lease has run out. Returns how many were sent."""
    stale = _now() - timedelta(seconds=settings.TRAINING_LEASE_SECONDS)
    ids = list(
        FineTuningJob.objects.filter(
            status=FineTuningJob.Status.RUNNING, heartbeat_at__lt=stale
        ).values_list("public_id", flat=True)
    )
    for identifier in ids:
        _send(identifier)
    return len(ids)


def checkpoint_folder(*, job: FineTuningJob, step: int) -> str:
    return f"fine-tuning/checkpoints/{job.public_id}/step-{step:06d}"


def model_folder(*, job: FineTuningJob) -> str:
    return f"fine-tuned/{job.user_id}/{job.public_id}"


def checkpoints_prune(*, job: FineTuningJob, keep: int) -> None:
    """Removes the files of all checkpoints but the newest ``keep`` (the rows stay)."""
    for checkpoint in FineTuningCheckpoint.objects.filter(job=job).order_by("-step")[keep:]:
        shutil.rmtree(_media(checkpoint.storage_path), ignore_errors=True)


# --- publishing a fine-tuned model ------------------------------------------------------


def derived_listing_create(
    *, actor, fine_tuned_model: FineTunedModel, name: str, slug: str = "", summary: str = ""
):
    """Publishes a fine-tuned model as a draft listing of the owner's, with its lineage.

    The weights go through the same path as any upload (store.publishing.services.
    version_create: checks, smoke test, sha256) into the new listing's version 1, and the
    listing goes to review like any other when its publisher submits it. The fine-tuned
    model itself stays private and unchanged. Refused (403 ``derived_not_allowed``) unless
    policies.derived_publish_refusal says nothing against it; on any refusal no listing
    is left behind.
    """

    refusal = derived_publish_refusal(actor, fine_tuned_model)
    if refusal:
        raise ApplicationError(refusal, status=403, code="derived_not_allowed")
    base = fine_tuned_model.base_listing
    job = fine_tuned_model.job
    card = (
        f"Fine-tuned from `{base.model_id}` (version {fine_tuned_model.base_version.number}) "
        f"with LoRA adapters merged into the base weights: {job.examples} examples, "
        f"{job.n_epochs} epoch{'s' if job.n_epochs != 1 else ''}, "
        f"{job.training_tokens * job.n_epochs} training tokens."
    )
    root = _media(fine_tuned_model.storage_path)
    with transaction.atomic(), ExitStack() as files:
        listing = listing_create(
            publisher=actor.publisher_profile,
            name=name,
            slug=slug,
            summary=summary.strip()[:300],
            card_markdown=card,
            task=base.task,
            license=base.license,
            languages=base.languages,
            lineage=fine_tuned_model.base_version,
        )
        uploads = [
            File(files.enter_context(open(root / weight.path, "rb")), name=weight.path)  # noqa: SIM115
            for weight in fine_tuned_model.files.order_by("path")
        ]
        version_create(listing=listing, created_by=actor, files=uploads)
    return listing


# --- terms -----------------------------------------------------------------------------


def fine_tuning_terms_set(
    *, actor, listing, allowed: bool, price_per_mtok: int, derived_publishable: bool
) -> FineTuningTerms:
    """The publisher's terms for fine-tuning their listing (cents per 1M training tokens)."""

    if not may_edit_terms(actor, listing):
        raise ApplicationError(
            "Only the listing's publisher can change its fine-tuning terms.",
            status=403,
            code="forbidden",
        )
    if isinstance(price_per_mtok, bool) or not isinstance(price_per_mtok, int):
        raise ApplicationError("The price is a whole number of cents.", field="price_per_mtok")
    if not 0 <= price_per_mtok <= MAX_PRICE_PER_MTOK:
        raise ApplicationError(
            f"A price per 1M tokens is between 0 and {MAX_PRICE_PER_MTOK} cents.",
            field="price_per_mtok",
        )
    terms, _ = FineTuningTerms.objects.update_or_create(
        listing=listing,
        defaults={
            "allowed": bool(allowed),
            "price_per_mtok": price_per_mtok,
            "derived_publishable": bool(derived_publishable),
        },
    )
    return terms


def run_state_write(folder: Path, state: dict) -> None:
    """Written last into a checkpoint folder: its presence says the checkpoint is whole."""
    (folder / "state.json").write_text(json.dumps(state))
