"""Publishers' chat templates, rendered with bounds.

A chat template is Jinja that a publisher uploads with a model, and it is rendered for every
chat request. Jinja's sandbox stops a template from reaching Python, but not from looping for
minutes or building a string of gigabytes, and a template can pass the upload checks and do
that only for some messages. So templates are rendered in a small pool of separate processes
(``pebble``), each task with a time limit (the process is killed and replaced when it is
passed), each process with an address-space limit, and the text with a size limit; a template
over CHAT_TEMPLATE_MAX_CHARS is not rendered at all. The same bounds refuse a template at
upload (store/publishing/smoke_test.py).

The rendering is transformers' own (``render_jinja_template``, the function behind
``apply_chat_template``), with the same variables: the messages, the tokenizer's special
tokens, ``add_generation_prompt``.
"""

import logging
import os
import resource
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing import get_context

from django.conf import settings
from pebble import ProcessExpired, ProcessPool

log = logging.getLogger(__name__)

_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


class ChatTemplateError(Exception):
    """The template refused the messages (``raise_exception`` or a Jinja error), or went past
    a bound (``bounds``: the publisher's template, not the request, is at fault)."""

    def __init__(self, message: str, *, bounds: bool = False):
        super().__init__(message)
        self.bounds = bounds


def _start_renderer(memory_bytes: int) -> None:
    """Pool process start: its memory bound, and transformers' Jinja loaded before any task
    (so a task's time limit counts rendering only)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    import transformers.utils.chat_template_utils  # noqa: F401


def _render_here(template: str, messages: list, variables: dict, max_chars: int) -> tuple:
    """In a pool process: ("text", rendered) or ("refused" | "bounds", reason). Nothing is
    raised across the process boundary (a Jinja exception need not survive pickling)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        rendered, _ = render_jinja_template(
            conversations=[messages], chat_template=template, **variables
        )
    except MemoryError:
        return "bounds", "needed more memory than a chat template may use"
    except RecursionError:
        return "bounds", "recursed too deeply"
    except Exception as exc:  # noqa: BLE001 - any template failure is the answer
        text = str(exc).strip().splitlines()
        return "refused", (text[0] if text else type(exc).__name__)[:300]
    if len(rendered[0]) > max_chars:
        return "bounds", f"wrote more than {max_chars:,} characters"
    return "text", rendered[0]


def _renderers():
    """This process's pool (a forked child makes its own: the parent's threads are gone).

    Its processes come from multiprocessing's fork server, which imports only this module and
    transformers' Jinja: a fork of the web process would copy its threads' locks, and a spawn
    would run the web process's main script again."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            context = get_context("forkserver")
            context.set_forkserver_preload([__name__, "transformers.utils.chat_template_utils"])
            _pool = ProcessPool(
                max_workers=settings.CHAT_TEMPLATE_RENDERERS,
                initializer=_start_renderer,
                initargs=(settings.CHAT_TEMPLATE_MAX_MEMORY_BYTES,),
                context=context,
            )
            _pool_pid = os.getpid()
        return _pool


def _discard(pool) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.stop()


def render(*, template: str, messages: list[dict], variables: dict) -> str:
    """The prompt text ``template`` writes for ``messages`` (``variables``: the special
    tokens, ``add_generation_prompt``). Raises ChatTemplateError."""
    if len(template) > settings.CHAT_TEMPLATE_MAX_CHARS:
        raise ChatTemplateError(
            f"is {len(template):,} characters long; a chat template may have at most "
            f"{settings.CHAT_TEMPLATE_MAX_CHARS:,}",
            bounds=True,
        )

    seconds = settings.CHAT_TEMPLATE_SECONDS
    pool = _renderers()
    future = pool.schedule(
        _render_here,
        args=(template, messages, variables, settings.CHAT_TEMPLATE_MAX_OUTPUT_CHARS),
        timeout=seconds,
    )
    try:
        kind, value = future.result()
    except FutureTimeout as exc:
        raise ChatTemplateError(f"took longer than {seconds:g} s", bounds=True) from exc
    except ProcessExpired as exc:  # its renderer died under it (replaced by the pool)
        log.warning("A chat template's renderer died: %s", exc)
        raise ChatTemplateError("stopped its renderer", bounds=True) from exc
    except Exception:
        # The pool itself is broken (its processes cannot start): the next call makes anew.
        _discard(pool)
        raise
    if kind == "text":
        return value
    raise ChatTemplateError(value, bounds=kind == "bounds")


def warm(*, after_seconds: float = 3.0) -> None:
    """Starts this process's renderers in the background (they take a second or two), a
    little after the server started: a server that fails to start leaves none behind."""

    def start():
        try:
            render(template="{{ 1 }}", messages=[], variables={})
        except Exception:  # noqa: BLE001 - a chat request will meet and report the same
            log.exception("The chat template renderers did not start")

    timer = threading.Timer(after_seconds, start)
    timer.daemon = True
    timer.name = "chat-template-warm"
    timer.start()
