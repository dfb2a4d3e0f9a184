"""The /v1 API in OpenAPI 3.0, merged into drf-spectacular's schema (/api/schema/, /api/docs/).

The /v1 views are plain Django views that drf-spectacular cannot see, so their description
lives here, next to the code it describes: request bodies (``bodies``) take their fields and
bounds from inference/api/validation.py and the fine-tuning services; answers (``answers``)
follow inference/api/responses.py and inference/training/api/shapes.py; ``operations`` has
one entry per route and method. tests/test_api_docs.py checks that every /v1 route is here,
that no other method answers, that the completion bodies name exactly the fields the
validator knows, within its bounds; tests/reliability/test_fuzz_schema.py runs schemathesis
against the whole schema on a live server.

``merge_v1`` is the postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from inference.api.openapi import answers, bodies
from inference.api.openapi.operations import SECURITY, paths


def components() -> dict[str, dict]:
    """The /v1 schemas, named with a V1 prefix where OpenAI's names are too generic."""
    return {
        "V1Error": answers.ERROR,
        "V1Model": answers.MODEL,
        "V1ModelList": answers.MODEL_LIST,
        "ChatCompletionRequest": bodies.chat_request(),
        "CompletionRequest": bodies.completion_request(),
        "ChatCompletion": answers.completion("chat"),
        "TextCompletion": answers.completion("text"),
        "ChatCompletionEvent": answers.event_stream("chat.completion.chunk"),
        "TextCompletionEvent": answers.event_stream("text_completion"),
        "Usage": answers.USAGE,
        "ChatLogprobs": answers.CHAT_LOGPROBS,
        "TextLogprobs": answers.TEXT_LOGPROBS,
        "V1File": answers.FILE,
        "V1FileUpload": bodies.file_upload(),
        "V1FileList": answers.page("V1File"),
        "V1FileDeleted": answers.FILE_DELETED,
        "FineTuningJobRequest": bodies.job_request(),
        "FineTuningJob": answers.JOB,
        "FineTuningJobList": answers.page("FineTuningJob"),
        "FineTuningJobEventList": answers.page("FineTuningJobEvent"),
        "FineTuningJobEvent": answers.EVENT,
        "FineTuningJobCheckpointList": answers.page("FineTuningJobCheckpoint"),
        "FineTuningJobCheckpoint": answers.CHECKPOINT,
    }


SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "gpts_<prefix>_<secret>",
    "description": "An API key from the account's keys page, sent as "
    "`Authorization: Bearer <key>` to every /v1 route.",
}


def merge_v1(result: dict, generator=None, request=None, public=None, **kwargs) -> dict:
    """drf-spectacular postprocessing hook: adds the /v1 paths, schemas and security scheme."""
    result.setdefault("paths", {}).update(paths())
    found = result.setdefault("components", {})
    found.setdefault("schemas", {}).update(components())
    found.setdefault("securitySchemes", {})[SECURITY] = SECURITY_SCHEME
    tags = result.setdefault("tags", [])
    known = {tag.get("name") for tag in tags}
    for name, description in (
        ("models", "OpenAI-compatible: the models a key may call."),
        ("completions", "OpenAI-compatible: chat and text completions."),
        ("files", "OpenAI-compatible: training files."),
        ("fine-tuning", "OpenAI-compatible: fine-tuning jobs."),
    ):
        if name not in known:
            tags.append({"name": name, "description": description})
    return result
