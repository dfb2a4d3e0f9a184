"""The training loop (worker side, torch + peft): LoRA adapters on a base model's attention
projections, trained on the answer tokens of each example, checkpointed, then merged into
the base weights and saved as an ordinary safetensors model folder the engine serves.

Deterministic for a seed: the adapters' initial values come from the seed, each epoch's
order from (seed, epoch), and each step's randomness (dropout) from (seed, step), so a run
resumed from a checkpoint trains the same batches as one that never stopped. On CUDA the
base weights are bf16 (fp16 with loss scaling where bf16 is missing) and the adapters
float32 under autocast; on the CPU everything is float32.
"""

import json
import math
import random
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer

from config.model_loading import causal_lm_from_pretrained
from inference.training.data import IGNORE, EncodedExample

BASE_LEARNING_RATE = 2e-4
LORA_RANK = 8
LORA_ALPHA = 16
# Attention projections by the names architectures give them.
ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "c_attn", "query_key_value", "Wqkv")


@dataclass(frozen=True)
class Plan:
    base_dir: Path
    examples: list[EncodedExample]
    validation: list[EncodedExample]
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int
    pad_id: int

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.n_epochs

    @property
    def learning_rate(self) -> float:
        return BASE_LEARNING_RATE * self.learning_rate_multiplier

    def batch(self, step: int) -> list[EncodedExample]:
        """The examples of ``step`` (1-based): epoch by epoch, each in its seeded order."""
        epoch, index = divmod(step - 1, self.steps_per_epoch)
        order = list(range(len(self.examples)))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        chosen = order[index * self.batch_size : (index + 1) * self.batch_size]
        return [self.examples[i] for i in chosen]


def _target_modules(model) -> list[str] | str:
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [name for name in ATTENTION_MODULES if name in names]
    return found or "all-linear"


def _tensors(batch: list[EncodedExample], pad_id: int, device):
    width = max(len(example.input_ids) for example in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        length = len(example.input_ids)
        ids[row, :length] = torch.tensor(example.input_ids)
        labels[row, :length] = torch.tensor(example.labels)
        mask[row, :length] = 1
    return ids.to(device), mask.to(device), labels.to(device)


class Trainer:
    def __init__(self, plan: Plan, *, device: torch.device, dtype: torch.dtype):
        self.plan = plan
        self.device = device
        self.dtype = dtype
        torch.manual_seed(plan.seed)
        base = causal_lm_from_pretrained(plan.base_dir, dtype=dtype)
        config = LoraConfig(
            r=LORA_RANK,
            lora_alpha=LORA_ALPHA,
            lora_dropout=0.0,
            target_modules=_target_modules(base),
            task_type="CAUSAL_LM",
        )
        self.model = get_peft_model(base, config).to(device)
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.parameters, lr=plan.learning_rate)
        half = device.type == "cuda" and dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if half else None
        self.step_seconds: deque[float] = deque(maxlen=20)

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast(device_type="cuda", dtype=self.dtype)
        return torch.autocast(device_type="cpu", enabled=False)

    def _lr(self, step: int) -> float:
        # Linear decay to a tenth over the run: a function of the step alone (resumable).
        progress = (step - 1) / max(1, self.plan.total_steps)
        return self.plan.learning_rate * (1.0 - 0.9 * progress)

    def train_step(self, step: int) -> tuple[float, int]:
        """One optimizer step on ``step``'s batch: (loss on its answer tokens, tokens)."""
        started = time.monotonic()
        self.model.train()
        torch.manual_seed(self.plan.seed * 1_000_003 + step)
        batch = self.plan.batch(step)
        ids, mask, labels = _tensors(batch, self.plan.pad_id, self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.model(input_ids=ids, attention_mask=mask, labels=labels).loss
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.step_seconds.append(time.monotonic() - started)
        return float(loss.detach()), sum(len(example.input_ids) for example in batch)

    @torch.no_grad()
    def validation_loss(self) -> float | None:
        """Mean loss per answer token over the validation examples."""
        if not self.plan.validation:
            return None
        self.model.eval()
        total, count = 0.0, 0
        for start in range(0, len(self.plan.validation), self.plan.batch_size):
            batch = self.plan.validation[start : start + self.plan.batch_size]
            ids, mask, labels = _tensors(batch, self.plan.pad_id, self.device)
            with self._autocast():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            shifted = labels[:, 1:]
            losses = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                shifted.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            )
            total += float(losses)
            count += int((shifted != IGNORE).sum())
        return total / count if count else None

    def seconds_per_step(self) -> float | None:
        return sum(self.step_seconds) / len(self.step_seconds) if self.step_seconds else None

    # --- checkpoints ---------------------------------------------------------------

    def checkpoint_save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        adapters = {
            name: tensor.detach().to("cpu").contiguous()
            for name, tensor in get_peft_model_state_dict(self.model).items()
        }
        save_file(adapters, str(folder / "adapters.safetensors"))
        torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
        if self.scaler is not None:
            (folder / "scaler.json").write_text(json.dumps(self.scaler.state_dict()))

    def checkpoint_load(self, folder: Path) -> None:
        set_peft_model_state_dict(
            self.model, load_file(str(folder / "adapters.safetensors"), device=str(self.device))
        )
        # Tensors and numbers only: weights_only refuses anything that would run code.
        state = torch.load(folder / "optimizer.pt", map_location=self.device, weights_only=True)
        self.optimizer.load_state_dict(state)
        if self.scaler is not None and (folder / "scaler.json").exists():
            self.scaler.load_state_dict(json.loads((folder / "scaler.json").read_text()))

    def merged_save(self, folder: Path) -> None:
        """The base weights with the adapters merged in: a plain model folder (config,
        safetensors, tokenizer), in the precision the base was trained in."""
        folder.mkdir(parents=True, exist_ok=True)
        merged = self.model.merge_and_unload()
        merged.save_pretrained(str(folder), safe_serialization=True)
        tokenizer = AutoTokenizer.from_pretrained(
            str(self.plan.base_dir), local_files_only=True, trust_remote_code=False
        )
        tokenizer.save_pretrained(str(folder))
