"""What a model folder says about itself, and whether transformers can run it as a causal LM."""

import json
from dataclasses import dataclass
from pathlib import Path

from store.publishing.validation import UploadRefused


@dataclass
class ModelMetadata:
    architecture: str
    model_type: str
    context_length: int | None
    vocab_size: int | None
    dtype: str
    has_chat_template: bool


def causal_lm_class_names() -> set[str]:
    # transformers is imported in the functions: the web process imports this module
    # (through the publishing services) and must not load it.
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    names: set[str] = set()
    for value in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values():
        names.update(value if isinstance(value, (tuple, list)) else [value])
    return names


def read_metadata(folder: Path) -> ModelMetadata:
    """Reads config.json and the tokenizer config; refuses what is not a causal language model."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UploadRefused("config.json cannot be read as JSON.") from exc
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except Exception as exc:
        model_type = raw.get("model_type", "?") if isinstance(raw, dict) else "?"
        raise UploadRefused(
            f"transformers cannot read this config (model_type {model_type!r}): {str(exc).splitlines()[0][:200]}"
        ) from exc
    declared = list(getattr(config, "architectures", None) or [])
    causal = causal_lm_class_names()
    if declared:
        architecture = declared[0]
        if any(name not in causal for name in declared):
            raise UploadRefused(
                f"{architecture} is not a causal language model transformers can generate text with "
                "(encoders and classifiers are not accepted)."
            )
    else:
        mapped = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(config.model_type)
        if mapped is None:
            raise UploadRefused(
                f"Model type {config.model_type!r} cannot be loaded as a causal language model."
            )
        architecture = mapped if isinstance(mapped, str) else mapped[0]
    context = None
    for attribute in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length"):
        value = getattr(config, attribute, None)
        if isinstance(value, int):
            context = value
            break
    dtype = raw.get("dtype") or raw.get("torch_dtype") or "float32"
    return ModelMetadata(
        architecture=architecture,
        model_type=config.model_type,
        context_length=context,
        vocab_size=getattr(config, "vocab_size", None),
        dtype=str(dtype).replace("torch.", ""),
        has_chat_template=_has_chat_template(folder),
    )


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").exists() or (folder / "chat_template.json").exists():
        return True
    try:
        tokenizer_config = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(tokenizer_config.get("chat_template"))
