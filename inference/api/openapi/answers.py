"""Answers of /v1 in OpenAPI 3.0, as inference/api/responses.py, inference/selectors.py (model
cards) and inference/training/api/shapes.py build them; OpenAI's error object."""

from inference.api.openapi.schema_objects import nullable, obj, ref
from inference.completions import CONTENT_FILTER
from inference.training.models import FineTuningJob, TrainingFile

FINISH_REASON = {"type": "string", "enum": ["stop", "length", CONTENT_FILTER]}
USAGE = obj(
    {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
        "charged_tokens": {"type": "integer"},
        "cost": {
            "type": "string",
            "description": "Paid from credits: the cost in the store currency, exact.",
        },
    },
    required=("prompt_tokens", "completion_tokens", "total_tokens"),
)
TOKEN_LOGPROB = obj(
    {
        "token": {"type": "string"},
        "logprob": {"type": "number"},
        "bytes": {"type": "array", "items": {"type": "integer"}},
    },
    required=("token", "logprob", "bytes"),
)
CHAT_LOGPROBS = obj(
    {
        "content": {
            "type": "array",
            "items": {
                **TOKEN_LOGPROB,
                "properties": {
                    **TOKEN_LOGPROB["properties"],
                    "top_logprobs": {"type": "array", "items": TOKEN_LOGPROB},
                },
            },
        },
        "refusal": nullable({"type": "string"}),
    },
    required=("content",),
)
TEXT_LOGPROBS = obj(
    {
        "tokens": {"type": "array", "items": {"type": "string"}},
        "token_logprobs": {"type": "array", "items": {"type": "number"}},
        "top_logprobs": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    },
    required=("tokens", "token_logprobs", "top_logprobs"),
)
SOURCES = {
    "type": "array",
    "description": "A GPT's answer: the knowledge files it drew on.",
    "items": obj({"file": {"type": "string"}}),
}


def completion(kind: str) -> dict:
    if kind == "chat":
        message = obj(
            {
                "role": {"type": "string", "enum": ["assistant"]},
                "content": {"type": "string"},
                "refusal": nullable({"type": "string"}),
            },
            required=("role", "content"),
        )
        choice = obj(
            {
                "index": {"type": "integer"},
                "message": message,
                "logprobs": nullable(ref("ChatLogprobs")),
                "finish_reason": FINISH_REASON,
            },
            required=("index", "message", "finish_reason"),
        )
    else:
        choice = obj(
            {
                "index": {"type": "integer"},
                "text": {"type": "string"},
                "logprobs": nullable(ref("TextLogprobs")),
                "finish_reason": FINISH_REASON,
            },
            required=("index", "text", "finish_reason"),
        )
    return obj(
        {
            "id": {"type": "string"},
            "object": {
                "type": "string",
                "enum": ["chat.completion" if kind == "chat" else "text_completion"],
            },
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "system_fingerprint": nullable({"type": "string"}),
            "choices": {"type": "array", "items": choice},
            "usage": ref("Usage"),
            "sources": SOURCES,
        },
        required=("id", "object", "created", "model", "choices", "usage"),
    )


def event_stream(chunk: str) -> dict:
    """One Server-Sent Event: OpenAPI 3.0 says nothing of event streams, and schemathesis
    reads the schema of text/event-stream as each event's (OpenAPI 3.2's itemSchema)."""
    return obj(
        {
            "data": {
                "type": "string",
                "description": f"The JSON of a `{chunk}` chunk, or of an error object "
                '({"error": {...}}) when the generation failed midway, or `[DONE]` last.',
            },
            "event": {"type": "string", "enum": ["message"]},
        },
        required=("data",),
    )


MODEL = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "context_length": nullable({"type": "integer"}),
        "version": {
            "type": "integer",
            "description": "The version this id answers with; pin it as `id@vN`.",
        },
        "pricing": {
            "type": "object",
            "description": "Per token (`prompt`, `completion`: exact decimal strings), "
            "purchase and rental packs.",
        },
        "fine_tuned_from": {"type": "string"},
        "base_model": {"type": "string", "description": "A GPT's base model."},
    },
    required=("id", "object", "created", "owned_by"),
)
MODEL_LIST = obj(
    {
        "object": {"type": "string", "enum": ["list"]},
        "data": {"type": "array", "items": ref("V1Model")},
    },
    required=("object", "data"),
)
FILE_DELETED = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["file"]},
        "deleted": {"type": "boolean"},
    },
    required=("id", "object", "deleted"),
)
FILE = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["file"]},
        "bytes": {"type": "integer"},
        "created_at": {"type": "integer"},
        "filename": {"type": "string"},
        "purpose": {"type": "string"},
        "status": {"type": "string", "enum": ["processed"]},
        "status_details": nullable({"type": "string"}),
        "expires_at": nullable({"type": "integer"}),
        "examples": {"type": "integer"},
        "format": {"type": "string", "enum": list(TrainingFile.Format.values)},
    },
    required=("id", "object", "bytes", "created_at", "filename", "purpose", "status"),
)
HYPERPARAMETERS = obj(
    {
        "n_epochs": {"type": "integer"},
        "batch_size": {"type": "integer"},
        "learning_rate_multiplier": {"type": "number"},
    },
    required=("n_epochs", "batch_size", "learning_rate_multiplier"),
)
JOB = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["fine_tuning.job"]},
        "model": {"type": "string"},
        "created_at": {"type": "integer"},
        "finished_at": nullable({"type": "integer"}),
        "fine_tuned_model": nullable({"type": "string"}),
        "organization_id": {"type": "string"},
        "result_files": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": list(FineTuningJob.Status.values)},
        "training_file": {"type": "string"},
        "validation_file": nullable({"type": "string"}),
        "hyperparameters": HYPERPARAMETERS,
        "method": {"type": "object"},
        "trained_tokens": nullable({"type": "integer"}),
        "error": nullable(
            obj(
                {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "param": nullable({"type": "string"}),
                }
            )
        ),
        "seed": {"type": "integer"},
        "user_provided_suffix": nullable({"type": "string"}),
        "estimated_finish": nullable({"type": "integer"}),
        "integrations": {"type": "array", "items": {"type": "object"}},
        "metadata": nullable({"type": "object"}),
        "steps_done": {"type": "integer", "description": "The store's own: progress."},
        "total_steps": {"type": "integer"},
        "training_tokens": {"type": "integer", "description": "Tokens of one epoch."},
        "billing": obj(
            {
                "price_per_million_tokens": {"type": "string"},
                "held": {"type": "string"},
                "charged": nullable({"type": "string"}),
            },
            description="The store's own: exact decimal strings in the store currency.",
        ),
    },
    required=("id", "object", "model", "created_at", "status", "training_file"),
)
EVENT = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["fine_tuning.job.event"]},
        "created_at": {"type": "integer"},
        "level": {"type": "string"},
        "message": {"type": "string"},
        "data": nullable({"type": "object"}),
        "type": {"type": "string"},
    },
    required=("id", "object", "created_at", "level", "message"),
)
CHECKPOINT = obj(
    {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["fine_tuning.job.checkpoint"]},
        "created_at": {"type": "integer"},
        "fine_tuning_job_id": {"type": "string"},
        "fine_tuned_model_checkpoint": {"type": "string"},
        "step_number": {"type": "integer"},
        "metrics": {"type": "object"},
    },
    required=("id", "object", "created_at", "fine_tuning_job_id", "step_number"),
)


def page(item: str) -> dict:
    return obj(
        {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": ref(item)},
            "has_more": {"type": "boolean"},
            "first_id": nullable({"type": "string"}),
            "last_id": nullable({"type": "string"}),
        },
        required=("object", "data", "has_more"),
    )


ERROR = obj(
    {
        "error": obj(
            {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": nullable({"type": "string"}),
                "code": nullable({"type": "string"}),
            },
            required=("message", "type", "param", "code"),
        )
    },
    required=("error",),
    description="OpenAI's error shape.",
)
