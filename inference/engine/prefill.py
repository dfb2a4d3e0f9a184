"""The prompts of newcomers, computed in chunks between decode steps.

A group of newcomers admitted together is prefilled as one left-padded batch:
``[shared prefix][padding][own tokens]`` per row, the padding masked, positions counted
from the mask. The padded columns are computed a chunk at a time, at most
``chunk_tokens`` padded tokens per engine step, and the running batch decodes one token
between two chunks: a long prompt delays the answers already streaming by one chunk per
token instead of by its whole prefill. Causal attention makes the chunks' keys and
values those of one pass (the batching tests compare the answers with ``generate``).
"""

import torch

from inference.engine.kv_cache import SlackLayer, new_cache
from inference.engine.llama import LaneInput
from inference.engine.model_cache import LoadedModel
from inference.engine.prefix import Prefix
from inference.engine.requests import GenerationRequest


class Prefill:
    def __init__(
        self,
        model: LoadedModel,
        requests: list[GenerationRequest],
        prefix: Prefix | None,
        forward_kwargs: dict,
    ):
        self.model = model
        self.requests = requests
        self.forward_kwargs = forward_kwargs
        device = model.device
        shared = len(prefix) if prefix is not None else 0
        suffixes = [request.prompt_ids[shared:] for request in requests]
        longest = max(len(suffix) for suffix in suffixes)
        rows = len(requests)
        input_ids = torch.zeros((rows, longest), dtype=torch.long)
        mask = torch.zeros((rows, longest), dtype=torch.long)
        for row, suffix in enumerate(suffixes):
            input_ids[row, longest - len(suffix) :] = torch.tensor(suffix)
            mask[row, longest - len(suffix) :] = 1
        self.input_ids, mask = input_ids.to(device), mask.to(device)
        self.positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        self.cache = new_cache()
        if prefix is not None:
            self.cache.layers = [SlackLayer() for _ in prefix.layers]
            for layer, (keys, values) in zip(self.cache.layers, prefix.layers, strict=True):
                layer.assign(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1))
            mask = torch.cat([mask.new_ones((rows, shared)), mask], dim=1)
        self.mask = mask  # every column: prefix, padding and own tokens
        self.shared = shared
        self.done_columns = 0
        self.logits: torch.Tensor | None = None  # the last position's, once complete
        self.balance = attention_balance(model.model.config)

    @property
    def columns(self) -> int:
        return self.input_ids.shape[1]

    @property
    def complete(self) -> bool:
        return self.done_columns >= self.columns

    @property
    def rows(self) -> int:
        return self.input_ids.shape[0]

    @property
    def padded_tokens(self) -> int:
        return self.input_ids.numel()

    def step(self, chunk_tokens: int) -> None:
        """Computes the next chunk: as many columns as fit ``chunk_tokens`` (at least one),
        fewer as the context grows, since every token of a chunk attends over all of it."""
        rows = self.input_ids.shape[0]
        start = self.done_columns
        context = self.shared + start
        scale = self.balance / (self.balance + context) if self.balance else 1.0
        end = min(self.columns, start + max(1, int(chunk_tokens * scale) // rows))
        input_ids, positions = self.input_ids[:, start:end], self.positions[:, start:end]
        mask = self.mask[:, : self.shared + end]
        runner = self.model.runner
        if runner is not None:
            logits = runner.forward(input_ids, positions, [LaneInput(self.cache, mask, rows)])
        else:
            logits = self.model.model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=self.cache,
                use_cache=True,
                **self.forward_kwargs,
            ).logits[:, -1, :]
        self.done_columns = end
        if self.complete:
            self.logits = logits


def attention_balance(config) -> int:
    """The context length at which a token's attention costs as much as its linear layers
    (multiply-adds per token: the linear layers' weights; per context column: 2 × heads ×
    head_dim); 0 when the config does not tell. SmolLM2-135M: about 3,000."""
    hidden = getattr(config, "hidden_size", None)
    heads = getattr(config, "num_attention_heads", None)
    intermediate = getattr(config, "intermediate_size", None)
    if not (hidden and heads and intermediate):
        return 0
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    linear = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    linear += (3 if getattr(config, "hidden_act", "") == "silu" else 2) * hidden * intermediate
    return linear // (2 * heads * head_dim)
