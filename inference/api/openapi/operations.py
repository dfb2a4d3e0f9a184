"""/v1 operations in OpenAPI 3.0: one per route and method that inference/api/urls.py serves."""

from inference.api.openapi.schema_objects import ref
from inference.training.api.views import MAX_LIMIT

SECURITY = "ApiKeyAuth"
ERROR_STATUSES = {
    400: "The request is invalid; `param` names the field at fault.",
    401: "No API key, or an unknown or revoked one.",
    402: "Credits (or the rented pack) cannot cover the request's maximum cost.",
    403: "The key's owner may not use or fine-tune this model.",
    404: "No such model, file or job for this key's owner, or no such URL.",
    409: "The object is in use (a file a running job trains on) or changed meanwhile.",
    413: "The request body, or the uploaded file, is too large.",
    429: "A rate limit or the key's spending limit; `Retry-After` says when to try again.",
    503: "No worker serves this model now, or a part of the store is down; "
    "`Retry-After` says when to try again. Nothing was charged.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def _errors(*statuses: int) -> dict:
    responses = {}
    for status in statuses:
        response = {
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": ref("V1Error")}},
        }
        if status in (429, 503):
            response["headers"] = RETRY_AFTER
        responses[str(status)] = response
    return responses


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def _operation(
    operation_id: str,
    summary: str,
    tag: str,
    ok: dict,
    errors: tuple[int, ...],
    *,
    parameters: list | None = None,
    body: dict | None = None,
    description: str = "",
) -> dict:
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": [{SECURITY: []}],
        "responses": {"200": ok, **_errors(401, *errors)},
    }
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    return operation


def _path_parameter(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _page_parameters(default: int) -> list[dict]:
    return [
        {
            "name": "after",
            "in": "query",
            "schema": {"type": "string"},
            "description": "The id of the last object of the previous page.",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": default},
        },
    ]


def _completion_operation(kind: str) -> dict:
    chat = kind == "chat"
    answer, event = (
        ("ChatCompletion", "ChatCompletionEvent")
        if chat
        else ("TextCompletion", "TextCompletionEvent")
    )
    return _operation(
        "v1_chat_completions_create" if chat else "v1_completions_create",
        "Generate a chat answer" if chat else "Complete a prompt",
        "completions",
        {
            "description": "The answer; with stream=true, Server-Sent Events (one schema per "
            "event) ending with `data: [DONE]`.",
            "content": {
                "application/json": {"schema": ref(answer)},
                "text/event-stream": {"schema": ref(event)},
            },
        },
        (400, 402, 403, 404, 409, 413, 429, 503),
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": ref("ChatCompletionRequest" if chat else "CompletionRequest")
                }
            },
        },
        description="Paid by the first that applies: the customer owns the model, a live "
        "pack for it, or credits at its per-token prices. The most the request can cost "
        "(prompt + n × max_tokens) is held until it ends, then what it used is charged.",
    )


def paths() -> dict[str, dict]:
    """The /v1 path items; a path's ``parameters`` go into each of its operations (where
    drf-spectacular expects them)."""
    items = _path_items()
    for item in items.values():
        shared = item.pop("parameters", [])
        for operation in item.values():
            operation["parameters"] = [*shared, *operation.get("parameters", [])]
    return items


def _path_items() -> dict[str, dict]:
    job = _path_parameter("job_id", "A fine-tuning job's id (`ftjob-…`).")
    file = _path_parameter("file_id", "A file's id (`file-…`).")
    job_object = _json("FineTuningJob", "The job.")
    return {
        "/v1/models": {
            "get": _operation(
                "v1_models_list",
                "The models this key may call",
                "models",
                _json("V1ModelList", "Owned, rented, sold per token, fine-tuned and GPTs."),
                (503,),
            )
        },
        "/v1/models/{model_id}": {
            "get": _operation(
                "v1_models_retrieve",
                "One model this key may call",
                "models",
                _json("V1Model", "The model."),
                (404, 503),
                parameters=[
                    _path_parameter(
                        "model_id", "A model id; it may contain `/` (`publisher/listing`)."
                    )
                ],
            )
        },
        "/v1/chat/completions": {"post": _completion_operation("chat")},
        "/v1/completions": {"post": _completion_operation("text")},
        "/v1/files": {
            "get": _operation(
                "v1_files_list",
                "The key owner's training files, newest first",
                "files",
                _json("V1FileList", "A page of files."),
                (400, 503),
                parameters=[
                    {"name": "purpose", "in": "query", "schema": {"type": "string"}},
                    *_page_parameters(MAX_LIMIT),
                ],
            ),
            "post": _operation(
                "v1_files_create",
                "Upload a training file",
                "files",
                _json("V1File", "The file, checked line by line."),
                (400, 413, 503),
                body={
                    "required": True,
                    "content": {"multipart/form-data": {"schema": ref("V1FileUpload")}},
                },
                description="Every bad line is reported with its number; nothing is stored "
                "unless every line checks out.",
            ),
        },
        "/v1/files/{file_id}": {
            "parameters": [file],
            "get": _operation(
                "v1_files_retrieve",
                "A training file",
                "files",
                _json("V1File", "The file."),
                (404, 503),
            ),
            "delete": _operation(
                "v1_files_destroy",
                "Delete a training file",
                "files",
                _json("V1FileDeleted", "Deleted."),
                (404, 409, 503),
            ),
        },
        "/v1/files/{file_id}/content": {
            "parameters": [file],
            "get": _operation(
                "v1_files_content_retrieve",
                "A training file's content",
                "files",
                {
                    "description": "The JSONL file as uploaded.",
                    "content": {
                        "application/jsonl": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                (404, 503),
            ),
        },
        "/v1/fine_tuning/jobs": {
            "get": _operation(
                "v1_fine_tuning_jobs_list",
                "The key owner's fine-tuning jobs, newest first",
                "fine-tuning",
                _json("FineTuningJobList", "A page of jobs."),
                (400, 503),
                parameters=_page_parameters(20),
            ),
            "post": _operation(
                "v1_fine_tuning_jobs_create",
                "Fine-tune a model on a training file",
                "fine-tuning",
                job_object,
                (400, 402, 403, 404, 413, 503),
                body={
                    "required": True,
                    "content": {"application/json": {"schema": ref("FineTuningJobRequest")}},
                },
                description="The whole training's cost (training tokens × epochs × the "
                "training price) is held from credits (402 and no job when they cannot "
                "cover it); the run is queued on the training workers.",
            ),
        },
        "/v1/fine_tuning/jobs/{job_id}": {
            "parameters": [job],
            "get": _operation(
                "v1_fine_tuning_jobs_retrieve",
                "A fine-tuning job",
                "fine-tuning",
                job_object,
                (404, 503),
            ),
        },
        "/v1/fine_tuning/jobs/{job_id}/cancel": {
            "parameters": [job],
            "post": _operation(
                "v1_fine_tuning_jobs_cancel",
                "Cancel a job in progress",
                "fine-tuning",
                job_object,
                (400, 404, 413, 503),
                description="A queued job costs nothing; a running one is charged the steps "
                "done. A job that has ended answers 400 job_not_cancellable.",
            ),
        },
        "/v1/fine_tuning/jobs/{job_id}/events": {
            "parameters": [job],
            "get": _operation(
                "v1_fine_tuning_jobs_events_list",
                "A job's events, newest first",
                "fine-tuning",
                _json("FineTuningJobEventList", "A page of events."),
                (400, 404, 503),
                parameters=_page_parameters(20),
            ),
        },
        "/v1/fine_tuning/jobs/{job_id}/checkpoints": {
            "parameters": [job],
            "get": _operation(
                "v1_fine_tuning_jobs_checkpoints_list",
                "A job's checkpoints, newest first",
                "fine-tuning",
                _json("FineTuningJobCheckpointList", "A page of checkpoints."),
                (400, 404, 503),
                parameters=_page_parameters(10),
            ),
        },
    }
