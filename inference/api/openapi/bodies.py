"""Request bodies of /v1 in OpenAPI 3.0: the fields and bounds that inference/api/validation.py
and the fine-tuning services (inference/training/services.py) accept, from their constants."""

from inference.api import validation
from inference.api.openapi.schema_objects import integer, nullable, number, obj
from inference.training import services as training

IGNORED = "Accepted for compatibility with OpenAI's clients; it changes nothing here."
TOKEN_IDS = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "integer", "minimum": 0, "maximum": validation.MAX_TOKEN_ID},
}


def _common_fields() -> dict:
    """The fields both completion endpoints accept (validation.COMMON_FIELDS) and the Hugging
    Face aliases (validation.ALIASES)."""
    max_tokens = integer(
        1,
        description="The most tokens to generate per choice. Prompt + max_tokens must fit the "
        "model's context length (400 context_length_exceeded otherwise). Default: the rest "
        "of the context, at most the store's default.",
    )
    n = integer(1, validation.MAX_N, "How many choices to generate.")
    return {
        "model": {
            "type": "string",
            "pattern": r"\S",
            "description": "A model id from GET /v1/models: `publisher/listing`, "
            "`publisher/listing@vN`, a fine-tuned `ft:…` or a GPT's `gpt:…` id.",
        },
        "max_tokens": max_tokens,
        "n": n,
        "temperature": number(
            validation.TEMPERATURE, "0 answers greedily. Default 1 (a GPT may set its own)."
        ),
        "top_p": number(validation.TOP_P, "Nucleus sampling. Default 1."),
        "presence_penalty": number(validation.PENALTY, "Default 0."),
        "frequency_penalty": number(validation.PENALTY, "Default 0."),
        "stop": nullable(
            {
                "description": f"Up to {validation.MAX_STOP} strings that end a choice "
                "(not included in the answer).",
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "array",
                        "maxItems": validation.MAX_STOP,
                        "items": {"type": "string"},
                    },
                ],
            }
        ),
        "seed": integer(
            validation.SEED[0],
            validation.SEED[1],
            "Sampling with the same seed and parameters repeats its answer.",
        ),
        "stream": nullable(
            {
                "type": "boolean",
                "description": "true: Server-Sent Events (text/event-stream), ending with "
                "`data: [DONE]`.",
            }
        ),
        "stream_options": nullable(
            obj(
                {"include_usage": {"type": "boolean"}},
                description="Only with stream=true (400 otherwise): include_usage adds a "
                "last chunk with the usage.",
            )
        ),
        "logit_bias": nullable(
            {
                "type": "object",
                "description": "Token id (a decimal string, at most "
                f"{validation.MAX_TOKEN_ID} and inside the model's vocabulary) to a bias "
                f"added to its logit. At most {validation.MAX_LOGIT_BIAS} tokens.",
                "maxProperties": validation.MAX_LOGIT_BIAS,
                "additionalProperties": number(validation.BIAS, "The bias."),
            }
        ),
        "user": {"description": IGNORED},
        "best_of": integer(
            1,
            validation.MAX_N,
            "Not supported: only 1 or the value of `n` is accepted (ask for `n` choices).",
        ),
        "echo": nullable(
            {"type": "boolean", "enum": [False], "description": "Not supported: only false."}
        ),
        "suffix": nullable(
            {"type": "string", "maxLength": 0, "description": "Insertion is not supported."}
        ),
        "num_return_sequences": {**n, "description": "Hugging Face's name of `n`."},
        "max_new_tokens": {**max_tokens, "description": "Hugging Face's name of `max_tokens`."},
    }


def chat_request() -> dict:
    text_part = obj(
        {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
        required=("type", "text"),
    )
    message = obj(
        {
            "role": {"type": "string", "enum": sorted(validation.ROLES)},
            "content": nullable(
                {"oneOf": [{"type": "string"}, {"type": "array", "items": text_part}]}
            ),
        },
        required=("role",),
        description="Other keys of OpenAI's message objects are accepted and ignored.",
    )
    not_supported = "Not supported here: refused unless empty."
    ignored = {
        name: {"description": IGNORED}
        for name in (
            "audio", "function_call", "metadata", "modalities", "parallel_tool_calls",
            "prediction", "prompt_cache_key", "reasoning_effort", "safety_identifier",
            "service_tier", "store", "tool_choice", "verbosity", "web_search_options",
        )
    }  # fmt: skip
    return obj(
        {
            **_common_fields(),
            "messages": {"type": "array", "minItems": 1, "items": message},
            "max_completion_tokens": integer(1, description="Wins over max_tokens."),
            "logprobs": nullable({"type": "boolean"}),
            "top_logprobs": integer(
                0, validation.MAX_TOP_LOGPROBS, "Alternatives per token; needs logprobs=true."
            ),
            "response_format": nullable(
                obj(
                    {"type": {"type": "string", "enum": ["text"]}},
                    description="Only the text format is served.",
                )
            ),
            "tools": nullable({"type": "array", "maxItems": 0, "description": not_supported}),
            "functions": nullable({"type": "array", "maxItems": 0, "description": not_supported}),
            **ignored,
        },
        required=("model", "messages"),
        additionalProperties=False,
        description="Any other field is refused by name (400 unknown_parameter).",
    )


def completion_request() -> dict:
    return obj(
        {
            **_common_fields(),
            "prompt": {
                "description": "A string or token ids; one prompt per request (a list of "
                "prompts must hold exactly one).",
                "oneOf": [
                    {"type": "string"},
                    TOKEN_IDS,
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {"oneOf": [{"type": "string"}, TOKEN_IDS]},
                    },
                ],
            },
            "logprobs": integer(
                0, validation.MAX_TEXT_LOGPROBS, "Log probabilities with this many alternatives."
            ),
        },
        required=("model", "prompt"),
        additionalProperties=False,
        description="Any other field is refused by name (400 unknown_parameter).",
    )


def _hyperparameters() -> dict:
    def auto_or(schema: dict) -> dict:
        return {"oneOf": [{"type": "string", "enum": ["auto"]}, schema]}

    return nullable(
        obj(
            {
                "n_epochs": auto_or(
                    {"type": "integer", "minimum": 1, "maximum": training.MAX_EPOCHS}
                ),
                "batch_size": auto_or(
                    {"type": "integer", "minimum": 1, "maximum": training.MAX_BATCH_SIZE}
                ),
                "learning_rate_multiplier": auto_or(
                    {
                        "type": "number",
                        "minimum": training.MIN_LR_MULTIPLIER,
                        "maximum": training.MAX_LR_MULTIPLIER,
                    }
                ),
            },
            description="Omitted or auto: 3 epochs, a batch of a tenth of the examples "
            "(1 to 8), the base learning rate.",
        )
    )


def job_request() -> dict:
    return obj(
        {
            "model": {"type": "string", "description": "The base model's id."},
            "training_file": {"type": "string", "description": "A file id (purpose fine-tune)."},
            "validation_file": nullable({"type": "string"}),
            "hyperparameters": _hyperparameters(),
            "method": nullable(
                obj(
                    {
                        "type": {"type": "string", "enum": ["supervised"]},
                        "supervised": nullable(obj({"hyperparameters": _hyperparameters()})),
                    },
                    description="OpenAI's newer form of `hyperparameters` (used when "
                    "`hyperparameters` is absent); only supervised fine-tuning.",
                )
            ),
            "suffix": nullable(
                {
                    "type": "string",
                    "anyOf": [{"pattern": training.SUFFIX.pattern}, {"maxLength": 0}],
                    "description": "Up to 40 letters, digits, '-' or '_': part of the "
                    "fine-tuned model's id.",
                }
            ),
            "seed": integer(0, training.MAX_SEED),
        },
        required=("model", "training_file"),
        description="Other fields of OpenAI's body (integrations, metadata) are ignored.",
    )


def file_upload() -> dict:
    return obj(
        {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "JSONL: chat (`messages`) or prompt/completion lines.",
            },
            "purpose": {"type": "string", "enum": ["fine-tune"]},
        },
        required=("file", "purpose"),
    )
