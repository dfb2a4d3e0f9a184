"""Fine-tuning reads: a customer's files, jobs, events and checkpoints, their fine-tuned
models as the API and the playground see them, and what a job would cost."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from config.db import holds_nul
from inference.training.models import (
    FineTunedModel,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    FineTuningTerms,
    TrainingFile,
)
from inference.training.policies import training_price_for
from store.models import Listing

FINE_TUNED_PREFIX = "ft:"


def files_for(*, user, purpose: str | None = None) -> QuerySet[TrainingFile]:
    files = TrainingFile.objects.filter(user=user, deleted_at__isnull=True)
    if purpose and holds_nul(purpose):
        return files.none()
    return files.filter(purpose=purpose) if purpose else files


def file_for(*, user, public_id: str) -> TrainingFile | None:
    """The user's live file with that id; another customer's file is as missing as none."""
    if holds_nul(public_id):
        return None
    return files_for(user=user).filter(public_id=public_id).first()


def jobs_for(*, user) -> QuerySet[FineTuningJob]:
    return FineTuningJob.objects.filter(user=user).select_related(
        "base_listing__publisher", "training_file", "validation_file", "fine_tuned_model"
    )


def job_for(*, user, public_id: str) -> FineTuningJob | None:
    if holds_nul(public_id):
        return None
    return jobs_for(user=user).filter(public_id=public_id).first()


def page_after(queryset: QuerySet, *, after: str | None, limit: int) -> tuple[list, bool]:
    """OpenAI's cursor pagination, newest first: the ``limit`` rows after the row ``after``
    (a public id), and whether more follow."""
    if after and not holds_nul(after):
        anchor = queryset.filter(public_id=after).values_list("id", flat=True).first()
        if anchor is not None:
            queryset = queryset.filter(id__lt=anchor)
    rows = list(queryset.order_by("-id")[: limit + 1])
    return rows[:limit], len(rows) > limit


def events_for(*, job: FineTuningJob) -> QuerySet[FineTuningEvent]:
    return FineTuningEvent.objects.filter(job=job)


def checkpoints_for(*, job: FineTuningJob) -> QuerySet[FineTuningCheckpoint]:
    return FineTuningCheckpoint.objects.filter(job=job)


def loss_curve(*, job: FineTuningJob) -> list[dict]:
    """The metrics of each step, oldest first: what the job page charts."""
    return [
        event.data
        for event in FineTuningEvent.objects.filter(job=job, type="metrics").order_by("id")
    ]


def terms_for(*, listing: Listing) -> FineTuningTerms | None:
    return FineTuningTerms.objects.filter(listing=listing).first()


def trainable_listings(*, user) -> list[tuple[Listing, int]]:
    """The approved listings ``user`` may fine-tune, with the price per 1M training tokens:
    those whose publisher allows it, and the models the user owns."""
    candidates = (
        Listing.objects.filter(status=Listing.Status.APPROVED)
        .filter(
            Q(fine_tuning_terms__allowed=True)
            | Q(entitlements__user=user, entitlements__revoked_at__isnull=True)
            | Q(publisher__user=user)
        )
        .select_related("publisher")
        .distinct()
        .order_by("publisher__slug", "slug")
    )
    result = []
    for listing in candidates:
        price = training_price_for(user=user, listing=listing)
        if price is not None:
            result.append((listing, price))
    return result


# --- serving ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedWeights:
    """What a completion needs of a fine-tuned model, in the shape of a ListingVersion
    (``pk`` None: usage records name the base listing, not a store version)."""

    model_id: str
    storage_path: str
    context_length: int | None
    pk: None = None
    # Merged weights of one customer: served exactly, whatever the base version's precision.
    serving_precision: str = "float32"


def owned_fine_tuned_model(*, user, pk: int) -> FineTunedModel | None:
    """The fine-tuned model ``pk`` when ``user`` owns it (its files, its publishing), else None."""
    return (
        FineTunedModel.objects.filter(pk=pk, owner=user)
        .select_related("base_listing__publisher", "base_version", "job")
        .first()
    )


def fine_tuned_models_for(*, user) -> QuerySet[FineTunedModel]:
    """The user's fine-tuned models whose base is still in the store."""
    return FineTunedModel.objects.filter(
        owner=user, base_listing__status=Listing.Status.APPROVED
    ).select_related("base_listing__publisher")


def fine_tuned_for_completion(
    *, user, model_id: str
) -> tuple[Listing | None, ServedWeights | None]:
    """An "ft:" model id → its base listing (whose terms pay for the tokens) and its own
    weights; (None, None) when it does not exist or belongs to someone else."""
    if holds_nul(model_id):
        return None, None
    model = fine_tuned_models_for(user=user).filter(model_id=model_id).first()
    if model is None:
        return None, None
    return model.base_listing, ServedWeights(
        model_id=model.model_id,
        storage_path=model.storage_path,
        context_length=model.context_length,
    )


def _card(model: FineTunedModel) -> dict:
    return {
        "id": model.model_id,
        "object": "model",
        "created": int(model.created_at.timestamp()),
        "owned_by": model.owner.email.split("@")[0],
        "name": f"{model.base_listing.name} (fine-tuned)",
        "context_length": model.context_length,
        "fine_tuned_from": model.base_listing.model_id,
    }


def fine_tuned_cards(*, user) -> list[dict]:
    """The user's fine-tuned models in /v1/models' shape."""
    return [_card(model) for model in fine_tuned_models_for(user=user).select_related("owner")]


def fine_tuned_card(*, user, model_id: str) -> dict | None:
    if holds_nul(model_id):
        return None
    model = fine_tuned_models_for(user=user).select_related("owner").filter(model_id=model_id)
    found = model.first()
    return _card(found) if found else None


def fine_tuned_playground_models(*, user) -> list[dict]:
    return [
        {
            "id": model.model_id,
            "name": f"{model.base_listing.name} · {model.job.suffix or 'fine-tuned'}",
            "starters": model.base_listing.conversation_starters or [],
            "context_length": model.context_length,
        }
        for model in fine_tuned_models_for(user=user).select_related("job")
    ]
