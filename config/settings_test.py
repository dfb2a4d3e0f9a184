"""Settings for pytest: sets the test environment, then loads config.settings.

DATABASE_URL and REDIS_URL name PostgreSQL and Redis. Under CI=true they are required:
a suite that silently fell back to SQLite would not test what production runs. Elsewhere,
without REDIS_URL, the suite starts the embedded Redis server for itself.
Each xdist worker gets its own Redis database so that workers never see each
other's streams and counters (PostgreSQL databases get a suffix from pytest-django).
"""

import os

os.environ["DJANGO_ENV"] = "test"
# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
if _CI:
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"CI=true but {', '.join(missing)} not set: the suite needs real services."
        )

if not os.environ.get("REDIS_URL"):
    from pathlib import Path

    from config.embedded_redis import start_for_this_process

    _here = Path(__file__).resolve().parent.parent / "var" / "test"
    os.environ["REDIS_URL"] = start_for_this_process(_here / f"redis-{os.getpid()}")

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    if _db.isdigit():
        os.environ["REDIS_URL"] = f"{base}/{int(_db) + 1 + int(_worker[2:])}"

# Files (uploads, converted models) go under a folder per database, so that runs against
# different databases (parallel runs, xdist workers) never write over each other's files.
_db_name = os.environ.get("DATABASE_URL", "sqlite").rstrip("/").rsplit("/", 1)[-1] or "default"
_suffix = f"-{_worker}" if _worker else ""
os.environ.setdefault(
    "VAR_DIR",
    os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test", f"{_db_name}{_suffix}"),
)
os.makedirs(os.environ["VAR_DIR"], exist_ok=True)

from config.settings import *  # noqa: E402,F403
