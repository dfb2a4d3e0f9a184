"""Tiny models built on the fly, for tests across the suite (publishing, inference, ...).

Each builder writes a complete Hugging Face model folder (config.json, tokenizer files,
model.safetensors) or a GGUF file in well under a second. Weights are random: the models
produce nonsense, but real transformers code loads and runs them.

    folder = build_llama_folder(tmp_path / "m")          # LlamaForCausalLM, chat template
    folder = build_gpt2_folder(tmp_path / "g")           # GPT2LMHeadModel, no chat template
    path = build_llama_gguf(tmp_path / "tiny.gguf")      # GGUF (F32) of a tiny llama
"""

from functools import lru_cache
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
TRAINING_TEXT = (
    "The quick brown fox jumps over the lazy dog. A small model answers short questions. "
    "Hello! How are you today? I am a tiny test model and I know very little. "
    "Stores sell models; publishers upload weights; curators review listings. "
) * 20


@lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([TRAINING_TEXT], trainer=trainer)
    return tokenizer.to_str()


def build_tokenizer(*, chat_template: bool = True):
    """A byte-level BPE tokenizer (~320 tokens) as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
        bos_token="<|endoftext|>",
        eos_token="<|end|>" if chat_template else "<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _save(model, tokenizer, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def build_llama_folder(
    folder: Path, *, layers: int = 2, hidden: int = 32, chat_template: bool = True
) -> Path:
    """A LlamaForCausalLM of a few thousand parameters, saved with its tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = build_tokenizer(chat_template=chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return _save(LlamaForCausalLM(config), tokenizer, folder)


def build_gpt2_folder(
    folder: Path, *, layers: int = 2, hidden: int = 32, chat_template: bool = False
) -> Path:
    """A GPT2LMHeadModel with a byte-level BPE tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(chat_template=chat_template)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=hidden,
        n_layer=layers,
        n_head=4,
        n_positions=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(GPT2LMHeadModel(config), tokenizer, folder)


def build_bert_folder(folder: Path) -> Path:
    """An encoder (BertModel): a config transformers cannot generate text with."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(chat_template=False)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    return _save(BertModel(config), tokenizer, folder)


def build_llama_gguf(path: Path, *, layers: int = 2, hidden: int = 32) -> Path:
    """A GGUF file (F32 tensors, byte-level BPE tokenizer, chat template) of a tiny llama.

    Written with the gguf package's GGUFWriter under llama.cpp's tensor and metadata names,
    as transformers reads them back with from_pretrained(..., gguf_file=...).
    """
    import json

    import gguf
    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer_spec = json.loads(_tokenizer_json())
    vocab: dict[str, int] = tokenizer_spec["model"]["vocab"]
    for added in tokenizer_spec["added_tokens"]:
        vocab[added["content"]] = added["id"]
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer_spec["model"]["merges"]]
    heads, kv_heads = 4, 2
    config = LlamaConfig(
        vocab_size=len(tokens), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=256,
        tie_word_embeddings=False,
    )  # fmt: skip
    state = {
        k: v.detach().float().numpy() for k, v in LlamaForCausalLM(config).state_dict().items()
    }

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-llama-test")
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(hidden * 2)
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
    writer.add_bos_token_id(vocab["<|endoftext|>"])
    writer.add_eos_token_id(vocab["<|end|>"])
    writer.add_pad_token_id(vocab["<|endoftext|>"])
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
