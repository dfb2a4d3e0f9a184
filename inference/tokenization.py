"""Web-side tokenization: the prompt is tokenized here so that quota holds and context checks
use exact counts before anything is sent to a worker.

Tokenizers are loaded from the version folder (MEDIA_ROOT/<storage_path>, local files only)
and kept in a small per-process LRU: loading one takes tens of milliseconds, a lookup none.
"""

import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from config.api_errors import ApplicationError
from inference import chat_templates

CACHE_SIZE = 16
_cache: OrderedDict[str, object] = OrderedDict()
_lock = threading.Lock()
# Loads one at a time: transformers' lazy first import is not thread-safe (a burst of first
# requests got ImportError for AutoTokenizer), and a burst for one model loads it once.
_load_lock = threading.Lock()


def _cached(storage_path: str):
    with _lock:
        tokenizer = _cache.get(storage_path)
        if tokenizer is not None:
            _cache.move_to_end(storage_path)
        return tokenizer


def tokenizer_for(*, storage_path: str):
    """The tokenizer of a model folder, loaded once per process."""
    tokenizer = _cached(storage_path)
    if tokenizer is not None:
        return tokenizer
    with _load_lock:
        tokenizer = _cached(storage_path)
        if tokenizer is not None:
            return tokenizer
        # Imported at the first load: a web process starts without transformers (seconds).
        from transformers import AutoTokenizer

        folder = Path(settings.MEDIA_ROOT) / storage_path
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
        with _lock:
            _cache[storage_path] = tokenizer
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return tokenizer


def message_text(content) -> str:
    """A message's text: a string, or OpenAI's list of content parts (text parts only)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def plain_chat_text(messages: list[dict]) -> str:
    """The fallback format for models without a chat template: role-prefixed lines."""
    lines = [f"{message['role']}: {message_text(message.get('content'))}" for message in messages]
    return "\n".join(lines) + "\nassistant:"


def chat_text(tokenizer, messages: list[dict], *, add_generation_prompt: bool = True) -> str:
    """``messages`` through the tokenizer's chat template, as ``apply_chat_template`` writes
    them (the same renderer and variables), within the bounds of inference/chat_templates.py.
    Raises ChatTemplateError."""
    return chat_templates.render(
        template=tokenizer.get_chat_template(),
        messages=messages,
        variables={**tokenizer.special_tokens_map, "add_generation_prompt": add_generation_prompt},
    )


def chat_prompt_ids(*, storage_path: str, messages: list[dict]) -> list[int]:
    """The prompt's token ids; a template that refuses the messages or goes past its bounds
    is a 400 on ``messages``."""
    tokenizer = tokenizer_for(storage_path=storage_path)
    # OpenAI's newer "developer" role is what chat templates know as "system".
    plain = [
        {
            "role": "system" if m["role"] == "developer" else m["role"],
            "content": message_text(m.get("content")),
        }
        for m in messages
    ]
    if getattr(tokenizer, "chat_template", None):
        try:
            text = chat_text(tokenizer, plain)
        except chat_templates.ChatTemplateError as exc:
            if exc.bounds:
                raise ApplicationError(
                    f"This model's chat template {exc}, so it cannot answer these messages.",
                    code="chat_template_failed",
                    field="messages",
                ) from exc
            raise ApplicationError(
                f"This model's chat template refused the messages: {exc}",
                code="chat_template_refused",
                field="messages",
            ) from exc
        # The template writes the special tokens (BOS, role markers) itself.
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(plain_chat_text(plain))["input_ids"])


def text_prompt_ids(*, storage_path: str, prompt: str) -> list[int]:
    tokenizer = tokenizer_for(storage_path=storage_path)
    ids = list(tokenizer(prompt)["input_ids"])
    if not ids and tokenizer.bos_token_id is not None:
        # Nothing to continue: start from the beginning-of-text token, as generate() does.
        ids = [tokenizer.bos_token_id]
    return ids
