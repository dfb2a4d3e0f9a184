"""Choosing the next token of every row of a batch, each with its own parameters.

Greedy rows (temperature 0) take the argmax, so that the engine's greedy answers equal
transformers' own ``generate``. Sampled rows apply temperature, then nucleus (top-p)
filtering, then draw with the row's own ``torch.Generator``: a seeded request gets the
same tokens whatever else shares its batch.
"""

import secrets

import torch


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
) -> list[int]:
    """``logits`` is [rows, vocab]; returns one token id per row."""
    logits = logits.float()
    chosen = logits.argmax(dim=-1).tolist()
    sampled = [row for row, temperature in enumerate(temperatures) if temperature > 0]
    if not sampled:
        return chosen
    index = torch.tensor(sampled, device=logits.device)
    temps = torch.tensor([temperatures[r] for r in sampled], device=logits.device)
    scaled = logits.index_select(0, index) / temps.unsqueeze(-1)
    ps = torch.tensor([top_ps[r] for r in sampled], device=logits.device)
    if bool((ps < 1.0).any()):
        scaled = top_p_filter(scaled, ps)
    probs = scaled.softmax(dim=-1).cpu()
    for position, row in enumerate(sampled):
        chosen[row] = int(torch.multinomial(probs[position], 1, generator=generators[row]).item())
    return chosen
