"""Prompt prefixes that requests share, computed once.

Chat requests to one model usually begin with the same tokens: the chat template's system
prompt and role markers (SmolLM2's template adds about 30). The scheduler keeps, per model,
the KV cache of the last shared prefix it found: the longest common prefix of the prompts
admitted together, or of a prompt and the previous one. Newcomers whose prompts start with
it prefill only the rest; newcomers that share only its beginning shorten it (the KV of a
prefix's first tokens is a slice of its KV), so it settles on what all prompts share. A prefix's keys and values depend on its tokens alone (attention
is causal), so reusing them changes no answer.
"""

from dataclasses import dataclass

import torch

MIN_PREFIX_TOKENS = 16


@dataclass(eq=False)
class Prefix:
    tokens: tuple[int, ...]
    layers: list[tuple[torch.Tensor, torch.Tensor]]  # keys, values: [1, kv_heads, length, head_dim]

    def __len__(self) -> int:
        return len(self.tokens)

    def starts(self, prompt: list[int]) -> bool:
        return len(prompt) > len(self.tokens) and tuple(prompt[: len(self.tokens)]) == self.tokens

    def truncated(self, length: int) -> "Prefix":
        """The first ``length`` tokens: with causal attention, their KV is a slice of this one."""
        return Prefix(
            tokens=self.tokens[:length],
            layers=[(keys[:, :, :length], values[:, :, :length]) for keys, values in self.layers],
        )


def common_prefix_length(prompts: list[list[int]]) -> int:
    if not prompts:
        return 0
    length = min(len(prompt) for prompt in prompts)
    first = prompts[0]
    for position in range(length):
        token = first[position]
        if any(prompt[position] != token for prompt in prompts[1:]):
            return position
    return length
