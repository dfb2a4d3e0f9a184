"""Tiny causal language models built on the fly: a trained byte-level BPE tokenizer and a
2-layer GPT-2 or Llama with random weights, saved as a Hugging Face folder (safetensors).

Random weights are enough for the engine's tests: what matters is that the engine
computes exactly what transformers computes, not that the text makes sense.
"""

from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, PreTrainedTokenizerFast

EOS = "<|endoftext|>"
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time there was a small model that answered questions.",
    "Hello world! How are you today? I am fine, thank you.",
    "Café, naïve, déjà vu — unicode text with accents and emoji 🙂🚀.",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.",
] * 20


def build_tokenizer(path: Path, *, vocab_size: int = 384) -> PreTrainedTokenizerFast:
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        CORPUS, vocab_size=vocab_size, min_frequency=1, special_tokens=[EOS]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trainer._tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS
    )
    tokenizer.save_pretrained(str(path))
    return tokenizer


def build_model(path: Path, *, kind: str = "gpt2", seed: int = 0, context: int = 256) -> Path:
    """Writes a loadable model folder at ``path`` and returns it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(path)
    common = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.eos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        # A wider init than the default spreads the logits, so argmax ties do not happen.
        "initializer_range": 0.2,
    }
    if kind == "gpt2":
        config = GPT2Config(n_positions=context, n_embd=64, n_layer=2, n_head=4, **common)
    elif kind == "llama":
        config = LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=context,
            **common,
        )
    else:
        raise ValueError(f"Unknown kind {kind!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    model.save_pretrained(str(path))
    return path
