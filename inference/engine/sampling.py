"""Choosing the next token of every row of a batch, each with its own parameters.

First each row's own steering, as OpenAI defines it: presence and frequency penalties
over the tokens the row generated so far, then the request's logit biases. Greedy rows
(temperature 0) take the argmax, so that the engine's greedy answers equal transformers' own
``generate``. Sampled rows apply temperature, then nucleus (top-p) filtering, then draw with
the row's own ``torch.Generator``: a seeded request gets the same tokens whatever else shares
its batch.
"""

import secrets
from dataclasses import dataclass, field
from functools import cached_property

import torch


@dataclass(frozen=True)
class Steering:
    """A request's penalties (OpenAI's -2..2) and logit biases (token id -> -100..100)."""

    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)

    @property
    def neutral(self) -> bool:
        return not (self.presence_penalty or self.frequency_penalty or self.logit_bias)

    @cached_property
    def bias_tokens(self) -> torch.Tensor:
        """The biased token ids, built once per request rather than at every step."""
        return torch.tensor(list(self.logit_bias), dtype=torch.long)

    @cached_property
    def bias_values(self) -> torch.Tensor:
        return torch.tensor(list(self.logit_bias.values()), dtype=torch.float32)


NEUTRAL = Steering()


def steer(logits: torch.Tensor, rows: list[tuple[int, Steering, list[int]]]) -> torch.Tensor:
    """Applies each listed row's steering given the tokens it generated so far:
    logit[t] -= count[t] * frequency + (count[t] > 0) * presence; logit[t] += bias[t]."""
    logits = logits.clone()
    for row, steering, generated in rows:
        if generated and (steering.presence_penalty or steering.frequency_penalty):
            ids = torch.tensor(generated, device=logits.device)
            counts = torch.bincount(ids, minlength=logits.shape[-1]).to(logits.dtype)
            logits[row] -= (
                counts * steering.frequency_penalty + (counts > 0) * steering.presence_penalty
            )
        if steering.logit_bias:
            logits[row].index_add_(
                0,
                steering.bias_tokens.to(logits.device),
                steering.bias_values.to(logits.device, logits.dtype),
            )
    return logits


def make_generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed if seed is not None else secrets.randbits(63))
    return generator


def top_p_filter(logits: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keeps, per row, the smallest set of tokens whose probability reaches top_p."""
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = sorted_logits.softmax(dim=-1)
    # Probability mass before each token; a token is dropped when that mass already reaches p.
    before = probs.cumsum(dim=-1) - probs
    drop_sorted = before >= top_p.unsqueeze(-1)
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def choose_tokens(
    logits: torch.Tensor,
    *,
    temperatures: list[float],
    top_ps: list[float],
    generators: list[torch.Generator],
    steered: list[tuple[int, Steering, list[int]]] = (),
) -> list[int]:
    """``logits`` is [rows, vocab]; returns one token id per row. ``steered`` lists the rows
    with a non-neutral Steering and the tokens each generated so far."""
    logits = logits.float()
    if steered:
        logits = steer(logits, list(steered))
    chosen = logits.argmax(dim=-1).tolist()
    sampled = [row for row, temperature in enumerate(temperatures) if temperature > 0]
    if not sampled:
        return chosen
    index = torch.tensor(sampled, device=logits.device)
    temps = torch.tensor([temperatures[r] for r in sampled], device=logits.device)
    scaled = logits.index_select(0, index) / temps.unsqueeze(-1)
    # A temperature so close to 0 (1e-308 is a valid request) that the scaled logits overflow
    # is at its limit, the argmax, which ``chosen`` already holds for that row.
    overflowed = (torch.isposinf(scaled) | torch.isnan(scaled)).any(dim=-1).tolist()
    ps = torch.tensor([top_ps[r] for r in sampled], device=logits.device)
    if bool((ps < 1.0).any()):
        scaled = top_p_filter(scaled, ps)
    probs = scaled.softmax(dim=-1).cpu()
    for position, row in enumerate(sampled):
        if overflowed[position]:
            continue
        chosen[row] = int(torch.multinomial(probs[position], 1, generator=generators[row]).item())
    return chosen


def token_logprob(logits: torch.Tensor, token: int, alternatives: int, tokenizer) -> list:
    """The chosen token's log probability under the model (raw logits: before penalties,
    biases and temperature, as OpenAI reports them) and the ``alternatives`` likeliest
    tokens': [text, logprob, [[text, logprob], …]]."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    top = []
    if alternatives:
        values, ids = logprobs.topk(alternatives)
        top = [
            [tokenizer.decode([int(i)]), float(v)]
            for v, i in zip(values.tolist(), ids.tolist(), strict=True)
        ]
    return [tokenizer.decode([token]), float(logprobs[token]), top]
