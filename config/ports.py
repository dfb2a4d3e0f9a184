"""Local TCP ports: a free one, whether one listens, waiting until one does."""

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port: int, what: str, process: subprocess.Popen | None, timeout: float = 30) -> None:
    """Returns once ``port`` listens; SystemExit if ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what} exited before it listened on port {port}.")
        time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on port {port} within {timeout:.0f}s.")
