"""How long a long prompt stalls the answers already streaming, with and without chunks.

    .venv/bin/python bench/prefill_stall.py [--running 8] [--prompt-tokens 3000] [--threads 1]

The engine alone (no HTTP), on SmolLM2-135M-Instruct (bench/inference.py converts it):
``--running`` greedy requests decode; once they are streaming, one request with a prompt of
``--prompt-tokens`` tokens joins. Measured per setting of ``prefill_chunk_tokens``: the
longest gap between two tokens of the running requests (what their readers notice), the
long request's time to first token, and the running requests' tokens/s over the run.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_ENV", "test")

MODEL_DIR = ROOT / "var" / "bench" / "smollm2-135m-instruct"


def run(scheduler, model, short_ids, long_ids, running: int) -> dict:
    stamps: list[list[float]] = [[] for _ in range(running)]

    def read(request, out):
        while True:
            event = request.events.get()
            if event["type"] == "delta":
                out.append(time.perf_counter())
            if event["type"] in ("done", "error"):
                return

    requests = [
        scheduler.submit(model=model, prompt_ids=short_ids, max_tokens=200, temperature=0)
        for _ in range(running)
    ]
    readers = [
        threading.Thread(target=read, args=(r, s)) for r, s in zip(requests, stamps, strict=True)
    ]
    for reader in readers:
        reader.start()
    # Every answer streaming (or already ended: a model may answer in fewer tokens).
    while any(len(s) < 10 and not r.finished for r, s in zip(requests, stamps, strict=True)):
        time.sleep(0.01)
    joined = time.perf_counter()
    long = scheduler.submit(model=model, prompt_ids=long_ids, max_tokens=4, temperature=0)
    long.done.wait()
    for reader in readers:
        reader.join()
    gaps = [b - a for s in stamps for a, b in zip(s, s[1:], strict=False) if b > joined]
    if not gaps:
        raise SystemExit("The running answers ended before the long prompt joined.")
    return {
        "max_gap_ms": max(gaps) * 1000,
        "median_gap_ms": statistics.median(gaps) * 1000,
        "long_ttft_ms": (long.first_token_at - long.submitted_at) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--running", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--chunks",
        default="0,2048,512,256",
        help="prefill chunk sizes to measure, comma-separated; 0: the whole prompt in one step",
    )
    args = parser.parse_args()
    if not (MODEL_DIR / "config.json").exists():
        raise SystemExit("Run bench/inference.py once first: it converts the model.")

    import django

    django.setup()
    from inference.engine.device import configure_torch_threads
    from inference.engine.model_cache import ModelCache
    from inference.engine.scheduler import Scheduler

    configure_torch_threads(args.threads)
    cache = ModelCache(root=MODEL_DIR.parent, budget_bytes=2**33)
    model = cache.acquire(MODEL_DIR.name)
    words = (ROOT / "README.md").read_text().split()
    text = " ".join(words * (1 + 4 * args.prompt_tokens // max(1, len(words))))
    long_ids = model.tokenizer(text)["input_ids"][: args.prompt_tokens]
    short_ids = model.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
    )["input_ids"]
    print(
        f"{args.running} running requests; a {len(long_ids)}-token prompt joins; "
        f"{args.threads} torch thread(s)"
    )
    print("| prefill chunk (tokens per step) | longest gap between tokens of running answers | "
          "median gap | time to first token of the long prompt |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    for chunk in [int(c) or 10**9 for c in args.chunks.split(",")]:
        scheduler = Scheduler(
            max_batch_rows=64, max_prefill_tokens=8192, prefill_chunk_tokens=chunk
        )
        scheduler.submit(model=model, prompt_ids=short_ids, max_tokens=2, temperature=0).done.wait()
        result = run(scheduler, model, short_ids, long_ids, args.running)
        label = "whole prompt in one step" if chunk >= 10**9 else str(chunk)
        print(
            f"| {label} | {result['max_gap_ms']:.0f} ms | {result['median_gap_ms']:.0f} ms | "
            f"{result['long_ttft_ms']:.0f} ms |",
            flush=True,
        )
    # Each Scheduler left a daemon engine thread waiting inside torch; an interpreter
    # shutdown around them aborts ("terminate called without an active exception").
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
