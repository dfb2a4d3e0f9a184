"""Training data: OpenAI's JSONL formats, checked line by line, and turned into token ids.

Two formats, one per file: chat ({"messages": [{"role", "content"}, ...]}, with an optional
"weight": 0 on an assistant message to leave it out of the loss) and prompt/completion
({"prompt", "completion"}). Every bad line is reported with its 1-based line number.

Examples are rendered exactly as the API renders a request to the same model (the chat
template, or the plain role-prefixed fallback: inference/tokenization.py), so that the model
learns to answer the prompts it will be sent. Only the answer's tokens (the assistant's
turns, the completion) carry labels; the rest is context (label -100).
"""

import json
from dataclasses import dataclass

from config.api_errors import ApplicationError
from inference.tokenization import chat_prompt_ids, chat_text, text_prompt_ids, tokenizer_for

ROLES = {"system", "developer", "user", "assistant"}
MIN_EXAMPLES = 10
MAX_REPORTED_LINES = 50
IGNORE = -100


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


@dataclass(frozen=True)
class ParsedFile:
    format: str  # "chat" | "completion"
    examples: list[dict]
    lines: list[int]  # the line number of each example


class InvalidTrainingData(ApplicationError):
    """Bad lines (each with its number), or a file that cannot be trained on."""

    def __init__(self, errors: list[LineError], *, code: str, field: str, summary: str = ""):
        shown = "; ".join(f"line {e.line}: {e.message}" for e in errors[:MAX_REPORTED_LINES])
        more = len(errors) - MAX_REPORTED_LINES
        message = summary or f"{len(errors)} bad line{'s' if len(errors) != 1 else ''}: {shown}"
        if more > 0:
            message += f" (and {more} more)"
        super().__init__(message, code=code, field=field)
        self.errors = errors


def _text(value) -> str | None:
    """A message's content: a string, or OpenAI's list of text parts; None when neither."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(part, dict) and isinstance(part.get("text"), str) for part in value
    ):
        return "".join(part["text"] for part in value)
    return None


def _chat_problem(record: dict) -> str | None:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return '"messages" must be a non-empty list'
    assistants = 0
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"message {index + 1} is not an object"
        role = message.get("role")
        if role not in ROLES:
            return f"message {index + 1} has role {role!r}; expected one of " + ", ".join(
                sorted(ROLES)
            )
        content = _text(message.get("content"))
        if content is None:
            return f"message {index + 1} has no text content"
        if not content.strip():
            return f"message {index + 1} ({role}) is empty"
        if "weight" in message and message["weight"] not in (0, 1):
            return f"message {index + 1} has weight {message['weight']!r}; expected 0 or 1"
        if role == "assistant":
            assistants += 1
    if not assistants:
        return "no assistant message to learn from"
    return None


def _completion_problem(record: dict) -> str | None:
    prompt, completion = record.get("prompt"), record.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        return '"prompt" and "completion" must both be strings'
    if not completion.strip():
        return '"completion" is empty'
    return None


def training_file_parse(content: bytes, *, field: str = "file") -> ParsedFile:
    """The file's examples, or InvalidTrainingData listing every bad line: not UTF-8, not
    JSON, not an object, empty, wrong roles, no assistant message, a format other than the
    first line's."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTrainingData(
            [], code="invalid_file_format", field=field, summary=f"The file is not UTF-8: {exc}."
        ) from None
    errors: list[LineError] = []
    examples: list[dict] = []
    numbers: list[int] = []
    file_format = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the last line's newline
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            errors.append(LineError(number, "empty line"))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            errors.append(LineError(number, "not a JSON object"))
            continue
        kind = "chat" if "messages" in record else "completion" if "prompt" in record else None
        if kind is None:
            errors.append(LineError(number, 'expected "messages", or "prompt" and "completion"'))
            continue
        if file_format is None:
            file_format = kind
        elif kind != file_format:
            errors.append(
                LineError(number, f"a {kind} example in a file of {file_format} examples")
            )
            continue
        problem = _chat_problem(record) if kind == "chat" else _completion_problem(record)
        if problem:
            errors.append(LineError(number, problem))
            continue
        examples.append(record)
        numbers.append(number)
    if errors:
        raise InvalidTrainingData(errors, code="invalid_file_format", field=field)
    if not examples:
        raise InvalidTrainingData(
            [], code="invalid_file_format", field=field, summary="The file has no examples."
        )
    return ParsedFile(format=file_format, examples=examples, lines=numbers)


def enough_examples(parsed: ParsedFile, *, field: str) -> None:
    if len(parsed.examples) < MIN_EXAMPLES:
        raise InvalidTrainingData(
            [],
            code="invalid_training_file",
            field=field,
            summary=f"The training file has {len(parsed.examples)} examples; fine-tuning needs "
            f"at least {MIN_EXAMPLES}.",
        )


# --- tokens ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE where the token is context, not answer


def _plain(messages: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": _text(m.get("content")) or ""} for m in messages]


def _answer_ids(tokenizer, *, prompt_text: str | None, full_text: str | None, content: str):
    """The tokens of one answer turn: what the template writes after the generation prompt
    (content and end-of-turn marker), ending with EOS so that the model learns to stop."""
    if prompt_text is not None and full_text is not None and full_text.startswith(prompt_text):
        answer = full_text[len(prompt_text) :]
    else:
        answer = " " + content if prompt_text is None else content
    ids = list(tokenizer(answer, add_special_tokens=False)["input_ids"])
    eos = tokenizer.eos_token_id
    if eos is not None and eos not in ids:
        ids.append(eos)
    return ids


def _encode_chat(record: dict, *, storage_path: str, tokenizer) -> EncodedExample:
    messages = _plain(record["messages"])
    templated = bool(getattr(tokenizer, "chat_template", None))
    input_ids: list[int] = []
    labels: list[int] = []
    for index, message in enumerate(record["messages"]):
        if message["role"] != "assistant":
            continue
        # The prompt the API would send for the conversation so far.
        prompt = chat_prompt_ids(storage_path=storage_path, messages=messages[:index])
        if prompt[: len(input_ids)] == input_ids:
            context = prompt[len(input_ids) :]
            input_ids += context
            labels += [IGNORE] * len(context)
        else:  # a template that rewrites earlier turns: start over from its rendering
            input_ids, labels = list(prompt), [IGNORE] * len(prompt)
        if templated:
            plain = [
                {**m, "role": "system" if m["role"] == "developer" else m["role"]}
                for m in messages[: index + 1]
            ]
            prompt_text = chat_text(tokenizer, plain[:-1])
            full_text = chat_text(tokenizer, plain, add_generation_prompt=False)
        else:
            prompt_text = full_text = None
        answer = _answer_ids(
            tokenizer,
            prompt_text=prompt_text,
            full_text=full_text,
            content=messages[index]["content"],
        )
        input_ids += answer
        learn = message.get("weight", 1) != 0
        labels += answer if learn else [IGNORE] * len(answer)
    return EncodedExample(input_ids=input_ids, labels=labels)


def _encode_completion(record: dict, *, storage_path: str, tokenizer) -> EncodedExample:
    prompt = text_prompt_ids(storage_path=storage_path, prompt=record["prompt"])
    answer = list(tokenizer(record["completion"], add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        answer.append(tokenizer.eos_token_id)
    return EncodedExample(input_ids=prompt + answer, labels=[IGNORE] * len(prompt) + answer)


def examples_encode(
    parsed: ParsedFile, *, storage_path: str, context_length: int, field: str
) -> list[EncodedExample]:
    """Token ids and labels of every example with the base model's tokenizer, or
    InvalidTrainingData naming each example over the model's context length."""
    tokenizer = tokenizer_for(storage_path=storage_path)
    encode = _encode_chat if parsed.format == "chat" else _encode_completion
    encoded: list[EncodedExample] = []
    errors: list[LineError] = []
    for record, line in zip(parsed.examples, parsed.lines, strict=True):
        example = encode(record, storage_path=storage_path, tokenizer=tokenizer)
        if len(example.input_ids) > context_length:
            errors.append(
                LineError(
                    line,
                    f"{len(example.input_ids)} tokens, over the model's context length of "
                    f"{context_length}",
                )
            )
        encoded.append(example)
    if errors:
        code = "invalid_training_file" if field == "training_file" else "invalid_validation_file"
        raise InvalidTrainingData(errors, code=code, field=field)
    return encoded
