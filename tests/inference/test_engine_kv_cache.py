"""The running batch's KV cache: rows merged right-aligned with zero padding, room to grow."""

import torch

from inference.engine.kv_cache import SlackLayer


def layer_of(rows: int, length: int, fill: float) -> SlackLayer:
    layer = SlackLayer()
    keys = torch.full((rows, 2, length, 4), fill)
    layer.assign(keys, keys + 100)
    return layer


def test_appended_rows_are_right_aligned_over_zero_padding_and_can_grow():
    running, newcomer = layer_of(2, 3, 1.0), layer_of(1, 5, 2.0)

    running.append_rows(newcomer)

    assert running.keys.shape == (3, 2, 5, 4)
    assert running.keys[:2, :, :2].abs().sum() == 0  # the running rows' new padding
    assert bool((running.keys[:2, :, 2:] == 1.0).all())
    assert bool((running.keys[2] == 2.0).all())
    assert bool((running.values[2] == 102.0).all())
    # The next step writes in place, into the room left after the merge.
    buffer = running._keys
    running.update(torch.full((3, 2, 1, 4), 3.0), torch.full((3, 2, 1, 4), 4.0))
    assert running._keys is buffer
    assert running.keys.shape == (3, 2, 6, 4)
    assert bool((running.keys[:, :, 5] == 3.0).all())


def test_a_shorter_newcomer_is_padded_instead():
    running, newcomer = layer_of(1, 6, 1.0), layer_of(2, 2, 2.0)

    running.append_rows(newcomer)

    assert running.keys.shape == (3, 2, 6, 4)
    assert running.keys[1:, :, :4].abs().sum() == 0
    assert bool((running.keys[1:, :, 4:] == 2.0).all())
    assert bool((running.keys[0] == 1.0).all())
