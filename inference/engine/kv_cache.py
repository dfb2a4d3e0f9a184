"""The KV cache of a running batch: transformers' DynamicCache with room to grow.

transformers' DynamicLayer appends each step's keys and values with ``torch.cat``, which
copies the whole cache of every layer at every decode step. Here each layer's keys and
values are views of buffers with spare columns at the end: a decode step writes one
column in place, and the buffer is only reallocated (with slack) when it is full, when
rows are merged in, or when finished rows are dropped. Tensors keep transformers' layout
[batch, kv_heads, sequence, head_dim], so every model's attention reads them unchanged.
"""

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

MIN_SLACK = 64


def _room(length: int) -> int:
    return length + max(MIN_SLACK, length // 2)


class SlackLayer(DynamicLayer):
    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
            self.assign(key_states, value_states)
            return self.keys, self.values
        length, added = self.keys.shape[-2], key_states.shape[-2]
        if length + added > self._keys.shape[-2]:
            self._reallocate(self.keys, self.values, _room(length + added))
        end = length + added
        self._keys[:, :, length:end] = key_states
        self._values[:, :, length:end] = value_states
        self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]
        return self.keys, self.values

    def assign(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Replaces the contents (a merge of batches), leaving room for the next steps."""
        self.is_initialized = True
        self.dtype, self.device = keys.dtype, keys.device
        self._reallocate(keys, values, _room(keys.shape[-2]))

    def append_rows(self, other: DynamicLayer) -> None:
        """Puts ``other``'s rows below this layer's, the shorter side left-padded, with one
        copy of each into a new buffer with room to grow. (Padding then concatenating, then
        giving the result room, copied a long newcomer's cache and every running row three
        times: 1.5 s for a 3000-token prompt joining 8 answers of SmolLM2.)"""
        length = max(self.keys.shape[-2], other.keys.shape[-2])
        self._keys = _stacked(self.keys, other.keys, length)
        self._values = _stacked(self.values, other.values, length)
        self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        # index_select copies the buffers with their slack: no reallocation on the next step.
        length = self.keys.shape[-2]
        self._keys = self._keys.index_select(0, indices)
        self._values = self._values.index_select(0, indices)
        self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]

    def drop_leading(self, columns: int) -> None:
        """Forgets the first ``columns`` positions (padding no remaining row attends to)."""
        self._keys = self._keys[:, :, columns:]
        self._values = self._values[:, :, columns:]
        length = self.keys.shape[-2] - columns
        self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]

    def _reallocate(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        batch, heads, length, dim = keys.shape
        self._keys = keys.new_empty((batch, heads, capacity, dim))
        self._values = values.new_empty((batch, heads, capacity, values.shape[-1]))
        self._keys[:, :, :length] = keys
        self._values[:, :, :length] = values
        self.keys, self.values = self._keys[:, :, :length], self._values[:, :, :length]


def _stacked(top: torch.Tensor, bottom: torch.Tensor, length: int) -> torch.Tensor:
    """[top; bottom] right-aligned at ``length`` columns, in a buffer of _room(length)."""
    split = top.shape[0]
    _, heads, _, dim = top.shape
    buffer = top.new_empty((split + bottom.shape[0], heads, _room(length), dim))
    for rows, part in ((slice(0, split), top), (slice(split, None), bottom)):
        pad = length - part.shape[-2]
        # Padding must be finite: masked scores are added to what these columns give.
        buffer[rows, :, :pad].zero_()
        buffer[rows, :, pad:length] = part
    return buffer


def new_cache() -> DynamicCache:
    cache = DynamicCache()
    cache.layer_class_to_replicate = SlackLayer
    return cache
