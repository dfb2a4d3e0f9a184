"""Request bodies of /v1/chat/completions and /v1/completions, checked the way OpenAI does:
every problem is a 400 naming its ``param``, and so is a field OpenAI does not know (a client
that misspells one, or sends Hugging Face ``generate`` names, would otherwise get another
answer than it asked for). ``num_return_sequences`` and ``max_new_tokens`` are understood
as ``n`` and ``max_tokens``."""

import json
import math
import re

from inference.api.errors import OpenAIError
from inference.services import CompletionParams

ROLES = {"system", "developer", "user", "assistant", "tool"}
MAX_N = 8
MAX_STOP = 4
MAX_LOGIT_BIAS = 300
# Bounds of the numeric fields (also published in the OpenAPI schema: inference/api/openapi/).
TEMPERATURE = (0.0, 2.0)
TOP_P = (0.0, 1.0)
PENALTY = (-2.0, 2.0)
BIAS = (-100.0, 100.0)
SEED = (-(2**63), 2**63 - 1)
MAX_TEXT_LOGPROBS = 5
MAX_TOP_LOGPROBS = 20


def _bad(message: str, param: str | None, code: str | None = None) -> OpenAIError:
    return OpenAIError(message, status=400, param=param, code=code)


def parse_json(body: bytes) -> dict:
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(
            "We could not parse the JSON body of your request. The body must be a JSON object.",
            None,
            "invalid_json",
        ) from exc
    if not isinstance(data, dict):
        raise _bad("The request body must be a JSON object.", None, "invalid_json")
    return data


def _integer(data: dict, name: str, *, low: int, high: int | None = None) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be an integer.", name, "invalid_type")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _bad(f"'{name}' must be {bounds}, got {value}.", name, "invalid_value")
    return value


def _number(
    data: dict,
    name: str,
    *,
    low: float,
    high: float,
    default: float | None,
    param: str | None = None,
) -> float | None:
    """``param`` names the field in errors when ``name`` is a key inside it."""
    value = data.get(name)
    if value is None:
        return default
    label = f"{param}[{name}]" if param else f"'{name}'"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"{label} must be a number.", param or name, "invalid_type")
    if value > high or value < low:
        raise _bad(
            f"{label} must be at least {low} and at most {high}, got {value}.",
            param or name,
            "invalid_value",
        )
    return float(value)


def _logit_bias(data: dict) -> dict[int, float]:
    value = data.get("logit_bias")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(
            "'logit_bias' must be an object of token ids to biases.", "logit_bias", "invalid_type"
        )
    if len(value) > MAX_LOGIT_BIAS:
        raise _bad(
            f"'logit_bias' accepts at most {MAX_LOGIT_BIAS} tokens.", "logit_bias", "invalid_value"
        )
    biases = {}
    for token in value:
        # ASCII digits only: str.isdigit() also takes "²" and any number of digits, which
        # int() refuses.
        if not (
            isinstance(token, str) and TOKEN_ID.fullmatch(token) and int(token) <= MAX_TOKEN_ID
        ):
            raise _bad(
                f"'logit_bias' key {token!r} is not a token id.", "logit_bias", "invalid_value"
            )
        biases[int(token)] = _number(
            value, token, low=BIAS[0], high=BIAS[1], default=0.0, param="logit_bias"
        )
    return biases


def _stop(data: dict) -> list[str]:
    value = data.get("stop")
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad("'stop' must be a string or a list of strings.", "stop", "invalid_type")
    if len(value) > MAX_STOP:
        raise _bad(f"'stop' accepts at most {MAX_STOP} sequences.", "stop", "invalid_value")
    return [item for item in value if item]


def _messages(data: dict) -> list[dict]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty list of messages.", "messages", "invalid_type")
    cleaned = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _bad(
                f"{param} must be an object with 'role' and 'content'.", param, "invalid_type"
            )
        role = message.get("role")
        if role not in ROLES:
            raise _bad(
                f"{param}.role must be one of {', '.join(sorted(ROLES))}.",
                f"{param}.role",
                "invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            if not isinstance(content, list) or not all(
                isinstance(part, dict)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
                for part in content
            ):
                raise _bad(
                    f"{param}.content must be a string or a list of text parts.",
                    f"{param}.content",
                    "invalid_type",
                )
        cleaned.append({"role": role, "content": content})
    return cleaned


# No vocabulary comes near 2^31; past 2^32 the tokenizer's decoder overflows (a 500).
MAX_TOKEN_ID = 2**31 - 1
TOKEN_ID = re.compile(r"[0-9]{1,10}")


def _token_ids(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= MAX_TOKEN_ID for t in value
        )
    )


def _prompt(data: dict) -> str | list[int]:
    """A string, or token ids (a list of integers). OpenAI also takes a list of prompts for
    batching; this API serves one prompt per request, so such a list must hold one."""
    prompt = data.get("prompt")
    if (
        isinstance(prompt, list)
        and len(prompt) == 1
        and (isinstance(prompt[0], str) or _token_ids(prompt[0]))
    ):
        prompt = prompt[0]
    if isinstance(prompt, str) or _token_ids(prompt):
        return prompt
    raise _bad(
        "'prompt' must be a string or a list of token ids (one prompt per request).",
        "prompt",
        "invalid_type",
    )


# OpenAI fields that change the answer and that this API does not serve, with the values that
# ask for nothing (those pass), and what to say.
UNSUPPORTED = {
    "echo": ((None, False), "'echo' is not supported by this store's models."),
    "suffix": ((None, ""), "'suffix' (insertion) is not supported by this store's models."),
    "tools": ((None, []), "Tool calling is not supported by this store's models."),
    "functions": ((None, []), "Function calling is not supported by this store's models."),
}


def _refuse_unsupported(data: dict) -> None:
    """Refused by name rather than ignored: a client asking for one of these would otherwise
    get another answer than it asked for without knowing."""
    for name, (neutral, message) in UNSUPPORTED.items():
        if data.get(name) not in neutral:
            raise _bad(message, name, "unsupported_parameter")
    if data.get("best_of") not in (None, 1, data.get("n", 1)):
        raise _bad(
            "'best_of' is not supported: ask for 'n' choices instead.",
            "best_of",
            "unsupported_parameter",
        )
    response_format = data.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        raise _bad(
            "Only the 'text' response format is supported by this store's models.",
            "response_format",
            "unsupported_parameter",
        )


def _logprobs(data: dict, *, kind: str) -> int | None:
    """None when not asked; else how many alternatives per token. Chat asks with
    logprobs=true (+ top_logprobs 0..20); text completions with logprobs=0..5."""
    if kind == "text":
        return _integer(data, "logprobs", low=0, high=MAX_TEXT_LOGPROBS)
    asked = data.get("logprobs")
    if asked is not None and not isinstance(asked, bool):
        raise _bad("'logprobs' must be a boolean.", "logprobs", "invalid_type")
    top = _integer(data, "top_logprobs", low=0, high=MAX_TOP_LOGPROBS)
    if top is not None and not asked:
        raise _bad("'top_logprobs' needs 'logprobs' set to true.", "top_logprobs", "invalid_value")
    return (top or 0) if asked else None


# Every field of OpenAI's request bodies; the ones this store does not serve are either neutral
# here (user, metadata, store, ...) or refused by name below (UNSUPPORTED).
COMMON_FIELDS = {
    "model", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
    "presence_penalty", "seed", "stop", "stream", "stream_options", "temperature", "top_p",
    "user",
    # Legacy completion fields: refused by name on both endpoints (UNSUPPORTED).
    "best_of", "echo", "suffix",
}  # fmt: skip
KNOWN_FIELDS = {
    "chat": COMMON_FIELDS | {
        "messages", "audio", "function_call", "functions", "max_completion_tokens", "metadata",
        "modalities", "parallel_tool_calls", "prediction", "prompt_cache_key", "reasoning_effort",
        "response_format", "safety_identifier", "service_tier", "store", "tool_choice", "tools",
        "top_logprobs", "verbosity", "web_search_options",
    },
    "text": COMMON_FIELDS | {"prompt"},
}  # fmt: skip
# Hugging Face ``generate`` names that mean the same as OpenAI's.
ALIASES = {"num_return_sequences": "n", "max_new_tokens": "max_tokens"}
HINTS = {
    "max_length": "'max_length' (prompt and answer together) is not an OpenAI parameter: "
    "send 'max_tokens', the most tokens to generate.",
    "do_sample": "'do_sample' is not an OpenAI parameter: send 'temperature' 0 for greedy answers.",
    "top_k": "'top_k' is not supported: use 'top_p'.",
    "repetition_penalty": "'repetition_penalty' is not an OpenAI parameter: use "
    "'frequency_penalty' or 'presence_penalty'.",
}


def _known_fields(data: dict, *, kind: str) -> dict:
    """The body with Hugging Face aliases renamed; 400 ``unknown_parameter`` for any other
    field OpenAI does not know, naming it."""
    data = dict(data)
    for alias, name in ALIASES.items():
        if alias not in data:
            continue
        value = data.pop(alias)
        if name in data and data[name] != value:
            raise _bad(
                f"'{alias}' and '{name}' mean the same and disagree; send only '{name}'.",
                alias,
                "invalid_value",
            )
        data[name] = value
    for name in data:
        if name not in KNOWN_FIELDS[kind]:
            message = HINTS.get(name, f"Unrecognized request argument supplied: {name}")
            raise _bad(message, name, "unknown_parameter")
    return data


def completion_params(data: dict, *, kind: str) -> CompletionParams:
    """Validates a body for kind "chat" (messages) or "text" (prompt)."""
    data = _known_fields(data, kind=kind)
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("You must provide a model parameter.", "model", "invalid_value")
    # Both are checked; max_completion_tokens wins when both are sent (as at OpenAI).
    max_completion_tokens = _integer(data, "max_completion_tokens", low=1)
    legacy_max_tokens = _integer(data, "max_tokens", low=1)
    max_tokens = max_completion_tokens if max_completion_tokens is not None else legacy_max_tokens
    stream = data.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("'stream' must be a boolean.", "stream", "invalid_type")
    options = data.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, dict):
            raise _bad("'stream_options' must be an object.", "stream_options", "invalid_type")
        if not stream:
            raise _bad(
                "'stream_options' is only allowed when 'stream' is true.",
                "stream_options",
                "invalid_value",
            )
        include_usage = bool(options.get("include_usage", False))
    seed = _integer(data, "seed", low=SEED[0], high=SEED[1])
    _refuse_unsupported(data)
    return CompletionParams(
        model=model.strip(),
        kind=kind,
        messages=_messages(data) if kind == "chat" else None,
        prompt=_prompt(data) if kind == "text" else None,
        max_tokens=max_tokens,
        temperature=_number(
            data, "temperature", low=TEMPERATURE[0], high=TEMPERATURE[1], default=None
        ),
        top_p=_number(data, "top_p", low=TOP_P[0], high=TOP_P[1], default=1.0),
        n=_integer(data, "n", low=1, high=MAX_N) or 1,
        stop=_stop(data),
        seed=seed,
        stream=stream,
        include_usage=include_usage,
        presence_penalty=_number(
            data, "presence_penalty", low=PENALTY[0], high=PENALTY[1], default=0.0
        ),
        frequency_penalty=_number(
            data, "frequency_penalty", low=PENALTY[0], high=PENALTY[1], default=0.0
        ),
        logit_bias=_logit_bias(data),
        logprobs=_logprobs(data, kind=kind),
    )
