"""GGUF → a plain safetensors model folder, done once per version so that workers load fast."""

from pathlib import Path

from config.model_loading import causal_lm_from_pretrained
from store.publishing.validation import UploadRefused, check_parameter_count


def gguf_parameter_count(gguf_path: Path) -> int:
    """The number of weights a GGUF file holds, read from its tensor index (no dequantizing)."""
    # gguf, torch and transformers are imported in the functions: the web process imports
    # this module (through the publishing services) and must not load them.
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(gguf_path))
        return int(sum(int(tensor.n_elements) for tensor in reader.tensors))
    except Exception as exc:  # a truncated or foreign file fails in many ways inside the reader
        raise UploadRefused(f"The GGUF file cannot be converted: {_short(exc)}") from exc


def gguf_to_safetensors(*, gguf_path: Path, output_dir: Path) -> None:
    """Dequantizes a GGUF file into float32 weights and writes config, tokenizer and safetensors.

    transformers keeps a GGUF quantizer attached to the model it loads, and refuses to save
    such a model; the weights are therefore copied into a fresh model built from the same
    config (without quantization_config), which saves as an ordinary checkpoint.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    check_parameter_count(gguf_parameter_count(gguf_path))
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, gguf_file=name, local_files_only=True, trust_remote_code=False
        )
        loaded = causal_lm_from_pretrained(
            folder,
            gguf_file=name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
    except Exception as exc:  # any reader/arch error is the file's fault, reported to the publisher
        raise UploadRefused(f"The GGUF file cannot be converted: {_short(exc)}") from exc
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32, trust_remote_code=False)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    output_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
