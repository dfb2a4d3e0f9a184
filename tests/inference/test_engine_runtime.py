"""Each worker process builds its own engine on first use: importing the task module loads
nothing, and a process forked from one that already has an engine (Celery's prefork pool)
gets a new, empty one instead of the parent's threads and models."""

import multiprocessing
import os
import subprocess
import sys

from inference.engine import runtime
from inference.protocol import GENERATE_TASK
from tests.support.processes import ROOT


def test_importing_the_worker_side_loads_no_engine_and_no_model():
    code = (
        "import django; django.setup()\n"
        "import inference.tasks, inference.engine\n"
        "from inference.engine import runtime\n"
        "from config.celery import app\n"
        f"assert {GENERATE_TASK!r} in app.tasks\n"
        "assert runtime._engine is None, 'an engine was built at import time'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def _report_engine(parent_engine_id: int, answers) -> None:
    engine = runtime.process_engine()
    answers.put(
        (id(engine) != parent_engine_id, engine.cache.resident(), engine.scheduler.stats.admitted)
    )


def test_a_forked_process_builds_its_own_empty_engine(tmp_path, settings, monkeypatch):
    # This process's engine (if another test built one) comes back afterwards.
    monkeypatch.setattr(runtime, "_engine", None)
    monkeypatch.setattr(runtime, "_engine_pid", None)
    settings.MEDIA_ROOT = tmp_path
    parent = runtime.process_engine()
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_report_engine, args=(id(parent), answers))
    child.start()
    try:
        fresh, resident, admitted = answers.get(timeout=60)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert fresh
    assert (resident, admitted) == ([], 0)
    assert runtime.process_engine() is parent  # the parent keeps its own
