"""The money path at scale: quota hold → settle (and hold → release) through the public
services, with 1, 8 and 64 concurrent callers, on one hot account and across many accounts;
the same for credits (credits_hold → credits_settle); with ledger combining on and off.

    .venv/bin/python bench/ledger.py [--seconds 5] [--callers 1 8 64] [--targets embedded machine]
        [--ledgers packs credits] [--combine on off] [--sync on off] [--no-write]

Targets: ``embedded`` is a durable embedded PostgreSQL 18 cluster started for the run in
var/bench/ledger-pg (what `make run` uses, same settings); ``machine`` is BENCH_DATABASE_URL
(default: the machine's PostgreSQL on 127.0.0.1). Each target gets a fresh database.

Callers are threads spread over two processes (the GIL would cap one process): each loops
hold(100 tokens) → settle(60 used) (or → release) for ``--seconds``. "Hot": every caller holds
from one customer's pack; "spread": each caller has its own customer. Reported: pairs a second,
hold latency p50/p99. After every run the invariants are checked: every balance equals the
sum of its ledger rows, none is negative, no hold is left open. Results go to the "Ledger"
section of docs/BENCHMARKS.md.
"""

import argparse
import json
import multiprocessing
import os
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

from sections import machine, publish  # noqa: E402 - bench/sections.py, beside this file

BENCH_DIR = ROOT / "var" / "bench"
DEFAULT_MACHINE_DB = "postgres://postgres@127.0.0.1:5432/gpts_ledger_bench"
HEADING = "## Ledger"
GENERATED_END = "<!-- bench/ledger.py writes the section down to here; notes below are kept -->"
HOLD_TOKENS = 100
USED_TOKENS = 60
PROCESSES = 2


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_ENV", "development")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["VAR_DIR"] = str(BENCH_DIR / "ledger-var")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")
    os.environ["LOG_LEVEL"] = "WARNING"
    # A connection per caller thread, kept: the pool's 20 per process would make callers
    # queue for connections and measure that instead of the ledger.
    os.environ["DATABASE_POOL"] = "false"
    import django

    django.setup()


def fresh_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def prepare(accounts: int) -> dict:
    """Migrates, then makes a listing and ``accounts`` customers with a huge pack each."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from accounts.models import PublisherProfile, User
    from billing.services import credits_grant, grant_create, token_price_set
    from store.models import Listing

    publisher_user = User.objects.create_user(email="pub@bench.test", password="x" * 12)
    publisher = PublisherProfile.objects.create(
        user=publisher_user, display_name="Bench", slug="bench"
    )
    listing = Listing.objects.create(
        publisher=publisher,
        name="Bench model",
        slug="bench-model",
        status=Listing.Status.APPROVED,
        approved_at=timezone.now(),
    )
    token_price_set(listing=listing, actor=publisher_user, input_per_mtok=20, output_per_mtok=40)
    users = []
    for n in range(accounts):
        user = User.objects.create_user(email=f"c{n}@bench.test", password="x" * 12)
        grant_create(user=user, listing=listing, actor=None, tokens=10**12, days=30)
        credits_grant(user=user, cents=1_000_000, actor=None, reason="bench")
        users.append(user.pk)
    return {"listing": listing.pk, "users": users}


def caller_process(args: tuple, ready, results) -> None:
    """One process of callers: a thread per account in ``accounts["callers"]``, for
    ``seconds`` after every process is ready (``ready``: a barrier); the counts go to
    ``results``."""
    database_url, accounts, seconds, mode, sync, combine, ledger = args
    if sync != "on":
        os.environ["LEDGER_SYNCHRONOUS_COMMIT"] = sync
    os.environ["LEDGER_COMBINE"] = "true" if combine == "on" else "false"
    setup_django(database_url)
    from django.db import connection

    from accounts.models import User
    from billing.selectors import token_price_for
    from billing.services import (
        credits_hold,
        credits_release,
        credits_settle,
        quota_hold,
        quota_release,
        quota_settle,
    )
    from store.models import Listing

    listing = Listing.objects.get(pk=accounts["listing"])
    price = token_price_for(listing=listing)

    def hold(user, request_id: str):
        if ledger == "credits":
            # HOLD_TOKENS prompt tokens' worth of credit, settled for USED_TOKENS of them.
            amount = HOLD_TOKENS * price.input_per_mtok
            return credits_hold(
                user=user, listing=listing, price=price, amount=amount, request_id=request_id
            )
        return quota_hold(user=user, listing=listing, tokens=HOLD_TOKENS, request_id=request_id)

    def finish(request_id: str, held) -> None:
        if ledger == "credits" and mode == "release":
            credits_release(request_id=request_id)
        elif ledger == "credits":
            # As completion_settle does: with the terms the hold answered at admission.
            credits_settle(
                request_id=request_id, prompt_tokens=USED_TOKENS, completion_tokens=0, hold=held
            )
        elif mode == "release":
            quota_release(request_id=request_id)
        else:
            quota_settle(request_id=request_id, used_tokens=USED_TOKENS)

    users = {pk: User.objects.get(pk=pk) for pk in set(accounts["users"])}
    connection.close()
    latencies: list[float] = []
    counts = [0]
    errors: list[str] = []
    lock = threading.Lock()

    def run(user_pk: int, worker: int, start_at: float) -> None:
        user = users[user_pk]
        mine: list[float] = []
        done = 0
        prefix = f"{os.getpid()}-{worker}-"
        while time.time() < start_at:
            time.sleep(0.001)
        deadline = start_at + seconds
        try:
            while time.time() < deadline:
                request_id = f"{prefix}{done}"
                began = time.perf_counter()
                held = hold(user, request_id)
                mine.append(time.perf_counter() - began)
                finish(request_id, held)
                done += 1
        except Exception as exc:  # noqa: BLE001 - a broken caller fails the whole run
            with lock:
                errors.append(repr(exc))
        connection.close()
        with lock:
            latencies.extend(mine)
            counts[0] += done

    ready.wait()
    start_at = time.time() + 0.2
    workers = [
        threading.Thread(target=run, args=(user_pk, n, start_at))
        for n, user_pk in enumerate(accounts["callers"])
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put({"pairs": counts[0], "latencies": latencies, "errors": errors})


def measure(database_url: str, setup: dict, *, callers: int, hot: bool, mode: str, **options):
    per_process = [[] for _ in range(PROCESSES)]
    for n in range(callers):
        user = setup["users"][0] if hot else setup["users"][n % len(setup["users"])]
        per_process[n % PROCESSES].append(user)
    seconds = options["seconds"]
    jobs = [
        (
            database_url, {**setup, "callers": users}, seconds, mode, options["sync"],
            options["combine"], options["ledger"],
        )
        for users in per_process
        if users
    ]  # fmt: skip
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(len(jobs))
    queue = context.Queue()
    processes = [context.Process(target=caller_process, args=(job, ready, queue)) for job in jobs]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    errors = [error for r in results for error in r["errors"]]
    if errors:
        raise SystemExit(f"callers failed: {errors[:3]}")
    latencies = sorted(x for r in results for x in r["latencies"])
    pairs = sum(r["pairs"] for r in results)
    return {
        "pairs_per_second": pairs / seconds,
        "hold_p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "hold_p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else 0.0,
    }


def check_invariants() -> str:
    from billing.models import CreditAccount, CreditHold, QuotaHold, QuotaPack
    from billing.selectors import credit_ledger_mismatches, quota_ledger_mismatches

    mismatches = len(quota_ledger_mismatches()) + len(credit_ledger_mismatches())
    negative = (
        QuotaPack.objects.filter(available__lt=0).count()
        + QuotaPack.objects.filter(held__lt=0).count()
        + CreditAccount.objects.filter(available__lt=0).count()
    )
    open_holds = (
        QuotaHold.objects.filter(status=QuotaHold.Status.HELD).count()
        + CreditHold.objects.filter(status=CreditHold.Status.HELD).count()
    )
    if mismatches or negative or open_holds:
        return f"BROKEN: {mismatches} mismatches, {negative} negative, {open_holds} open holds"
    return "intact"


def run_target(database_url: str, args) -> dict:
    """Runs every case on one database (in this process: Django bound to it)."""
    fresh_database(database_url)
    setup_django(database_url)
    setup = prepare(max(args.callers))
    from django.db import connection

    connection.close()
    rows = []
    cases = [
        (ledger, sync, combine, mode, hot, callers)
        for ledger in args.ledgers
        for sync in args.sync
        for combine in args.combine
        for mode in ("settle", "release")
        for hot in (True, False)
        for callers in args.callers
        if mode == "settle" or callers == max(args.callers)
    ]
    for ledger, sync, combine, mode, hot, callers in cases:
        result = measure(
            database_url, setup, callers=callers, hot=hot, mode=mode, seconds=args.seconds,
            sync=sync, combine=combine, ledger=ledger,
        )  # fmt: skip
        result.update(
            ledger=ledger,
            callers=callers,
            hot=hot,
            mode=mode,
            sync=sync,
            combine=combine,
            invariants=check_invariants(),
        )
        rows.append(result)
        connection.close()
        print(
            f"  {ledger:<7} sync {sync:<3} combine {combine:<3} {mode:<7} "
            f"{'hot' if hot else 'spread':<6} {callers:>3} callers: "
            f"{result['pairs_per_second']:7.0f} pairs/s, hold p50 {result['hold_p50_ms']:.1f} ms "
            f"p99 {result['hold_p99_ms']:.1f} ms, {result['invariants']}",
            flush=True,
        )
    return {"rows": rows}


def report(results: dict, args) -> str:
    lines = [
        HEADING,
        "",
        f"Measured {results['date']} UTC by `bench/ledger.py` on {machine()}; load average "
        f"{results['load']} before. Each pair is a hold then a settlement or a release through "
        f"the services: packs `quota_hold` ({HOLD_TOKENS} tokens) → `quota_settle` "
        f"({USED_TOKENS} used) / `quota_release`; credits `credits_hold` ({HOLD_TOKENS} tokens' "
        f"worth) → `credits_settle` ({USED_TOKENS}) / `credits_release`. {args.seconds:.0f} s "
        f'per row, callers as threads over {PROCESSES} processes; "combining" is '
        "LEDGER_COMBINE (a process's concurrent calls share one statement and commit). "
        "Invariants checked after every row (balances equal their ledger sums, none negative, "
        "no hold left open).",
        "",
        "| database | ledger | commit | combining | path | accounts | callers | pairs/s | hold p50 | hold p99 | invariants |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for target, data in results["targets"].items():
        for row in data["rows"]:
            lines.append(
                f"| {target} | {row['ledger']} | synchronous_commit {row['sync']} | {row['combine']} "
                f"| hold → {row['mode']} | {'one hot' if row['hot'] else 'one each'} "
                f"| {row['callers']} | {row['pairs_per_second']:.0f} | {row['hold_p50_ms']:.1f} ms "
                f"| {row['hold_p99_ms']:.1f} ms | {row['invariants']} |"
            )
    lines += ["", "| target | measured | |", "| --- | --- | --- |"]
    for (target, sync), rows in _by_target_and_sync(results).items():
        settle = [r for r in rows if r["mode"] == "settle"]
        spread = max((r["pairs_per_second"] for r in settle if not r["hot"]), default=0)
        hot = max((r["pairs_per_second"] for r in settle if r["hot"]), default=0)
        p99 = max((r["hold_p99_ms"] for r in settle if r["callers"] == 64), default=0)
        for label, value, ok in (
            ("≥ 1,000 pairs/s across accounts", f"{spread:.0f}", spread >= 1000),
            ("≥ 500 pairs/s on one hot account", f"{hot:.0f}", hot >= 500),
            ("hold p99 ≤ 20 ms at 64 callers", f"{p99:.1f} ms", p99 <= 20),
        ):
            lines.append(
                f"| {target}, synchronous_commit {sync}: {label} | {value} | "
                f"{'met' if ok else 'NOT met'} |"
            )
    lines += ["", GENERATED_END]
    return "\n".join(lines)


def _by_target_and_sync(results: dict) -> dict:
    grouped: dict = {}
    for target, data in results["targets"].items():
        for row in data["rows"]:
            key = (f"{target}, {row['ledger']}, combining {row['combine']}", row["sync"])
            grouped.setdefault(key, []).append(row)
    return grouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--targets", nargs="+", default=["embedded", "machine"])
    parser.add_argument(
        "--sync", nargs="+", default=["on", "off"], help="LEDGER_SYNCHRONOUS_COMMIT values"
    )
    parser.add_argument("--ledgers", nargs="+", default=["packs", "credits"])
    parser.add_argument("--combine", nargs="+", default=["on", "off"], help="LEDGER_COMBINE")
    parser.add_argument("--target-url", help=argparse.SUPPRESS)  # one target, in a subprocess
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    if args.target_url:
        print(json.dumps(run_target(args.target_url, args)), flush=True)
        return

    from config.embedded_postgres import Cluster

    results = {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "targets": {},
    }
    cluster = None
    try:
        for target in args.targets:
            if target == "embedded":
                cluster = Cluster(BENCH_DIR / "ledger-pg")
                cluster.prepare()
                server = cluster.start(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
                url = cluster.url("gpts_ledger_bench")
            else:
                url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_MACHINE_DB)
            print(f"{target}:", flush=True)
            command = [
                sys.executable,
                __file__,
                "--target-url",
                url,
                "--seconds",
                str(args.seconds),
            ]
            command += ["--callers", *map(str, args.callers), "--sync", *args.sync]
            command += ["--ledgers", *args.ledgers, "--combine", *args.combine]
            finished = subprocess.run(command, capture_output=True, text=True)
            print("\n".join(finished.stdout.splitlines()[:-1]), flush=True)
            if finished.returncode != 0:
                raise SystemExit(finished.stderr[-4000:])
            results["targets"][target] = json.loads(finished.stdout.splitlines()[-1])
            if target == "embedded":
                cluster.stop()
                server.wait()
                cluster = None
    finally:
        if cluster is not None:
            cluster.stop()
    section = report(results, args)
    publish(section, heading=HEADING, generated_end=GENERATED_END, write=not args.no_write)


if __name__ == "__main__":
    main()
