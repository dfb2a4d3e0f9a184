"""A generation request as the engine sees it, and the events it produces.

The engine thread appends events (dicts shaped as in ``inference.protocol``) to the
request's queue; the thread that submitted the request reads them. ``cancel`` may be
called from any thread: the engine honours it at its next step boundary.
"""

import queue
import threading
import time
from dataclasses import dataclass, field

import torch

from inference.engine.model_cache import LoadedModel
from inference.engine.sampling import NEUTRAL, Steering, make_generator
from inference.engine.text import IncrementalDecoder, StopMatcher
from inference.protocol import DELTA, DONE, ERROR, FINISH, START

MAX_TOP_LOGPROBS = 20


class ContextTooLong(ValueError):
    """The prompt leaves no room for a single new token in the model's context."""


@dataclass(eq=False)
class Choice:
    request: "GenerationRequest"
    index: int
    generator: torch.Generator
    decoder: IncrementalDecoder
    matcher: StopMatcher
    tokens: int = 0
    finish_reason: str | None = None
    token_ids: list[int] = field(default_factory=list)
    # The last token's [text, logprob, [[alternative text, logprob], …]] until its delta is sent.
    logprob: list | None = None


class GenerationRequest:
    def __init__(
        self,
        *,
        model: LoadedModel,
        prompt_ids: list[int],
        max_tokens: int,
        temperature: float,
        top_p: float,
        n: int,
        stop: list[str],
        seed: int | None,
        steering: Steering = NEUTRAL,
        logprobs: int | None = None,
        wake=None,
    ):
        if not prompt_ids:
            raise ValueError("The prompt has no tokens.")
        if max_tokens < 1 or n < 1:
            raise ValueError("max_tokens and n must be at least 1.")
        if len(prompt_ids) >= model.max_positions:
            raise ContextTooLong(
                f"The prompt has {len(prompt_ids)} tokens; the model's context is {model.max_positions}."
            )
        vocab = model.model.config.get_text_config().vocab_size
        if any(not 0 <= int(token) < vocab for token in prompt_ids):
            raise ValueError("The prompt holds token ids outside the model's vocabulary.")
        if any(not 0 <= int(token) < vocab for token in steering.logit_bias):
            raise ValueError(
                f"'logit_bias' names token ids outside the model's vocabulary (0 to {vocab - 1})."
            )
        self.steering = steering
        if logprobs is not None and not 0 <= logprobs <= MAX_TOP_LOGPROBS:
            raise ValueError(f"'top_logprobs' must be between 0 and {MAX_TOP_LOGPROBS}.")
        self.logprobs = logprobs
        self.model = model
        self.prompt_ids = [int(token) for token in prompt_ids]
        self.max_tokens = max_tokens
        self.temperature = max(0.0, float(temperature))
        self.top_p = min(1.0, max(1e-6, float(top_p)))
        self.n = n
        self.stop = list(stop)
        self.events: queue.Queue[dict] = queue.Queue()
        self.done = threading.Event()
        self.cancel_reason: str | None = None
        self.submitted_at = time.monotonic()
        self.admitted_at: float | None = None
        self.first_token_at: float | None = None
        self.finished_at: float | None = None
        self._wake = wake
        self.choices = [
            Choice(
                request=self,
                index=index,
                # Choice i of a seeded request uses seed + i: n choices differ, reruns repeat.
                generator=make_generator(None if seed is None else seed + index),
                decoder=IncrementalDecoder(model.tokenizer, self.prompt_ids),
                matcher=StopMatcher(self.stop),
            )
            for index in range(n)
        ]

    @property
    def prompt_tokens(self) -> int:
        return len(self.prompt_ids)

    @property
    def completion_tokens(self) -> int:
        return sum(choice.tokens for choice in self.choices)

    @property
    def finished(self) -> bool:
        return self.done.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Asks the engine to stop this request ("cancelled", or "timeout" to end with an error)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
        if self._wake is not None:
            self._wake()

    # -- called by the engine thread ---------------------------------------------------

    def emit_start(self) -> None:
        self.admitted_at = time.monotonic()
        self.events.put({"type": START})

    def emit_delta(self, choice: Choice, text: str, tokens: int) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        event = {"type": DELTA, "index": choice.index, "text": text, "tokens": tokens}
        if choice.logprob is not None:
            event["logprobs"] = [choice.logprob]
            choice.logprob = None
        self.events.put(event)

    def finish_choice(self, choice: Choice, reason: str) -> None:
        choice.finish_reason = reason
        self.events.put(
            {
                "type": FINISH,
                "index": choice.index,
                "finish_reason": reason,
                "completion_tokens": choice.tokens,
            }
        )
        if all(c.finish_reason is not None for c in self.choices):
            self._close()

    def fail(self, code: str, message: str) -> None:
        if self.done.is_set():
            return
        for choice in self.choices:
            if choice.finish_reason is None:
                choice.finish_reason = "error"
        self.events.put(
            {
                "type": ERROR,
                "code": code,
                "message": message,
                "completion_tokens": self.completion_tokens,
            }
        )
        self.finished_at = time.monotonic()
        self.done.set()

    def _close(self) -> None:
        if self.cancel_reason == "timeout":
            self.fail("timeout", "The request took longer than the worker's time limit.")
            return
        # A request stopped before its prompt was wholly computed (cancelled while queued or
        # during its prefill) got nothing, and is charged nothing: no prompt tokens counted.
        computed = self.first_token_at is not None
        self.events.put(
            {
                "type": DONE,
                "prompt_tokens": self.prompt_tokens if computed else 0,
                "completion_tokens": self.completion_tokens,
            }
        )
        self.finished_at = time.monotonic()
        self.done.set()


@dataclass
class SchedulerStats:
    """Counters that show whether requests really share forward passes."""

    prefills: int = 0
    prefill_chunks: int = 0
    decode_steps: int = 0
    rows_decoded: int = 0
    max_rows: int = 0
    max_lanes: int = 0  # KV caches one model's batch was split into at once
    admitted: int = 0
    prefix_tokens_reused: int = 0
    by_rows: dict[int, int] = field(default_factory=dict)
