"""Proof that a processed folder works: load it on the CPU in float32 and generate a few tokens;
for a version served in another precision, measure that against float32 on the same load."""

import time
from pathlib import Path

from config.model_loading import causal_lm_from_pretrained
from inference.chat_templates import ChatTemplateError
from inference.tokenization import chat_text
from store.publishing.precision_check import precision_check
from store.publishing.validation import UploadRefused

PROMPT = "Hello! In one sentence, what can you do?"
NEW_TOKENS = 8


def smoke_test(folder: Path, *, chat: bool, precision: str = "float32") -> dict:
    """Returns the sample (prompt, text, timings) and the parameter count, and for a
    ``precision`` other than float32 what serving in it changes (``precision``); refuses a
    model that does not load, lacks weights its config needs, or cannot generate."""
    # Imported here: the web process imports this module and must not load torch.
    import torch
    from transformers import AutoTokenizer

    started = time.monotonic()
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:
        raise UploadRefused(f"The tokenizer cannot be loaded: {_short(exc)}") from exc
    try:
        model, info = causal_lm_from_pretrained(
            folder, dtype=torch.float32, output_loading_info=True
        )
    except Exception as exc:
        raise UploadRefused(f"The model cannot be loaded: {_short(exc)}") from exc
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise UploadRefused(
            f"The weights do not match the config: {len(missing)} tensors are missing (e.g. {sorted(missing)[0]})."
        )
    model.eval()
    loaded = time.monotonic()
    chat_prompt = None
    if chat:
        # Within the bounds every chat request renders it in (inference/chat_templates.py).
        try:
            chat_prompt = chat_text(tokenizer, [{"role": "user", "content": PROMPT}])
        except ChatTemplateError as exc:
            raise UploadRefused(f"The chat template {exc}.") from exc
    try:
        if chat_prompt is not None:
            inputs = tokenizer(chat_prompt, add_special_tokens=False, return_tensors="pt")
        else:
            inputs = tokenizer(PROMPT, return_tensors="pt")
        prompt_length = inputs["input_ids"].shape[1]
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        with torch.inference_mode():
            output = model.generate(
                **inputs, max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=pad
            )
    except Exception as exc:
        raise UploadRefused(f"The model loads but cannot generate text: {_short(exc)}") from exc
    new_tokens = output[0][prompt_length:]
    result = {
        "parameter_count": sum(p.numel() for p in model.parameters()),
        "sample": {
            "prompt": PROMPT,
            "chat_template_used": chat,
            "text": tokenizer.decode(new_tokens, skip_special_tokens=True),
            "new_tokens": int(new_tokens.shape[0]),
            "load_seconds": round(loaded - started, 2),
            "generate_seconds": round(time.monotonic() - loaded, 2),
        },
    }
    if precision != "float32":
        result["precision"] = precision_check(model, tokenizer, precision=precision, chat=chat)
    return result


def _short(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
