"""Tiny models built on the fly, for every test that needs real weights.

One byte-level BPE tokenizer, trained once per process on a few sentences; around it a
GPT-2, Llama or BERT saved as a Hugging Face folder (config.json, tokenizer files,
model.safetensors), or a Llama as a GGUF file. Weights are random and seeded: the models
write nonsense, but real transformers code loads and runs them, and the engine's tests
compare its numbers with transformers' own.

    folder = build_model_folder(tmp_path / "m", kind="llama", chat_template=True)
    folder = build_model_folder(tmp_path / "g", kind="gpt2", seed=3, context=4096)
    path = build_llama_gguf(tmp_path / "tiny.gguf")
"""

import json
from functools import lru_cache
from pathlib import Path

TEXT_END = "<|endoftext|>"  # bos, pad, and eos of plain text
TURN_END = "<|end|>"  # eos of a model with the chat template: it ends every turn
# The role markers (<|user|>, ...) stay plain text: a chat prompt ends in ordinary tokens.
SPECIAL_TOKENS = [TEXT_END, TURN_END]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
VOCAB_SIZE = 320  # the 256 bytes, the special tokens and a few dozen merges
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time there was a small model that answered questions.",
    "Hello world! How are you today? I am fine, thank you.",
    "Café, naïve, déjà vu — unicode text with accents and emoji 🙂🚀.",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000.",
    "A language model predicts the next token of a text.",
    "Paris is the capital of France. Berlin is the capital of Germany.",
    "Stores sell models; publishers upload weights; curators review listings.",
] * 20
# A wider init than transformers' default (0.02) spreads the logits, so that argmax ties do
# not happen.
INITIALIZER_RANGE = 0.2


@lru_cache
def _tokenizer_json(vocab_size: int) -> str:
    from store.demo.toy_model import train_byte_level_bpe

    return train_byte_level_bpe(
        CORPUS, vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS
    ).to_str()


def build_tokenizer(*, chat_template: bool = False, vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE PreTrainedTokenizerFast of ``vocab_size`` tokens. bos and pad are
    <|endoftext|>; eos is <|end|> with the chat template, <|endoftext|> without."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json(vocab_size)),
        bos_token=TEXT_END,
        eos_token=TURN_END if chat_template else TEXT_END,
        pad_token=TEXT_END,
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model_folder(
    folder: Path,
    *,
    kind: str = "gpt2",
    chat_template: bool = False,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate: int | None = None,
    context: int = 256,
    vocab_size: int = VOCAB_SIZE,
    initializer_range: float = INITIALIZER_RANGE,
    seed: int = 0,
) -> Path:
    """Writes a loadable model folder of ``kind`` (gpt2, llama: causal LMs; bert: an encoder
    transformers cannot generate text with) at ``folder`` and returns it."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, BertConfig, GPT2Config

    folder = Path(folder)
    tokenizer = build_tokenizer(chat_template=chat_template, vocab_size=vocab_size)
    tokens = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "initializer_range": initializer_range,
    }
    intermediate = intermediate or 2 * hidden
    if kind == "gpt2":
        config = GPT2Config(
            n_positions=context, n_embd=hidden, n_layer=layers, n_head=heads, **tokens
        )
    elif kind == "llama":
        config = _llama_config(
            layers=layers,
            hidden=hidden,
            heads=heads,
            kv_heads=kv_heads,
            intermediate=intermediate,
            context=context,
            **tokens,
        )
    elif kind == "bert":
        config = BertConfig(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=intermediate,
            max_position_embeddings=context,
            **tokens,
        )
    else:
        raise ValueError(f"Unknown kind {kind!r}")
    torch.manual_seed(seed)
    model = (AutoModel if kind == "bert" else AutoModelForCausalLM).from_config(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def _llama_config(*, layers, hidden, heads, kv_heads, intermediate, context, **tokens):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=context,
        tie_word_embeddings=False,
        **tokens,
    )


def build_llama_gguf(
    path: Path, *, layers: int = 2, hidden: int = 64, context: int = 256, seed: int = 0
) -> Path:
    """A GGUF file (F32 tensors, the tokenizer above, the chat template) of a tiny llama.

    Written with the gguf package's GGUFWriter under llama.cpp's tensor and metadata names,
    as transformers reads them back with from_pretrained(..., gguf_file=...).
    """
    import gguf
    import numpy as np
    import torch
    from transformers import LlamaForCausalLM

    spec = json.loads(_tokenizer_json(VOCAB_SIZE))
    vocab: dict[str, int] = spec["model"]["vocab"]
    for added in spec["added_tokens"]:
        vocab[added["content"]] = added["id"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    heads, kv_heads = 4, 2
    config = _llama_config(
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        intermediate=2 * hidden,
        context=context,
        vocab_size=len(tokens),
        initializer_range=INITIALIZER_RANGE,
    )
    torch.manual_seed(seed)
    state = {
        k: v.detach().float().numpy() for k, v in LlamaForCausalLM(config).state_dict().items()
    }

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama-test")
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(2 * hidden)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.add_token_types([3 if t in SPECIAL_TOKENS else 1 for t in tokens])
    writer.add_bos_token_id(vocab[TEXT_END])
    writer.add_eos_token_id(vocab[TURN_END])
    writer.add_pad_token_id(vocab[TEXT_END])
    writer.add_chat_template(CHAT_TEMPLATE)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    for layer in range(layers):
        for ours, theirs in per_layer.items():
            names[f"model.layers.{layer}.{ours}"] = f"blk.{layer}.{theirs}"
    for ours, theirs in names.items():
        writer.add_tensor(theirs, np.ascontiguousarray(state[ours], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
