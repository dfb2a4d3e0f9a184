"""Browser pages of fine-tuning: the jobs list with the create form (upload with a progress
bar, estimated cost), a job's live page (loss chart, events, cancel, "Try in playground"),
owners' downloads of their fine-tuned weights, and the publisher's fine-tuning terms.

Thin: each view checks who may look, calls one service or selector, renders."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.money import format_microcents, per_mtok_label
from config.api_errors import ApplicationError
from config.html_refusals import REFUSED, act, act_on_form
from inference.training import selectors, services
from inference.training.api.shapes import event_object, file_object, job_object
from inference.training.forms import JobForm, PublishForm, TermsForm
from inference.training.policies import derived_publish_refusal, may_edit_terms
from store.models import Listing
from store.selectors import listing_for_model


def _refusal(exc: ApplicationError, status: int | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"message": exc.message, "code": exc.code, "param": exc.field}},
        status=status or exc.status,
    )


def _job_form(user, data=None) -> JobForm:
    form = JobForm(data)
    form.fields["model"].choices = [
        (listing.model_id, f"{listing.name} ({listing.model_id}) · {per_mtok_label(price)} / 1M")
        for listing, price in selectors.trainable_listings(user=user)
    ]
    form.fields["training_file"].choices = [
        (f.public_id, f"{f.filename} · {f.examples} examples")
        for f in selectors.files_for(user=user)
    ]
    return form


@login_required
def jobs_page(request):
    form = _job_form(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        job = act_on_form(
            form,
            lambda: services.fine_tuning_job_create(user=request.user, **form.job_arguments()),
        )
        if job is not REFUSED:
            return redirect("training:job", job_id=job.public_id)
    return render(
        request,
        "inference/training/jobs.html",
        {
            "form": form,
            "jobs": selectors.jobs_for(user=request.user)[:50],
            "files": selectors.files_for(user=request.user)[:50],
            "max_bytes": settings.TRAINING_MAX_FILE_BYTES,
        },
    )


@require_POST
@login_required
def file_upload(request):
    upload = request.FILES.get("file")
    if upload is None:
        return _refusal(ApplicationError("Choose a JSONL file.", field="file"))
    try:
        created = services.training_file_upload(
            user=request.user, filename=upload.name, content=upload.read(), purpose="fine-tune"
        )
    except ApplicationError as exc:
        return _refusal(exc)
    return JsonResponse(file_object(created))


@require_POST
@login_required
def estimate(request):
    """What a job would train and cost (nothing is held): the form's cost line."""
    form = _job_form(request.user, request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        return JsonResponse({"error": {"message": problems}}, status=400)
    arguments = form.job_arguments()
    listing, version = listing_for_model(model_id=arguments["model"])
    training_file = selectors.file_for(user=request.user, public_id=arguments["training_file"])
    if listing is None or training_file is None:
        return JsonResponse({"error": {"message": "Choose a model and a file."}}, status=400)
    try:
        found = services.job_estimate(
            user=request.user,
            listing=listing,
            version=version,
            training_file=training_file,
            hyperparameters=arguments["hyperparameters"],
        )
    except ApplicationError as exc:
        return _refusal(exc, status=400)
    return JsonResponse(
        {
            "examples": found.examples,
            "training_tokens": found.training_tokens,
            "billable_tokens": found.billable_tokens,
            "n_epochs": found.hyperparameters.n_epochs,
            "total_steps": found.total_steps,
            "cost": format_microcents(found.cost),
        }
    )


def _job_or_404(request, job_id: str):
    job = selectors.job_for(user=request.user, public_id=job_id)
    if job is None:
        raise Http404("No such fine-tuning job.")
    return job


def _status(job) -> dict:
    return {
        "job": job_object(job),
        "held": format_microcents(job.held),
        "charged": format_microcents(job.charged) if job.charged is not None else None,
        "curve": selectors.loss_curve(job=job),
        "events": [event_object(e) for e in selectors.events_for(job=job)[:30]],
    }


@login_required
def job_page(request, job_id: str):
    job = _job_or_404(request, job_id)
    model = getattr(job, "fine_tuned_model", None)
    return render(
        request,
        "inference/training/job.html",
        {
            "job": job,
            "status": _status(job),
            "publish_refusal": derived_publish_refusal(request.user, model) if model else None,
        },
    )


@login_required
def job_status(request, job_id: str):
    return JsonResponse(_status(_job_or_404(request, job_id)))


@require_POST
@login_required
def job_cancel(request, job_id: str):
    job = _job_or_404(request, job_id)
    act(
        request,
        lambda: services.fine_tuning_job_cancel(job=job),
        success=lambda done: f"Cancelled; charged {format_microcents(done.charged or 0)}.",
    )
    return redirect("training:job", job_id=job_id)


def _own_model_or_404(request, model_id: int):
    model = selectors.owned_fine_tuned_model(user=request.user, pk=model_id)
    if model is None:
        raise Http404("No such model.")
    return model


@login_required
def model_file_download(request, model_id: int, path: str):
    """The owner downloads a file of their fine-tuned model (its sha256 is on the job page)."""
    model = _own_model_or_404(request, model_id)
    weight_file = model.files.filter(path=path).first()
    if weight_file is None:
        raise Http404("No such file.")
    full = Path(settings.MEDIA_ROOT) / model.storage_path / weight_file.path
    return FileResponse(open(full, "rb"), as_attachment=True, filename=Path(path).name)  # noqa: SIM115


@login_required
def model_publish(request, model_id: int):
    """The owner publishes their fine-tuned model as a draft listing (then to review)."""
    model = _own_model_or_404(request, model_id)
    base = model.base_listing
    form = PublishForm(
        request.POST or None, initial={"name": f"{base.name} ({model.job.suffix or 'fine-tuned'})"}
    )
    if request.method == "POST" and form.is_valid():
        listing = act_on_form(
            form,
            lambda: services.derived_listing_create(
                actor=request.user, fine_tuned_model=model, **form.cleaned_data
            ),
        )
        if listing is not REFUSED:
            messages.success(
                request,
                "Your listing is created and its weights are being checked; submit it for "
                "review when the version is ready.",
            )
            return redirect("studio:listing", listing.pk)
    return render(
        request,
        "inference/training/publish.html",
        {"model": model, "form": form, "refusal": derived_publish_refusal(request.user, model)},
    )


@login_required
def terms_page(request, listing_id: int):
    """The publisher's fine-tuning terms for one listing."""
    listing = get_object_or_404(Listing.objects.select_related("publisher"), pk=listing_id)
    if not may_edit_terms(request.user, listing):
        return HttpResponseForbidden("Only the listing's publisher can change these terms.")
    terms = selectors.terms_for(listing=listing)
    initial = (
        {
            "allowed": terms.allowed,
            "price_per_mtok": terms.price_per_mtok,
            "derived_publishable": terms.derived_publishable,
        }
        if terms
        else {}
    )
    form = TermsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = act_on_form(
            form,
            lambda: services.fine_tuning_terms_set(
                actor=request.user, listing=listing, **form.cleaned_data
            ),
        )
        if saved is not REFUSED:
            messages.success(request, "Fine-tuning terms saved.")
            return redirect("training:terms", listing_id=listing.pk)
    return render(request, "inference/training/terms.html", {"listing": listing, "form": form})
