"""`make run`'s own stack, started by the suite: config/launcher.py in a process of its own
with a fresh var/ folder (its embedded PostgreSQL, Redis, localstripe, worker, beat and web
server), on free ports so that it never meets a store a developer is running.

Tests drive it the way a user does (HTTP, the openai SDK, manage.py) and read its database
to check the money afterwards.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from config.embedded_postgres import Cluster, database_url
from config.ports import free_port
from tests.support.processes import ROOT

READY_LINE = "GPT Store is running at"
# Settings of the suite's own processes that must not leak into the launched store.
SUITE_ONLY = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_ENV",
    "DJANGO_SETTINGS_MODULE",
    "MEDIA_ROOT",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "PYTEST_XDIST_WORKER",
    "PYTEST_CURRENT_TEST",
    # The launcher empties its metrics folder at start; the suite's own must survive that.
    "PROMETHEUS_MULTIPROC_DIR",
)


class LaunchedStore:
    def __init__(self, var_dir: Path, **env: str) -> None:
        self.var_dir = Path(var_dir)
        self.port = free_port()
        self.redis_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.var_dir.parent / f"launcher-{self.port}.log"
        self.env = {key: value for key, value in os.environ.items() if key not in SUITE_ONLY}
        self.env.update(
            VAR_DIR=str(self.var_dir),
            PORT=str(self.port),
            EMBEDDED_REDIS_PORT=str(self.redis_port),
            LOCALSTRIPE_PORT=str(free_port()),
            DEMO_TOY_TRAIN_SECONDS="2",
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.process: subprocess.Popen | None = None

    # --- life -------------------------------------------------------------------------

    def start(self, timeout: float = 300) -> "LaunchedStore":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.launcher"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"The launcher exited early:\n{self.log()[-6000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"The store did not start in {timeout:.0f}s:\n{self.log()}")
            time.sleep(0.5)
        return self

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a user stops `make run`; the launcher's exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(
                f"The launcher did not stop in {timeout}s:\n{self.log()[-4000:]}"
            ) from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def postgres_pid(self) -> int | None:
        return Cluster(self.var_dir / "postgres").running_pid()

    def child_pid(self, *words: str) -> int | None:
        """The pid of the launcher's child whose command line holds every one of ``words``."""
        for pid in _children(self.process.pid):
            arguments = _cmdline(pid)
            if all(any(word in argument for argument in arguments) for word in words):
                return pid
        return None

    def process_tree(self) -> set[int]:
        """The launcher and every process below it (its own-session children included)."""
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo.extend(_children(pid))
        return found

    def wait_for_log(self, text: str, *, after: int = 0, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log()[after:]:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not in the launcher's output:\n{self.log()[-4000:]}"
                )
            time.sleep(0.2)

    # --- talking to it ----------------------------------------------------------------

    @property
    def database_url(self) -> str:
        return database_url(self.var_dir / "postgres")

    def manage_env(self) -> dict[str, str]:
        return {
            **self.env,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
        }

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.manage_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def api_key(self, email: str) -> str:
        result = self.manage("create_api_key", email, "--name", "launched-store-test")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql, params).fetchall()

    def healthz(self) -> httpx.Response:
        return httpx.get(f"{self.base}/healthz", timeout=10)


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry.name))
    return children


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
