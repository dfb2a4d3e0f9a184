"""A forward pass for Llama-architecture models with a fraction of transformers' operations.

transformers' Llama forward runs, per layer and per step, its module machinery, a mask
built for the whole batch, a rotary embedding computed anew, and (on the CPU, where
grouped-query attention with a mask is not handed to the kernel) a copy of every cached
key and value per query head. For SmolLM2-135M at one row that costs about as much as
reading the weights. This runner computes the same function from the model's own weights
and the engine's KV cache with fewer calls: cos/sin looked up from a table made once (the
values transformers computes for those positions), one boolean mask per lane and step,
and ``scaled_dot_product_attention(enable_gqa=True)``, which reads each cached key once.

It also runs a batch whose rows are held in several *lanes*, each a KV cache of its own
(inference/engine/scheduler.py): the linear layers see every row at once, attention runs
per lane over that lane's columns only, so a long prompt's row does not make every short
row attend over (and be padded to) its length.

Same operations, same order as transformers' LlamaDecoderLayer in float32 (RMSNorm in
float32, q·cos + rotate_half(q)·sin, softmax(QKᵀ/√d)V, down(silu(gate)·up)); the batching
tests compare greedy answers with ``generate``.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache


@dataclass
class LaneInput:
    """One lane of a forward pass: its cache, its mask over every column after this step's
    (1 = a real token), and how many of the pass's rows (in order) are its rows."""

    cache: DynamicCache
    mask: torch.Tensor
    rows: int


class LlamaRunner:
    def __init__(self, model: torch.nn.Module):
        config = model.config
        self.model = model
        self.decoder = model.model
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.layers = list(self.decoder.layers)
        rotary = self.decoder.rotary_emb
        positions = torch.arange(_max_positions(config), device=rotary.inv_freq.device)
        freqs = positions[..., None].float() * rotary.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        dtype = self.decoder.embed_tokens.weight.dtype
        self.cos = (emb.cos() * rotary.attention_scaling).to(dtype)
        self.sin = (emb.sin() * rotary.attention_scaling).to(dtype)

    @classmethod
    def for_model(cls, model: torch.nn.Module) -> "LlamaRunner | None":
        """A runner when ``model`` is a Llama whose every part this module computes alike."""
        config = model.config
        rope = getattr(config, "rope_parameters", None) or {}
        if (
            getattr(config, "model_type", None) != "llama"
            or getattr(config, "hidden_act", None) != "silu"
            or rope.get("rope_type", "default") != "default"
            or getattr(config, "attention_bias", False)
            or getattr(config, "mlp_bias", False)
            or getattr(config, "pretraining_tp", 1) != 1
            or getattr(config, "_attn_implementation", "sdpa") not in ("sdpa", "eager")
        ):
            return None
        return cls(model)

    def forward(
        self, input_ids: torch.Tensor, positions: torch.Tensor, lanes: list[LaneInput]
    ) -> torch.Tensor:
        """``input_ids`` and ``positions`` [rows, T]; each lane's cache gets the T new columns.
        Returns the logits of each row's last position, [rows, vocab]."""
        rows, steps = input_ids.shape
        hidden = self.decoder.embed_tokens(input_ids)
        cos = self.cos[positions].unsqueeze(1)  # [rows, 1, T, head_dim]
        sin = self.sin[positions].unsqueeze(1)
        masks = [_lane_mask(lane.mask, steps) for lane in lanes]
        bounds, start = [], 0
        for lane in lanes:
            bounds.append((start, start + lane.rows))
            start += lane.rows
        for index, layer in enumerate(self.layers):
            attention = layer.self_attn
            normed = _rms_norm(hidden, layer.input_layernorm)
            q = attention.q_proj(normed).view(rows, steps, self.heads, self.head_dim)
            k = attention.k_proj(normed).view(rows, steps, self.kv_heads, self.head_dim)
            v = attention.v_proj(normed).view(rows, steps, self.kv_heads, self.head_dim)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            outputs = []
            for lane, mask, (first, last) in zip(lanes, masks, bounds, strict=True):
                keys, values = lane.cache.update(k[first:last], v[first:last], index)
                outputs.append(
                    F.scaled_dot_product_attention(
                        q[first:last],
                        keys,
                        values,
                        attn_mask=mask,
                        scale=attention.scaling,
                        enable_gqa=self.kv_heads != self.heads,
                    )
                )
            attended = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
            attended = attended.transpose(1, 2).reshape(rows, steps, self.heads * self.head_dim)
            hidden = hidden + attention.o_proj(attended)
            mlp = layer.mlp
            normed = _rms_norm(hidden, layer.post_attention_layernorm)
            hidden = hidden + mlp.down_proj(F.silu(mlp.gate_proj(normed)) * mlp.up_proj(normed))
        last = _rms_norm(hidden[:, -1, :], self.decoder.norm)
        return self.model.lm_head(last)


def _rms_norm(hidden: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    variance = hidden.pow(2).mean(-1, keepdim=True)
    return norm.weight * (hidden * torch.rsqrt(variance + norm.variance_epsilon))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _lane_mask(mask: torch.Tensor, steps: int) -> torch.Tensor:
    """[rows, 1, T, columns] booleans: a real token, and (within this step's T new columns)
    not after the query's own column. A padding query attends to itself: a row of all
    False would give NaN, and its keys and values are cached (masked, but NaN · 0 is NaN)."""
    allowed = mask.bool()[:, None, None, :]
    if steps == 1:
        return allowed
    columns = mask.shape[1]
    past = columns - steps
    query = torch.arange(steps, device=mask.device)[:, None] + past
    key = torch.arange(columns, device=mask.device)[None, :]
    return (allowed & (key <= query)[None, None]) | (key == query)[None, None]


def _max_positions(config) -> int:
    return int(getattr(config, "max_position_embeddings", 0) or 2048)
