"""Time to first token of a GPT's chats with its instructions computed once (shared prefix)
and computed for every chat.

    .venv/bin/python bench/gpt_ttft.py [--chats 16] [--instruction-tokens 1500]
        [--max-tokens 32] [--threads 2] [--no-write]

The engine alone (no HTTP), on SmolLM2-135M-Instruct (converted once from the demo wheel's
GGUF, as bench/inference.py does): every chat is the model's chat template around the GPT's
instructions (a system message of ``--instruction-tokens`` tokens, the project's own docs)
and a different user question, greedy. Three arrival patterns, each with prefix sharing on
and off (the scheduler's ``share_prefixes``):

- all chats at once, the GPT not used before (the first chats compute the prefix);
- all chats at once again, the GPT used before (its prefix is stored);
- chats arriving one by one, ``--gap`` seconds apart, while earlier ones are answering.

Reported: TTFT p50 / p95 / worst per pattern, the ratio off ÷ on, tokens of prefix reused,
and that every answer is the same either way. Results go to the "GPT time to first token"
section of docs/BENCHMARKS.md.
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "test")

from sections import machine, publish  # noqa: E402 - bench/sections.py, beside this file

HEADING = "## GPT time to first token"
GENERATED_END = "<!-- bench/gpt_ttft.py writes the section down to here; notes below are kept -->"
TARGET_RATIO = 2.0
QUESTIONS = [
    "How do I buy a model?", "What does a token pack cost?", "Can I get a refund?",
    "How do credits work?", "Where are my API keys?", "How do I publish a GPT?",
    "What is a knowledge file?", "How fast is the engine?", "Who sees my instructions?",
    "How do I rent a model?", "What is the platform fee?", "Can I fine-tune a model?",
    "How do I report a GPT?", "Where do I see my spending?", "What models are free?",
    "How do I stop an answer?", "Which files can I upload?", "How are builders paid?",
    "What is a markup?", "How do I rate a GPT?", "Can I share a GPT by link?",
    "What does verified mean?", "How long is the context window?", "Can I download weights?",
    "How do I change my password?", "What happens when credits run out?",
    "Can I pin a model version?", "How do I delete a conversation?", "What is a starter?",
    "Who curates the store?", "How do I top up?", "Is my data used for training?",
]  # fmt: skip


def demo_model_dir() -> Path:
    """bench/inference.py's converted demo model (its module name is taken by the app)."""
    spec = importlib.util.spec_from_file_location(
        "bench_inference", Path(__file__).parent / "inference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ensure_model()


def instructions_of(tokenizer, tokens: int) -> str:
    words = " ".join(
        path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    ).split()
    ids = tokenizer(" ".join(words))["input_ids"][:tokens]
    return "You are the store's help desk. Follow these notes.\n\n" + tokenizer.decode(ids)


def prompts(tokenizer, instructions: str, questions: list[str]) -> list[list[int]]:
    return [
        tokenizer.apply_chat_template(
            [{"role": "system", "content": instructions}, {"role": "user", "content": question}],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
        )["input_ids"]
        for question in questions
    ]


def run_pattern(scheduler, model, prompt_ids: list[list[int]], max_tokens: int, gap: float):
    requests = []
    for ids in prompt_ids:
        requests.append(
            scheduler.submit(model=model, prompt_ids=ids, max_tokens=max_tokens, temperature=0)
        )
        if gap:
            time.sleep(gap)
    for request in requests:
        request.done.wait()
    ttfts = sorted((r.first_token_at - r.submitted_at) * 1000 for r in requests)
    return {
        "p50": statistics.median(ttfts),
        "p95": ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))],
        "max": ttfts[-1],
        "answers": [tuple(choice.token_ids) for r in requests for choice in r.choices],
    }


def measure(model, prompt_ids, args, share: bool) -> dict:
    from inference.engine.scheduler import Scheduler

    half = len(QUESTIONS) // 2
    first, again = prompt_ids[: args.chats], prompt_ids[half : half + args.chats]
    scheduler = Scheduler(max_batch_rows=64, threads=args.threads, share_prefixes=share)
    # Warm the engine (threads, kernels) on something else: no prefix of the GPT stored.
    warm = model.tokenizer("Hello there, how are you?")["input_ids"]
    scheduler.submit(model=model, prompt_ids=warm, max_tokens=2, temperature=0).done.wait()
    results = {
        "first": run_pattern(scheduler, model, first, args.max_tokens, 0),
        "again": run_pattern(scheduler, model, again, args.max_tokens, 0),
        "arriving": run_pattern(scheduler, model, first, args.max_tokens, args.gap),
    }
    results["reused"] = scheduler.stats.prefix_tokens_reused
    return results


def report(on: dict, off: dict, args, meta: dict) -> str:
    labels = {
        "first": f"{args.chats} at once, GPT not used before",
        "again": f"{args.chats} more at once, GPT used before",
        "arriving": f"{args.chats} arriving {args.gap:g} s apart",
    }
    lines = [
        HEADING,
        "",
        f"Measured {meta['when']} UTC by `bench/gpt_ttft.py` on {machine()}, torch "
        f"{meta['torch']}, {args.threads} torch thread(s); load average {meta['load']} before. "
        f"The engine alone on SmolLM2-135M-Instruct (float32): {args.chats} chats of one GPT "
        f"whose instructions are {meta['instruction_tokens']:,} tokens (prompts of "
        f"{meta['prompt_tokens']} tokens with the chat template and a question), "
        f"{args.max_tokens} new tokens each, greedy; the same requests with the scheduler's "
        "prefix sharing on and off.",
        "",
        "| chats | TTFT p50 shared / each | TTFT p95 shared / each | worst shared / each | p50 ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    ratios = []
    for key, label in labels.items():
        a, b = on[key], off[key]
        ratio = b["p50"] / a["p50"]
        ratios.append(ratio)
        lines.append(
            f"| {label} | {a['p50']:.0f} / {b['p50']:.0f} ms | {a['p95']:.0f} / {b['p95']:.0f} ms "
            f"| {a['max']:.0f} / {b['max']:.0f} ms | {ratio:.1f}× |"
        )
    same = all(on[key]["answers"] == off[key]["answers"] for key in labels)
    lowest = min(ratios)
    lines += [
        "",
        f"Prefix tokens reused with sharing on: {on['reused']:,} (off: {off['reused']:,}). "
        f"Greedy answers the same with sharing on and off: {'yes' if same else 'NO'}. "
        f"Target: sharing ≥ {TARGET_RATIO:g}× faster TTFT — "
        f"{'met' if lowest >= TARGET_RATIO else 'NOT met'} (lowest p50 ratio {lowest:.1f}×).",
        "",
        GENERATED_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=16)
    parser.add_argument("--instruction-tokens", type=int, default=1500)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gap", type=float, default=0.25)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.chats > len(QUESTIONS) // 2:
        raise SystemExit(f"At most {len(QUESTIONS) // 2} chats (one question each).")
    meta = {
        "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    model_dir = demo_model_dir()

    import django

    django.setup()
    import torch

    from inference.engine.device import configure_torch_threads
    from inference.engine.model_cache import ModelCache

    configure_torch_threads(args.threads)
    cache = ModelCache(root=model_dir.parent, budget_bytes=2**33)
    model = cache.acquire(model_dir.name)
    instructions = instructions_of(model.tokenizer, args.instruction_tokens)
    prompt_ids = prompts(model.tokenizer, instructions, QUESTIONS)
    meta["torch"] = torch.__version__
    meta["instruction_tokens"] = len(model.tokenizer(instructions)["input_ids"])
    lengths = sorted(len(ids) for ids in prompt_ids)
    meta["prompt_tokens"] = f"{lengths[0]:,}–{lengths[-1]:,}"
    results = {}
    for share in (True, False):
        results[share] = measure(model, prompt_ids, args, share)
        print(
            f"sharing {'on' if share else 'off'}: "
            + ", ".join(
                f"{k} p50 {v['p50']:.0f} ms" for k, v in results[share].items() if k != "reused"
            ),
            flush=True,
        )
    publish(
        report(results[True], results[False], args, meta),
        heading=HEADING,
        generated_end=GENERATED_END,
        write=not args.no_write,
    )
    # Each Scheduler left a daemon engine thread waiting inside torch; an interpreter
    # shutdown around them aborts ("terminate called without an active exception").
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
