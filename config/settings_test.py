"""Settings for pytest: sets the test environment, then loads config.settings.

The suite needs no machine services: without DATABASE_URL it starts the embedded PostgreSQL
server (one for the whole run, under var/test/postgres, shared by the xdist workers, each
with a database of its own from pytest-django), and without REDIS_URL an embedded Redis
server per process. DATABASE_URL and REDIS_URL, when set, name servers to use instead.
Each xdist worker gets its own Redis database so that workers never see each other's
streams and counters.
"""

import atexit
import os
from pathlib import Path

os.environ["DJANGO_ENV"] = "test"
# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

_TEST_VAR = Path(__file__).resolve().parent.parent / "var" / "test"

if not os.environ.get("DATABASE_URL"):
    from config.embedded_postgres import join_shared, leave_shared

    _cluster = join_shared(_TEST_VAR / "postgres", log_path=_TEST_VAR / "postgres.log")
    atexit.register(leave_shared, _cluster)
    os.environ["DATABASE_URL"] = _cluster.url()

if not os.environ.get("REDIS_URL"):
    from config.embedded_redis import start_for_this_process

    os.environ["REDIS_URL"] = start_for_this_process(_TEST_VAR / f"redis-{os.getpid()}")

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    if _db.isdigit():
        os.environ["REDIS_URL"] = f"{base}/{int(_db) + 1 + int(_worker[2:])}"

# Files (uploads, converted models) go under a folder per database, so that runs against
# different databases (parallel runs, xdist workers) never write over each other's files.
_db_name = os.environ["DATABASE_URL"].rstrip("/").rsplit("/", 1)[-1] or "default"
_suffix = f"-{_worker}" if _worker else ""
os.environ.setdefault("VAR_DIR", str(_TEST_VAR / f"{_db_name}{_suffix}"))
os.makedirs(os.environ["VAR_DIR"], exist_ok=True)

# Prometheus samples: the web servers and workers the suite starts inherit this folder;
# tests/conftest.py empties it once per test process, before any of them starts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(os.environ["VAR_DIR"]) / "metrics"))

# Hypothesis (under schemathesis: tests/reliability/test_fuzz_schema.py) keeps its caches
# under var/test rather than in a .hypothesis folder wherever pytest runs.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(_TEST_VAR / "hypothesis"))

from config.settings import *  # noqa: E402,F403
