"""How long a GPT's knowledge retrieval takes: the best passages for a question out of
10,000 chunks, through the store's own code (knowledge files stored, chunked and indexed by
`knowledge_file_create`, passages found by `knowledge.passages_for`), on the embedded
PostgreSQL 18 that `make run` uses.

    .venv/bin/python bench/gpt_retrieval.py [--chunks 10000] [--others 40000]
        [--questions 500] [--no-write]

The text is English-like: words of the project's own documents drawn with Zipf frequencies
(a few very common words, a long tail), in sentences and paragraphs, so that common words
match thousands of chunks and rare ones a handful, as in real manuals. Questions are drawn
the same way (3 to 12 words each). Two tables: the GPT's chunks alone in the database, and
the same GPT among ``--others`` chunks of other GPTs (the index is shared). Each question is
asked once after a warm-up; p50, p95, p99 and the worst of the timings are reported. Results
go to the "GPT knowledge retrieval" section of docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sections import machine, publish  # noqa: E402 - bench/sections.py, beside this file

BENCH_DIR = ROOT / "var" / "bench"
DATABASE = "gpts_retrieval_bench"
HEADING = "## GPT knowledge retrieval"
GENERATED_END = (
    "<!-- bench/gpt_retrieval.py writes the section down to here; notes below are kept -->"
)
FILE_CHARS = 1_000_000  # about 1,000 chunks a file; a GPT holds at most 20 files
TARGET_P95_MS = 20.0


def vocabulary() -> list[str]:
    """The project's documents' words, most frequent first."""
    counts: dict[str, int] = {}
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for word in re.findall(r"[a-z]{3,}", path.read_text().lower()):
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda word: -counts[word])


class Writer:
    """English-like text: Zipf-distributed words in sentences and paragraphs."""

    def __init__(self, words: list[str], seed: int):
        self.random = random.Random(seed)
        self.words = words
        self.weights = [1 / (rank + 1) for rank in range(len(words))]

    def sentence(self, low: int = 6, high: int = 22) -> str:
        words = self.random.choices(self.words, self.weights, k=self.random.randint(low, high))
        return " ".join(words).capitalize() + "."

    def text(self, characters: int) -> str:
        paragraphs, size = [], 0
        while size < characters:
            paragraph = " ".join(self.sentence() for _ in range(self.random.randint(2, 7)))
            paragraphs.append(paragraph)
            size += len(paragraph) + 2
        return "\n\n".join(paragraphs)

    def question(self) -> str:
        return self.sentence(3, 12)[:-1] + "?"


def load(writer: Writer, builder, chunks: int, label: str) -> list[int]:
    """Knowledge files holding about ``chunks`` chunks; their ids."""
    from store.gpts import services
    from store.gpts.models import KnowledgeChunk

    ids: list[int] = []
    made = 0
    while made < chunks:
        data = writer.text(FILE_CHARS).encode()
        item = services.knowledge_file_create(
            builder=builder, name=f"{label}-{len(ids) + 1}.md", data=data
        )
        ids.append(item.id)
        made = KnowledgeChunk.objects.filter(file_id__in=ids).count()
        print(f"  {label}: {made:,} chunks", file=sys.stderr, flush=True)
    return ids


def timings(file_ids: list[int], questions: list[str]) -> dict:
    from store.gpts.knowledge import passages_for

    for question in questions[:20]:  # warm-up: the index's pages in memory, as in a live store
        passages_for(file_ids=file_ids, question=question)
    elapsed, found = [], []
    for question in questions:
        start = time.perf_counter()
        passages = passages_for(file_ids=file_ids, question=question)
        elapsed.append((time.perf_counter() - start) * 1000)
        found.append(len(passages))
    elapsed.sort()

    def percentile(p: float) -> float:
        return elapsed[min(len(elapsed) - 1, round(p / 100 * (len(elapsed) - 1)))]

    return {
        "p50": statistics.median(elapsed),
        "p95": percentile(95),
        "p99": percentile(99),
        "max": elapsed[-1],
        "answered": sum(1 for count in found if count) / len(found),
    }


def run(url: str, args) -> list[dict]:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_ENV", "development")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = str(BENCH_DIR / "retrieval-var")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    builder = get_user_model().objects.create_user("bench@example.com", "x")
    writer = Writer(vocabulary(), seed=13)
    questions = [writer.question() for _ in range(args.questions)]
    gpt_files = load(writer, builder, args.chunks, "manual")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE store_knowledgechunk")
    rows = [{"table": f"{args.chunks:,} chunks (this GPT's only)", **timings(gpt_files, questions)}]
    if args.others:
        load(writer, builder, args.others, "other")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE store_knowledgechunk")
        total = args.chunks + args.others
        rows.append(
            {
                "table": f"the same {args.chunks:,} among {total:,} chunks of many GPTs",
                **timings(gpt_files, questions),
            }
        )
    return rows


def report(rows: list[dict], args, when: str, load_average: str) -> str:
    lines = [
        HEADING,
        "",
        f"Measured {when} UTC by `bench/gpt_retrieval.py` on {machine()}, embedded "
        f"PostgreSQL 18; load average {load_average} before. A GPT's knowledge of about "
        f"{args.chunks:,} chunks (files of {FILE_CHARS:,} characters of English-like text, "
        f"chunks of at most 1,000 characters), {args.questions} questions of 3 to 12 words, "
        "each timed once through `passages_for` (the query a chat turn runs: any of the "
        "question's words, ranked with `ts_rank_cd`, best 5).",
        "",
        "| chunks in the database | questions with passages | p50 | p95 | p99 | worst |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['table']} | {row['answered']:.0%} | {row['p50']:.1f} ms "
            f"| {row['p95']:.1f} ms | {row['p99']:.1f} ms | {row['max']:.1f} ms |"
        )
    worst_p95 = max(row["p95"] for row in rows)
    verdict = "met" if worst_p95 <= TARGET_P95_MS else "NOT met"
    lines += [
        "",
        f"Target p95 ≤ {TARGET_P95_MS:.0f} ms: {verdict} (worst p95 {worst_p95:.1f} ms).",
        "",
        GENERATED_END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=40_000)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--target-url", help=argparse.SUPPRESS)  # the measuring subprocess
    args = parser.parse_args()
    if args.target_url:
        print(json.dumps(run(args.target_url, args)), flush=True)
        return

    # Importing the project reads its settings (the Celery app does): the measuring runs in a
    # subprocess whose DATABASE_URL names the cluster started here.
    from config.embedded_postgres import Cluster

    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    cluster = Cluster(BENCH_DIR / "retrieval-pg")
    cluster.prepare()
    server = cluster.start(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
        command = [sys.executable, __file__, "--target-url", cluster.url(DATABASE)]
        command += ["--chunks", str(args.chunks), "--others", str(args.others)]
        command += ["--questions", str(args.questions)]
        measured = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if measured.returncode != 0:
            raise SystemExit(f"The measuring process failed ({measured.returncode}).")
        lines = measured.stdout.splitlines()
        print("\n".join(lines[:-1]), flush=True)
        rows = json.loads(lines[-1])
    finally:
        cluster.stop()
        server.wait()
    publish(
        report(rows, args, when, load_average),
        heading=HEADING,
        generated_end=GENERATED_END,
        write=not args.no_write,
    )


if __name__ == "__main__":
    main()
