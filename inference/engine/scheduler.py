"""The decode loop: one engine thread per worker process, continuous batching per model.

Every request in flight for a model is a row (one per choice) of that model's running
batch. Each step of the loop:

1. admits newcomers: their prompts are prefilled together in one left-padded forward
   pass, the first token of every choice is sampled from it, and their KV cache is
   left-padded to the running batch's length and concatenated to it;
2. runs one decode forward pass for all rows of each model's batch, with an attention
   mask that hides the padding and per-row position ids (so padding never changes what
   a row computes);
3. samples a token per row with that row's own parameters, detokenizes, checks EOS,
   stop strings, token budget and cancellation, and removes finished rows from the
   batch (index_select on the cache), trimming padding columns nobody needs anymore.

Everything that touches torch runs in this one thread: worker threads only submit
requests and read their events, so any number of Celery tasks feed the same batch.
"""

import inspect
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from inference.engine.llama import LaneInput
from inference.engine.model_cache import LoadedModel
from inference.engine.prefill import Prefill
from inference.engine.prefix import MIN_PREFIX_TOKENS, Prefix, common_prefix_length
from inference.engine.requests import Choice, GenerationRequest, SchedulerStats
from inference.engine.sampling import NEUTRAL, Steering, choose_tokens, token_logprob
from inference.engine.threads import ThreadChooser

log = logging.getLogger(__name__)


# A newcomer group joins a lane when neither side would pad the other's rows to more than
# about twice their columns; otherwise (a long prompt among short answers) it gets a lane
# of its own, if the model's runner can attend per lane (inference/engine/llama.py).
LANE_SLACK_COLUMNS = 256


def lanes_fit(columns: int, other: int, slack: int = LANE_SLACK_COLUMNS) -> bool:
    return max(columns, other) <= 2 * min(columns, other) + slack


class Lane:
    """Rows of a batch that share one KV cache, left-padded to the same columns."""

    def __init__(self, cache: DynamicCache, mask: torch.Tensor):
        self.cache = cache
        self.mask = mask

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @property
    def columns(self) -> int:
        return self.mask.shape[1]

    def append(self, cache: DynamicCache, mask: torch.Tensor) -> None:
        length = max(self.columns, mask.shape[1])
        grow_old, grow_new = length - self.columns, length - mask.shape[1]
        for old, new in zip(self.cache.layers, cache.layers, strict=True):
            old.append_rows(new)
        self.mask = torch.cat([F.pad(self.mask, (grow_old, 0)), F.pad(mask, (grow_new, 0))], dim=0)

    def keep(self, rows: list[int]) -> None:
        """Keeps these rows, then drops padding columns that none of them attends to."""
        if len(rows) != self.rows:
            index = torch.tensor(rows, device=self.mask.device)
            self.cache.batch_select_indices(index)
            self.mask = self.mask.index_select(0, index)
        used = self.mask.any(dim=0).nonzero()
        first = int(used[0]) if used.numel() else 0
        if first > 0:
            for layer in self.cache.layers:
                layer.drop_leading(first)
            self.mask = self.mask[:, first:]


class Batch:
    """The running rows of one model: their lanes (KV caches), positions and next inputs.
    Rows are ordered lane by lane; ``choices``, ``positions`` and ``last_tokens`` follow
    that order."""

    def __init__(self, model: LoadedModel, lane_slack: int = LANE_SLACK_COLUMNS):
        self.model = model
        self.lane_slack = lane_slack
        self.lanes: list[Lane] = []
        self.positions = torch.zeros((0,), dtype=torch.long, device=model.device)
        self.last_tokens = torch.zeros((0,), dtype=torch.long, device=model.device)
        self.choices: list[Choice] = []

    @property
    def rows(self) -> int:
        return len(self.choices)

    def merge(self, *, cache, mask, positions, last_tokens, choices) -> None:
        lane_index = self._lane_for(mask.shape[1])
        if lane_index is None:
            self.lanes.append(Lane(cache, mask))
            at = self.rows
        else:
            self.lanes[lane_index].append(cache, mask)
            at = sum(lane.rows for lane in self.lanes[: lane_index + 1]) - len(choices)
        self.positions = torch.cat([self.positions[:at], positions, self.positions[at:]])
        self.last_tokens = torch.cat([self.last_tokens[:at], last_tokens, self.last_tokens[at:]])
        self.choices[at:at] = list(choices)

    def _lane_for(self, columns: int) -> int | None:
        if not self.lanes:
            return None
        if self.model.runner is None:  # transformers' forward: one cache, one lane
            return 0
        for index, lane in enumerate(self.lanes):
            if lanes_fit(lane.columns, columns, self.lane_slack):
                return index
        return None

    def compact(self) -> None:
        """Drops finished rows, empty lanes, and padding columns no remaining row attends to."""
        keep = [row for row, choice in enumerate(self.choices) if choice.finish_reason is None]
        if len(keep) == len(self.choices):
            return
        kept_set, start, lanes = set(keep), 0, []
        for lane in self.lanes:
            rows = [row - start for row in range(start, start + lane.rows) if row in kept_set]
            start += lane.rows
            if rows:
                lane.keep(rows)
                lanes.append(lane)
        self.lanes = lanes
        self.choices = [self.choices[row] for row in keep]
        index = torch.tensor(keep, dtype=torch.long, device=self.positions.device)
        self.positions = self.positions.index_select(0, index)
        self.last_tokens = self.last_tokens.index_select(0, index)


class Scheduler:
    def __init__(
        self,
        *,
        max_batch_rows: int = 32,
        max_prefill_tokens: int = 4096,
        prefill_chunk_tokens: int = 256,
        lane_slack: int = LANE_SLACK_COLUMNS,
        threads: int = 0,
        share_prefixes: bool = True,
    ):
        """``threads``: the most torch threads a step may use (0: as many as torch has now);
        each step uses 1 or that many, whichever has been faster (inference/engine/threads.py).
        ``share_prefixes``: compute a prompt start that requests share once (a system prompt,
        a GPT's instructions); off, every prompt is computed whole (bench/gpt_ttft.py)."""
        self.max_batch_rows = max_batch_rows
        self.max_prefill_tokens = max_prefill_tokens
        self.prefill_chunk_tokens = prefill_chunk_tokens
        self.lane_slack = lane_slack
        self.share_prefixes = share_prefixes
        self._threads = ThreadChooser(threads or torch.get_num_threads())
        self.stats = SchedulerStats()
        self._pending: deque[GenerationRequest] = deque()
        self._batches: dict[LoadedModel, Batch] = {}
        self._prefilling: dict[LoadedModel, Prefill] = {}
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[], None]] = []
        # Weak: a model evicted from the cache must not be kept alive by the scheduler.
        self._forward_kwargs: weakref.WeakKeyDictionary[LoadedModel, dict] = (
            weakref.WeakKeyDictionary()
        )
        self._prefixes: weakref.WeakKeyDictionary[LoadedModel, Prefix] = weakref.WeakKeyDictionary()
        self._last_prompt: weakref.WeakKeyDictionary[LoadedModel, list[int]] = (
            weakref.WeakKeyDictionary()
        )

    # -- any thread ------------------------------------------------------------------------

    def submit(
        self,
        *,
        model: LoadedModel,
        prompt_ids: list[int],
        max_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        stop: list[str] | tuple[str, ...] = (),
        seed: int | None = None,
        steering: Steering = NEUTRAL,
        logprobs: int | None = None,
        cancelled: bool = False,
    ) -> GenerationRequest:
        """Queues a request; it joins its model's batch at the next step boundary.

        ``cancelled`` (the client left while the job was queued) ends it at admission,
        without computing anything. Raises ContextTooLong / ValueError for a request that
        can never run.
        """
        request = GenerationRequest(
            model=model,
            prompt_ids=prompt_ids,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            n=n,
            stop=list(stop),
            seed=seed,
            steering=steering,
            logprobs=logprobs,
            wake=self._wake,
        )
        if cancelled:
            request.cancel_reason = "cancelled"
        with self._condition:
            self._pending.append(request)
            self._ensure_thread()
            self._condition.notify()
        return request

    def listen(self, callback: Callable[[], None]) -> None:
        """Calls ``callback`` (from the engine thread) after every step that may have
        produced events: once per step for the whole batch, not once per token."""
        self._listeners.append(callback)

    def busy_models(self) -> set[LoadedModel]:
        with self._condition:
            return (
                set(self._batches)
                | set(self._prefilling)
                | {request.model for request in self._pending}
            )

    def _wake(self) -> None:
        with self._condition:
            self._condition.notify()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="inference-engine", daemon=True)
            self._thread.start()

    # -- the engine thread -----------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                with self._condition:
                    while not self._pending and not self._batches and not self._prefilling:
                        self._condition.wait()
                    newcomers = list(self._pending)
                    self._pending.clear()
                try:
                    self._step(newcomers)
                except Exception:  # noqa: BLE001 - the loop must outlive any one bad step
                    log.exception("Engine step failed")
                for listener in self._listeners:
                    listener()
                # While idle, hold no request: it would keep an evicted model alive.
                newcomers = None

    def _step(self, newcomers: list[GenerationRequest]) -> None:
        admitted = self._admit(newcomers)
        for model, requests in admitted.items():
            for request in requests:
                request.emit_start()
            try:
                prefix = self._prefix_for(model, requests)
                self._prefilling[model] = Prefill(
                    model, requests, prefix, self._model_kwargs(model)
                )
            except Exception as exc:  # noqa: BLE001 - fail these requests, keep serving others
                self._prefill_failed(model, requests, exc)
        for model, prefill in list(self._prefilling.items()):
            if all(request.cancel_reason is not None for request in prefill.requests):
                del self._prefilling[model]  # nobody waits for this prompt any more
                for request in prefill.requests:
                    for choice in request.choices:
                        request.finish_choice(choice, "cancelled")
                continue
            try:
                self._threads.run(
                    "prefill", prefill.rows, lambda p=prefill: p.step(self.prefill_chunk_tokens)
                )
                self.stats.prefill_chunks += 1
                if prefill.complete:
                    del self._prefilling[model]
                    self._join(prefill)
            except Exception as exc:  # noqa: BLE001
                self._prefilling.pop(model, None)
                self._prefill_failed(model, prefill.requests, exc)
        for model, batch in list(self._batches.items()):
            self._apply_cancellations(batch)
            batch.compact()
            if batch.rows:
                try:
                    self._decode(batch)
                except Exception as exc:  # noqa: BLE001
                    log.exception("Decode step failed for %s", model.key)
                    for choice in batch.choices:
                        choice.request.fail(
                            "engine_error", f"The model failed while generating: {exc}"
                        )
                    batch.choices = []
                batch.compact()
            if not batch.rows:
                del self._batches[model]

    def _admit(
        self, newcomers: list[GenerationRequest]
    ) -> dict[LoadedModel, list[GenerationRequest]]:
        admitted: dict[LoadedModel, list[GenerationRequest]] = {}
        planned_rows: dict[LoadedModel, int] = {}
        planned_tokens: dict[LoadedModel, tuple[int, int]] = {}  # (requests, longest prompt)
        deferred: list[GenerationRequest] = []
        for request in newcomers:
            if request.cancel_reason is not None:
                request.emit_start()
                for choice in request.choices:
                    request.finish_choice(choice, "cancelled")
                continue
            model = request.model
            if model in self._prefilling:  # one group prefills at a time per model
                deferred.append(request)
                continue
            running = self._batches[model].rows if model in self._batches else 0
            rows = running + planned_rows.get(model, 0)
            count, longest = planned_tokens.get(model, (0, 0))
            padded = (count + 1) * max(longest, request.prompt_tokens)
            # Always admit into an empty batch, so an oversized request still runs (alone).
            over_rows = rows + request.n > self.max_batch_rows
            over_prefill = padded > self.max_prefill_tokens
            if rows > 0 and (over_rows or (count > 0 and over_prefill)):
                deferred.append(request)
                continue
            admitted.setdefault(model, []).append(request)
            planned_rows[model] = planned_rows.get(model, 0) + request.n
            planned_tokens[model] = (count + 1, max(longest, request.prompt_tokens))
        if deferred:
            with self._condition:
                self._pending.extendleft(reversed(deferred))
        return admitted

    def _model_kwargs(self, model: LoadedModel) -> dict:
        if model not in self._forward_kwargs:
            accepted = inspect.signature(model.model.forward).parameters
            self._forward_kwargs[model] = (
                {"logits_to_keep": 1} if "logits_to_keep" in accepted else {}
            )
        return self._forward_kwargs[model]

    @staticmethod
    def _prefill_failed(model: LoadedModel, requests: list[GenerationRequest], exc: Exception):
        log.exception("Prefill failed for %s", model.key)
        for request in requests:
            request.fail("engine_error", f"The model failed to process the prompt: {exc}")

    def _join(self, prefill: Prefill) -> None:
        """A complete prefill: samples each choice's first token and joins the running batch."""
        model, requests = prefill.model, prefill.requests
        cache, mask, logits = prefill.cache, prefill.mask, prefill.logits
        if prefill.shared:
            self.stats.prefix_tokens_reused += prefill.shared * len(requests)
        # n > 1: the prompt is computed once, then its cache row is repeated per choice.
        rows = [row for row, request in enumerate(requests) for _ in range(request.n)]
        if len(rows) != len(requests):
            index = torch.tensor(rows, device=model.device)
            cache.batch_select_indices(index)
            logits = logits.index_select(0, index)
            mask = mask.index_select(0, index)
        choices = [choice for request in requests for choice in request.choices]
        tokens = self._sample(logits, choices)
        self.stats.prefills += 1
        self.stats.admitted += len(requests)
        batch = self._batches.get(model) or self._batches.setdefault(
            model, Batch(model, self.lane_slack)
        )
        batch.merge(
            cache=cache,
            mask=mask,
            positions=torch.tensor([c.request.prompt_tokens for c in choices], device=model.device),
            last_tokens=torch.tensor(tokens, device=model.device),
            choices=choices,
        )
        for choice, token in zip(choices, tokens, strict=True):
            self._advance(choice, token)

    def _prefix_for(self, model: LoadedModel, requests: list[GenerationRequest]) -> Prefix | None:
        """The stored prefix if every newcomer starts with it, else a new one when the
        newcomers (or a newcomer and the previous prompt) share enough tokens."""
        if not self.share_prefixes:
            return None
        prompts = [request.prompt_ids for request in requests]
        previous = self._last_prompt.get(model)
        self._last_prompt[model] = prompts[-1]
        # Every newcomer keeps at least one token of its own: its logits give the first token.
        limit = min(len(prompt) for prompt in prompts) - 1
        stored = self._prefixes.get(model)
        if stored is not None:
            common = min(common_prefix_length([list(stored.tokens), *prompts]), limit)
            if common >= MIN_PREFIX_TOKENS:
                if common < len(stored):
                    stored = self._prefixes[model] = stored.truncated(common)
                return stored
        if len(prompts) == 1 and previous is None:
            return None  # nothing to compare with yet
        candidates = prompts if len(prompts) > 1 else [*prompts, previous]
        length = min(common_prefix_length(candidates), limit)
        if length < MIN_PREFIX_TOKENS:
            return None
        tokens = torch.tensor([prompts[0][:length]], device=model.device)
        cache = DynamicCache()
        model.model(
            input_ids=tokens,
            attention_mask=torch.ones_like(tokens),
            position_ids=torch.arange(length, device=model.device).unsqueeze(0),
            past_key_values=cache,
            use_cache=True,
            **self._model_kwargs(model),
        )
        prefix = Prefix(
            tokens=tuple(prompts[0][:length]),
            layers=[(layer.keys, layer.values) for layer in cache.layers],
        )
        self._prefixes[model] = prefix
        return prefix

    def _decode(self, batch: Batch) -> None:
        model = batch.model
        rows = batch.rows
        masks = [
            torch.cat([lane.mask, lane.mask.new_ones((lane.rows, 1))], dim=1)
            for lane in batch.lanes
        ]
        logits = self._threads.run("decode", rows, lambda: self._forward(batch, masks))
        for lane, mask in zip(batch.lanes, masks, strict=True):
            lane.mask = mask
        batch.positions = batch.positions + 1
        tokens = self._sample(logits, batch.choices)
        batch.last_tokens = torch.tensor(tokens, device=model.device)
        self.stats.decode_steps += 1
        self.stats.rows_decoded += rows
        self.stats.max_rows = max(self.stats.max_rows, rows)
        self.stats.max_lanes = max(self.stats.max_lanes, len(batch.lanes))
        self.stats.by_rows[rows] = self.stats.by_rows.get(rows, 0) + 1
        for choice, token in zip(batch.choices, tokens, strict=True):
            self._advance(choice, token)

    def _forward(self, batch: Batch, masks: list[torch.Tensor]) -> torch.Tensor:
        model = batch.model
        if model.runner is not None:
            return model.runner.forward(
                batch.last_tokens.unsqueeze(-1),
                batch.positions.unsqueeze(-1),
                [
                    LaneInput(lane.cache, mask, lane.rows)
                    for lane, mask in zip(batch.lanes, masks, strict=True)
                ],
            )
        (lane,) = batch.lanes
        return model.model(
            input_ids=batch.last_tokens.unsqueeze(-1),
            attention_mask=masks[0],
            position_ids=batch.positions.unsqueeze(-1),
            past_key_values=lane.cache,
            use_cache=True,
            **self._model_kwargs(model),
        ).logits[:, -1, :]

    @staticmethod
    def _sample(logits: torch.Tensor, choices: list[Choice]) -> list[int]:
        tokens = choose_tokens(
            logits,
            temperatures=[choice.request.temperature for choice in choices],
            top_ps=[choice.request.top_p for choice in choices],
            generators=[choice.generator for choice in choices],
            steered=[
                (row, choice.request.steering, choice.token_ids)
                for row, choice in enumerate(choices)
                if not choice.request.steering.neutral
            ],
        )
        for row, choice in enumerate(choices):
            if choice.request.logprobs is not None:
                choice.logprob = token_logprob(
                    logits[row],
                    tokens[row],
                    choice.request.logprobs,
                    choice.request.model.tokenizer,
                )
        return tokens

    @staticmethod
    def _advance(choice: Choice, token: int) -> None:
        """Accounts one new token of a choice: emits its text, finishes the choice if due."""
        request = choice.request
        choice.tokens += 1
        choice.token_ids.append(token)
        if token in request.model.eos_token_ids:
            text, _ = choice.matcher.finish(choice.decoder.flush())
            request.emit_delta(choice, text, 1)
            request.finish_choice(choice, "stop")
            return
        text, matched = choice.matcher.feed(choice.decoder.push(token))
        if matched:
            request.emit_delta(choice, text, 1)
            request.finish_choice(choice, "stop")
            return
        out_of_room = request.prompt_tokens + choice.tokens >= request.model.max_positions
        if choice.tokens >= request.max_tokens or out_of_room:
            tail, matched = choice.matcher.finish(choice.decoder.flush())
            request.emit_delta(choice, text + tail, 1)
            request.finish_choice(choice, "stop" if matched else "length")
            return
        request.emit_delta(choice, text, 1)

    @staticmethod
    def _apply_cancellations(batch: Batch) -> None:
        for choice in batch.choices:
            request = choice.request
            if request.cancel_reason is not None and choice.finish_reason is None:
                request.finish_choice(choice, "cancelled")
