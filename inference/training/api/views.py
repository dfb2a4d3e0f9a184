"""/v1/files and /v1/fine_tuning/jobs: authenticate, validate, call one service or
selector, shape the answer as OpenAI does. Refusals are OpenAI-shaped errors."""

import re
from functools import wraps

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from config.api_errors import ApplicationError
from inference.api.errors import OpenAIError, from_application_error, method_not_allowed
from inference.api.validation import parse_json
from inference.api.views import openai_endpoint
from inference.training import selectors, services
from inference.training.api.shapes import (
    checkpoint_object,
    event_object,
    file_object,
    job_object,
    page,
)

MAX_LIMIT = 100


def fine_tuning_endpoint(*methods: str):
    def decorate(view):
        @openai_endpoint
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                raise method_not_allowed(*methods)
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                raise from_application_error(exc) from exc

        return wrapper

    return decorate


def _limit(request, default: int = 20) -> int:
    raw = request.GET.get("limit")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also takes "²" and any number of digits, which int()
    # refuses.
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise OpenAIError(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    return int(raw)


def _missing(kind: str, identifier: str, param: str) -> OpenAIError:
    return OpenAIError(f"No such {kind}: {identifier}", status=404, param=param, code="not_found")


def _file_or_404(request, file_id: str):
    found = selectors.file_for(user=request.api_key.user, public_id=file_id)
    if found is None:
        raise _missing("File", file_id, "file_id")
    return found


def _job_or_404(request, job_id: str):
    found = selectors.job_for(user=request.api_key.user, public_id=job_id)
    if found is None:
        raise _missing("fine-tuning job", job_id, "fine_tuning_job_id")
    return found


# --- files -----------------------------------------------------------------------------


def _multipart(request) -> tuple[UploadedFile | None, str]:
    """The upload and its purpose. Django refuses a body it cannot parse with its HTML 400
    page; here the refusal is OpenAI's error."""
    try:
        return request.FILES.get("file"), request.POST.get("purpose", "")
    except RequestDataTooBig as exc:
        raise OpenAIError(
            "A form field of the upload is too large.",
            status=413,
            param="file",
            code="request_too_large",
        ) from exc
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
        raise OpenAIError(
            f"The multipart body could not be read: {exc}", param="file", code="invalid_multipart"
        ) from exc


@fine_tuning_endpoint("GET", "POST")
def files(request):
    if request.method == "POST":
        upload, purpose = _multipart(request)
        if upload is None:
            raise OpenAIError("Send the file as multipart field 'file'.", param="file")
        created = services.training_file_upload(
            user=request.api_key.user,
            filename=upload.name,
            content=upload.read(),
            purpose=purpose,
        )
        return JsonResponse(file_object(created))
    rows, more = selectors.page_after(
        selectors.files_for(user=request.api_key.user, purpose=request.GET.get("purpose")),
        after=request.GET.get("after"),
        limit=_limit(request, default=MAX_LIMIT),
    )
    return JsonResponse(page([file_object(row) for row in rows], has_more=more))


@fine_tuning_endpoint("GET", "DELETE")
def file_detail(request, file_id: str):
    found = _file_or_404(request, file_id)
    if request.method == "DELETE":
        services.training_file_delete(training_file=found)
        return JsonResponse({"id": found.public_id, "object": "file", "deleted": True})
    return JsonResponse(file_object(found))


@fine_tuning_endpoint("GET")
def file_content(request, file_id: str):
    found = _file_or_404(request, file_id)
    response = HttpResponse(
        services.training_file_content(training_file=found), content_type="application/jsonl"
    )
    response["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    return response


# --- jobs ------------------------------------------------------------------------------


@fine_tuning_endpoint("GET", "POST")
def jobs(request):
    if request.method == "POST":
        body = parse_json(request.body)
        hyperparameters = body.get("hyperparameters")
        method = body.get("method")
        if hyperparameters is None and isinstance(method, dict):
            # The newer form: {"method": {"type": "supervised", "supervised": {...}}}.
            if method.get("type", "supervised") != "supervised":
                raise OpenAIError(
                    "Only supervised fine-tuning is offered.",
                    param="method",
                    code="unsupported_parameter",
                )
            supervised = method.get("supervised") or {}
            if not isinstance(supervised, dict):
                raise OpenAIError(
                    "method.supervised must be an object.", param="method", code="invalid_type"
                )
            hyperparameters = supervised.get("hyperparameters")
        job = services.fine_tuning_job_create(
            user=request.api_key.user,
            model=body.get("model"),
            training_file=body.get("training_file"),
            validation_file=body.get("validation_file"),
            hyperparameters=hyperparameters,
            suffix=body.get("suffix"),
            seed=body.get("seed"),
        )
        return JsonResponse(job_object(selectors.job_for(user=job.user, public_id=job.public_id)))
    rows, more = selectors.page_after(
        selectors.jobs_for(user=request.api_key.user),
        after=request.GET.get("after"),
        limit=_limit(request),
    )
    return JsonResponse(page([job_object(row) for row in rows], has_more=more))


@fine_tuning_endpoint("GET")
def job_detail(request, job_id: str):
    return JsonResponse(job_object(_job_or_404(request, job_id)))


@fine_tuning_endpoint("POST")
def job_cancel(request, job_id: str):
    job = services.fine_tuning_job_cancel(job=_job_or_404(request, job_id))
    return JsonResponse(job_object(selectors.job_for(user=job.user, public_id=job.public_id)))


@fine_tuning_endpoint("GET")
def job_events(request, job_id: str):
    job = _job_or_404(request, job_id)
    rows, more = selectors.page_after(
        selectors.events_for(job=job), after=request.GET.get("after"), limit=_limit(request)
    )
    return JsonResponse(page([event_object(row) for row in rows], has_more=more))


@fine_tuning_endpoint("GET")
def job_checkpoints(request, job_id: str):
    job = _job_or_404(request, job_id)
    rows, more = selectors.page_after(
        selectors.checkpoints_for(job=job).select_related("job"),
        after=request.GET.get("after"),
        limit=_limit(request, default=10),
    )
    return JsonResponse(page([checkpoint_object(row) for row in rows], has_more=more))
