"""What serving SmolLM2's linear weights in bfloat16 or int8 changes: quality against float32, and speed.

    .venv/bin/python bench/precision.py [--threads 1] [--max-tokens 64] [--no-write]

The engine alone, the model loaded three times (inference/engine/packing.py: float32; and,
where the CPU multiplies bfloat16 natively, bfloat16 and int8 weights). Measured:

- greedy agreement: the 16 chat prompts of bench/inference.py, answered in one batch by
  each; how many answers are identical, and how many tokens agree before the first
  difference;
- perplexity of each on a held-out text (the first 1,024 tokens of docs/ARCHITECTURE.md,
  written for this project, so in no training set);
- the time of one decode step at 1 and 16 rows (best of 15).

Results go to the "Serving precision" section of docs/BENCHMARKS.md.
"""

import argparse
import importlib.util
import math
import os
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "bench" / "inference.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

HEADING = "## Serving precision"
GENERATED_END = "<!-- bench/precision.py writes the section down to here; notes below are kept -->"


def answers(model, prompt_ids: list[list[int]], max_tokens: int) -> list[list[int]]:
    from inference.engine.scheduler import Scheduler

    scheduler = Scheduler(max_batch_rows=len(prompt_ids))
    requests = [
        scheduler.submit(model=model, prompt_ids=ids, max_tokens=max_tokens, temperature=0)
        for ids in prompt_ids
    ]
    for request in requests:
        request.done.wait()
    return [request.choices[0].token_ids for request in requests]


def perplexity(model, ids: list[int]) -> float:
    import torch
    import torch.nn.functional as F

    tokens = torch.tensor([ids])
    with torch.inference_mode():
        logits = model.model(input_ids=tokens).logits[0, :-1]
    return math.exp(F.cross_entropy(logits.float(), tokens[0, 1:]).item())


def step_ms(model, rows: int, runs: int = 15) -> float:
    """Best time of one decode step of ``rows`` rows after a 40-token prompt."""
    import torch

    from inference.engine.kv_cache import new_cache
    from inference.engine.llama import LaneInput

    runner = model.runner
    with torch.inference_mode():
        ids = torch.randint(100, 1000, (rows, 40), generator=torch.Generator().manual_seed(0))
        mask = torch.ones_like(ids)
        cache = new_cache()
        runner.forward(ids, mask.cumsum(-1) - 1, [LaneInput(cache, mask, rows)])
        tokens, positions, best = ids[:, -1:], torch.full((rows, 1), 40), float("inf")
        for _ in range(runs):
            mask = torch.cat([mask, mask.new_ones((rows, 1))], dim=1)
            started = time.perf_counter()
            runner.forward(tokens, positions, [LaneInput(cache, mask, rows)])
            best = min(best, time.perf_counter() - started)
            positions = positions + 1
    return best * 1000


def agreement(ours: list[list[int]], reference: list[list[int]]) -> tuple[int, float]:
    same = sum(1 for a, b in zip(ours, reference, strict=True) if a == b)
    prefixes = []
    for a, b in zip(ours, reference, strict=True):
        length = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        prefixes.append(min(len(a), len(b)) if length is None else length)
    return same, sum(prefixes) / len(prefixes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from inference.engine.device import configure_torch_threads
    from inference.engine.model_cache import ModelCache

    configure_torch_threads(args.threads)
    model_dir = bench.ensure_model()
    cache = ModelCache(root=model_dir.parent, budget_bytes=2**34)
    models = {
        precision: cache.acquire(model_dir.name, precision)
        for precision in ("float32", "bfloat16", "int8")
    }
    if models["bfloat16"].precision != "bfloat16":
        raise SystemExit("This CPU has no native bfloat16: the store serves float32 here.")
    tokenizer = models["float32"].tokenizer
    prompt_ids = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
        )["input_ids"]
        for prompt in bench.PROMPTS
    ]
    held_out = tokenizer((ROOT / "docs" / "ARCHITECTURE.md").read_text())["input_ids"][:1024]
    results = {}
    for precision, model in models.items():
        print(f"{precision}…", flush=True)
        results[precision] = {
            "answers": answers(model, prompt_ids, args.max_tokens),
            "perplexity": perplexity(model, held_out),
            "step_1": step_ms(model, 1),
            "step_16": step_ms(model, 16),
            "mbytes": model.nbytes / 1e6,
        }
        print({k: v for k, v in results[precision].items() if k != "answers"}, flush=True)
    full = results["float32"]
    lines = [
        HEADING,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/precision.py` on "
        f"{bench.machine()}; the engine alone, {args.threads} torch thread(s), SmolLM2-135M-Instruct "
        "with its linear weights packed in float32, in bfloat16, or as int8 with a scale per "
        "row (inputs rounded to bfloat16 for each product, sums in float32; embeddings, norms, "
        "attention and KV cache in float32).",
        "",
        "| linear weights | held in memory | decode step, 1 row | decode step, 16 rows | "
        "perplexity, held-out text |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['mbytes']:.0f} MB | {r['step_1']:.1f} ms | {r['step_16']:.1f} ms | "
            f"{r['perplexity']:.3f} |"
        )
    lines += ["", f"Greedy answers ({len(prompt_ids)} chat prompts, up to {args.max_tokens} "
              "tokens, one batch) against float32's; perplexity on the first 1,024 tokens of "
              "docs/ARCHITECTURE.md (written for this project, in no training set):", ""]  # fmt: skip
    for name, r in results.items():
        if name == "float32":
            continue
        same, prefix = agreement(r["answers"], full["answers"])
        lines.append(
            f"- {name}: {same} of {len(prompt_ids)} answers identical; on average the first "
            f"{prefix:.1f} tokens agree; perplexity {r['perplexity'] / full['perplexity'] - 1:+.2%}."
        )
    lines += ["", GENERATED_END]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        bench.write_section(section, heading=HEADING, end_marker=GENERATED_END)
        print("Written to docs/BENCHMARKS.md")
    os._exit(0)  # the schedulers' engine threads wait inside torch; see prefill_stall.py


if __name__ == "__main__":
    main()
