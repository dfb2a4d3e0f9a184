"""`make run` under load: the launcher's own stack (embedded PostgreSQL and Redis) against the
inference benchmark's stack on the machine's PostgreSQL and Redis, at 16 and 64 concurrent
streamed chats.

    .venv/bin/python bench/make_run.py [--max-tokens 64] [--threads 0] [--no-write]

Both sides serve SmolLM2-135M-Instruct with the same worker command, torch threads and
prompts (chat template, greedy). The bench side is bench/inference.py's Stack on
BENCH_DATABASE_URL / BENCH_REDIS_URL; the make-run side is config/launcher.py started on a
fresh var folder under var/bench/make-run, driven as the demo customer (the demo grant pays).
Errors are counted, not raised: the point is that `make run` answers every call. The runs
alternate (bench 16, make run 16, bench 64, make run 64) so that drift on a shared machine
hits both. Results go to the "make run under load" section of docs/BENCHMARKS.md.
"""

import argparse
import importlib.util
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sections import publish  # noqa: E402 - bench/sections.py, beside this file

# bench/inference.py, loaded under another name (the store has an app called "inference");
# importing it points this process at the bench database and Redis, as its stack needs.
_spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "bench" / "inference.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

MAKE_RUN_DIR = bench.BENCH_DIR / "make-run"
DEMO_CUSTOMER = "customer@example.com"
DEMO_MODEL = "gptstore-labs/smollm2-135m-instruct"
HEADING = "## make run under load"
GENERATED_END = "<!-- bench/make_run.py writes the section down to here; notes below are kept -->"


def burst(base: str, key: str, model_id: str, prompts: list[str], max_tokens: int) -> dict:
    """All ``prompts`` streamed at once; tokens/s over the whole burst, TTFT, errors by kind."""
    import httpx

    results: list[dict] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(len(prompts) + 1)

    def run(prompt: str) -> None:
        with httpx.Client(timeout=600) as client:
            barrier.wait()
            try:
                result = bench.stream_one(client, base, key, model_id, prompt, max_tokens)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                kind = str(exc).split(":", 1)[0][:40]
                with lock:
                    errors[kind] = errors.get(kind, 0) + 1
                return
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(prompt,)) for prompt in prompts]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        **bench.summary(
            tokens=sum(r["tokens"] for r in results),
            seconds=seconds,
            ttfts=[r["ttft"] for r in results] or [0.0],
            requests=len(prompts),
        ),
        "errors": errors,
    }


def warm(base: str, key: str, model_id: str) -> None:
    import httpx

    with httpx.Client(timeout=600) as client:
        bench.stream_one(client, base, key, model_id, bench.PROMPTS[0], 4)


def report(results: dict) -> str:
    def row(label: str, r: dict) -> str:
        errors = ", ".join(f"{n} × {kind}" for kind, n in r["errors"].items()) or "0"
        return (
            f"| {label} | {r['requests']} | {r['tokens']} | {r['tokens_per_second']:.1f} | "
            f"{r['ttft_p50_ms']:.0f} ms | {r['ttft_p95_ms']:.0f} ms | {errors} |"
        )

    lines = [
        HEADING,
        "",
        f"Measured {results['date']} UTC by `bench/make_run.py` on {results['machine']}. "
        f"SmolLM2-135M-Instruct, {results['threads']} torch thread(s) in the worker on both sides, "
        f"chat template, greedy, up to {results['max_tokens']} new tokens, every request streamed; "
        f"load average {results['load_before']} before, {results['load_after']} after.",
        "",
        "| setup | requests | completion tokens | tokens/s | TTFT p50 | TTFT p95 | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in results["concurrency"]:
        lines.append(
            row(
                f"bench stack (machine's PostgreSQL and Redis), {n} concurrent",
                results[f"bench{n}"],
            )
        )
        lines.append(
            row(f"`make run` (embedded PostgreSQL and Redis), {n} concurrent", results[f"run{n}"])
        )
    lines += ["", "| target | measured | |", "| --- | --- | --- |"]
    for n in results["concurrency"]:
        ratio = results[f"run{n}"]["tokens_per_second"] / results[f"bench{n}"]["tokens_per_second"]
        errors = sum(results[f"run{n}"]["errors"].values())
        ok = ratio >= 0.9 and errors == 0
        lines.append(
            f"| `make run` at {n} concurrent: ≥ 0.9× the bench stack, 0 errors | "
            f"{ratio:.2f}×, {errors} errors | {'met' if ok else 'NOT met'} |"
        )
    lines += ["", GENERATED_END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the cores given)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    from inference.engine.device import cores_given
    from tests.support.launched_store import LaunchedStore

    threads = args.threads or cores_given()
    shutil.rmtree(bench.STACK_DIR, ignore_errors=True)
    bench.STACK_DIR.mkdir(parents=True)
    shutil.rmtree(MAKE_RUN_DIR, ignore_errors=True)
    bench.ensure_model()
    bench.fresh_database()
    model_id, key, _ = bench.prepare_store()
    results = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "machine": bench.machine(),
        "max_tokens": args.max_tokens,
        "threads": threads,
        "concurrency": args.concurrency,
        "load_before": bench.load(),
    }
    stack = bench.Stack(threads=threads)
    # One customer's concurrent calls load the store; the per-account cap would turn most away.
    store = LaunchedStore(
        MAKE_RUN_DIR / "var",
        INFERENCE_TORCH_THREADS=str(threads),
        INFERENCE_MAX_CONCURRENT_PER_USER="0",
    )
    try:
        print("Starting the bench stack and `make run`…", flush=True)
        stack.start()
        store.start()
        run_key = store.api_key(DEMO_CUSTOMER)
        warm(stack.base, key, model_id)
        warm(store.base, run_key, DEMO_MODEL)
        for n in args.concurrency:
            prompts = [bench.PROMPTS[i % len(bench.PROMPTS)] for i in range(n)]
            for name, base, k, model in (
                ("bench", stack.base, key, model_id),
                ("run", store.base, run_key, DEMO_MODEL),
            ):
                print(f"{name}, {n} concurrent…", flush=True)
                results[f"{name}{n}"] = burst(base, k, model, prompts, args.max_tokens)
                r = results[f"{name}{n}"]
                print(
                    f"    {r['tokens_per_second']:.1f} tokens/s, errors {r['errors']}", flush=True
                )
    finally:
        stack.stop()
        store.stop()
    results["load_after"] = bench.load()
    section = report(results)
    publish(section, heading=HEADING, generated_end=GENERATED_END, write=not args.no_write)


if __name__ == "__main__":
    main()
