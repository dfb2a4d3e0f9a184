"""Models loaded in this worker process, least recently used first out under a byte budget.

A model is a Hugging Face folder (config.json, tokenizer files, *.safetensors) under
MEDIA_ROOT. Loading happens on first use, in the thread that asked for it, so it always
happens after the worker forked and never blocks the engine's decode loop. Models that
have requests in flight are pinned: evicting one would not free its memory anyway.

A model is loaded in the serving precision its version was published with
(``ListingVersion.serving_precision``; inference/engine/packing.py), so one folder may be
resident twice, once per precision.
"""

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import AutoTokenizer

from config.model_loading import causal_lm_from_pretrained
from inference.engine.device import select_device
from inference.engine.llama import LlamaRunner
from inference.engine.packing import PRECISIONS, pack_linears, packing_supported

log = logging.getLogger(__name__)


class ModelUnavailable(Exception):
    """The model folder is missing, outside the storage root, or cannot be loaded."""


@dataclass(eq=False)
class LoadedModel:
    key: str
    path: Path
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    nbytes: int
    eos_token_ids: frozenset[int]
    max_positions: int
    load_seconds: float
    packed: bool = False  # linear weights prepacked for oneDNN (inference/engine/packing.py)
    precision: str = "float32"  # of the packed linear weights
    runner: LlamaRunner | None = None  # our own forward pass (inference/engine/llama.py)
    pins: int = 0
    last_used: float = field(default_factory=time.monotonic)


def parameter_bytes(model: torch.nn.Module) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    seen: set[int] = set()
    total = 0
    for tensor in tensors:
        # Tied weights (lm_head = embeddings) are one storage; count it once.
        pointer = tensor.data_ptr()
        if pointer in seen:
            continue
        seen.add(pointer)
        total += tensor.numel() * tensor.element_size()
    return total


def estimate_bytes(path: Path, dtype: torch.dtype) -> int:
    """Bytes the model will take once loaded, from its safetensors headers (no tensor read)."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    total = 0
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():
                shape = handle.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                total += count * itemsize
    return total


def _eos_ids(model, tokenizer) -> frozenset[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if configured is None:
        configured = getattr(model.config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    return frozenset(ids)


def max_positions(model, tokenizer) -> int:
    """The longest sequence the model takes: its config's position count, else the
    tokenizer's limit, else 2,048."""
    config = (
        model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    )
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", 0)
    return value if 0 < value < 10**7 else 2048


class ModelCache:
    def __init__(
        self,
        *,
        root: Path,
        budget_bytes: int,
        device_setting: str = "auto",
        pack_weights: bool = True,
        own_forward: bool = True,
    ):
        self.pack_weights = pack_weights
        self.own_forward = own_forward
        self.root = Path(root).resolve()
        self.budget_bytes = budget_bytes
        self.device_setting = device_setting
        self._entries: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per model: concurrent first requests for a model load it once.
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    # -- public -------------------------------------------------------------------------

    def acquire(self, model_dir: str, precision: str = "float32") -> LoadedModel:
        """Returns the model in ``model_dir`` served in ``precision``, loading it if needed,
        pinned until ``release``."""
        if precision not in PRECISIONS:
            raise ModelUnavailable(
                f"Serving precision must be one of {sorted(PRECISIONS)}, got {precision!r}."
            )
        key = (self._key(model_dir), precision)
        with self._lock:
            entry = self._hit(key)
            if entry is not None:
                return entry
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                entry = self._hit(key)
                if entry is not None:
                    return entry
            entry = self._load(key)
            with self._lock:
                entry.pins += 1
                self._entries[key] = entry
                self._entries.move_to_end(key)
                self._evict(keep=key)
                self._loading.pop(key, None)
            return entry

    def release(self, entry: LoadedModel) -> None:
        with self._lock:
            entry.pins = max(0, entry.pins - 1)
            entry.last_used = time.monotonic()
            self._evict(keep=None)

    def resident(self) -> list[str]:
        """Folders of the loaded models, least recently used first."""
        with self._lock:
            return list(dict.fromkeys(folder for folder, _ in self._entries))

    def used_bytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    # -- internals ----------------------------------------------------------------------

    def _key(self, model_dir: str) -> str:
        if not model_dir:
            raise ModelUnavailable("No model folder given.")
        path = (self.root / model_dir).resolve()
        if path != self.root and self.root not in path.parents:
            raise ModelUnavailable("The model folder is outside the storage root.")
        return str(path.relative_to(self.root))

    def _hit(self, key: tuple[str, str]) -> LoadedModel | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.pins += 1
            entry.last_used = time.monotonic()
            self._entries.move_to_end(key)
        return entry

    def _evict(self, *, keep: tuple[str, str] | None) -> None:
        used = sum(entry.nbytes for entry in self._entries.values())
        for key in list(self._entries):
            if used <= self.budget_bytes:
                break
            entry = self._entries[key]
            if key == keep or entry.pins > 0:
                continue
            del self._entries[key]
            used -= entry.nbytes
            log.info("Evicted model %s (%d MB) from the cache", key, entry.nbytes // 2**20)
        if used > self.budget_bytes:
            log.warning(
                "Models in use take %d MB, over the %d MB cache budget",
                used // 2**20,
                self.budget_bytes // 2**20,
            )

    def _make_room(self, needed: int) -> None:
        with self._lock:
            used = sum(entry.nbytes for entry in self._entries.values())
            for key in list(self._entries):
                if used + needed <= self.budget_bytes:
                    break
                entry = self._entries[key]
                if entry.pins > 0:
                    continue
                del self._entries[key]
                used -= entry.nbytes
                log.info("Evicted model %s to make room", key)

    def _load(self, model: tuple[str, str]) -> LoadedModel:
        key, precision_name = model
        path = self.root / key
        if not (path / "config.json").is_file() or not list(path.glob("*.safetensors")):
            raise ModelUnavailable(f"No safetensors model in {key!r}.")
        device, dtype = select_device(self.device_setting)
        try:
            self._make_room(estimate_bytes(path, dtype))
        except Exception as exc:  # noqa: BLE001 - a bad header is a bad model
            raise ModelUnavailable(f"Unreadable weights in {key!r}: {exc}") from exc
        started = time.monotonic()
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                str(path), local_files_only=True, trust_remote_code=False
            )
            model = causal_lm_from_pretrained(path, dtype=dtype)
        except Exception as exc:  # noqa: BLE001 - any loader failure means this model cannot serve
            raise ModelUnavailable(f"Cannot load {key!r}: {exc}") from exc
        model.to(device)
        model.eval()
        if not packing_supported(device, dtype, PRECISIONS[precision_name]):
            # CUDA has its own dtype (device.py); a CPU without native bfloat16 serves float32.
            precision_name = "float32"
        packed = (
            pack_linears(model, PRECISIONS[precision_name])
            if self.pack_weights and packing_supported(device, dtype, PRECISIONS[precision_name])
            else 0
        )
        seconds = time.monotonic() - started
        entry = LoadedModel(
            key=key,
            path=path,
            model=model,
            tokenizer=tokenizer,
            device=device,
            dtype=dtype,
            nbytes=parameter_bytes(model) + packed,
            packed=bool(packed),
            precision=precision_name if packed else "float32",
            eos_token_ids=_eos_ids(model, tokenizer),
            max_positions=max_positions(model, tokenizer),
            load_seconds=seconds,
            runner=LlamaRunner.for_model(model) if self.own_forward else None,
        )
        log.info(
            "Loaded model %s on %s/%s%s%s in %.1fs (%d MB)",
            key,
            device,
            dtype,
            f" (linear weights packed for oneDNN, {entry.precision})" if packed else "",
            " (own Llama forward)" if entry.runner else "",
            seconds,
            entry.nbytes // 2**20,
        )
        return entry
