"""Pocket Parrot: a 4-layer GPT-2 trained for about a minute on the text in corpus/.

It exists so that the demo catalog has a model the project built end to end (tokenizer,
weights, chat template) with nothing downloaded. It writes simple, often wrong sentences.
"""

import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
SPECIAL_TOKENS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CONTEXT = 256
SEQUENCE = 64
BATCH = 8
LEARNING_RATE = 1e-2
WARMUP_STEPS = 20


def corpus_text() -> str:
    return "\n".join(path.read_text() for path in sorted(CORPUS_DIR.glob("*.txt")))


def train_byte_level_bpe(
    texts: list[str], *, vocab_size: int, special_tokens: list[str]
) -> Tokenizer:
    """A byte-level BPE tokenizer (every byte a token, no space added in front) trained on
    ``texts``: what GPT-2-style models use, built here without downloading one."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return backend


def build_tokenizer(text: str, *, vocab_size: int = 1024):
    backend = train_byte_level_bpe([text], vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = CONTEXT
    return tokenizer


def build_toy_model(output_dir: Path, *, train_seconds: float = 60.0, seed: int = 1234) -> dict:
    """Trains the tokenizer and the model, saves a complete model folder; returns training stats."""
    torch.manual_seed(seed)
    text = corpus_text()
    tokenizer = build_tokenizer(text)
    ids = torch.tensor(tokenizer.backend_tokenizer.encode(text).ids, dtype=torch.long)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=CONTEXT,
        n_embd=128,
        n_layer=4,
        n_head=4,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(config)
    # One thread: on a busy 2-core machine, two threads fight each other and the web server.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    model.train()
    started, steps, loss_value = time.monotonic(), 0, float("nan")
    generator = torch.Generator().manual_seed(seed)
    while time.monotonic() - started < train_seconds or steps == 0:
        starts = torch.randint(0, len(ids) - SEQUENCE - 1, (BATCH,), generator=generator)
        batch = torch.stack([ids[s : s + SEQUENCE] for s in starts.tolist()])
        # Short warm-up, then a linear decay over the time budget: a minute is a few hundred steps.
        elapsed = (time.monotonic() - started) / max(train_seconds, 1e-6)
        scale = min(1.0, (steps + 1) / WARMUP_STEPS) * max(0.05, 1.0 - elapsed)
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * scale
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += 1
        loss_value = float(loss.detach())
    torch.set_num_threads(threads)
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)
    return {
        "steps": steps,
        "final_loss": round(loss_value, 3),
        "seconds": round(time.monotonic() - started, 1),
        "corpus_tokens": int(len(ids)),
    }
