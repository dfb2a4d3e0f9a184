"""Prepacked linear weights (CPU float32) compute what nn.Linear and GPT-2's Conv1D compute."""

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from inference.engine.model_cache import ModelCache, parameter_bytes
from inference.engine.packing import PackedLinear, pack_linears
from tests.inference.model_builders import build_model


@pytest.mark.parametrize("rows", [1, 5, 16, 40])
def test_a_packed_linear_computes_what_nn_linear_computes(rows):
    torch.manual_seed(0)
    linear = nn.Linear(48, 80)
    packed = PackedLinear(linear.weight, linear.bias)
    x = torch.randn(2, rows, 48)

    with torch.inference_mode():
        assert torch.allclose(packed(x), linear(x), rtol=1e-5, atol=1e-5)
        assert packed(x).shape == (2, rows, 80)


def test_gpt2_conv1d_layers_are_packed_with_their_transposed_weight():
    torch.manual_seed(1)
    model = nn.Sequential(Conv1D(64, 32), nn.ReLU(), nn.Linear(64, 8, bias=False))
    x = torch.randn(3, 32)
    with torch.inference_mode():
        expected = model(x)

        packed_bytes = pack_linears(model)

        assert all(isinstance(model[i], PackedLinear) for i in (0, 2))
        assert packed_bytes == (64 * 32 + 8 * 64) * 4
        assert torch.allclose(model(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_the_cache_packs_cpu_models_and_counts_the_packed_bytes(tmp_path, kind):
    build_model(tmp_path / kind, kind=kind, seed=3)
    packed = ModelCache(root=tmp_path, budget_bytes=2**30).acquire(kind)
    plain = ModelCache(root=tmp_path, budget_bytes=2**30, pack_weights=False).acquire(kind)

    assert packed.packed and not plain.packed
    layers = [m for m in packed.model.modules() if isinstance(m, PackedLinear)]
    assert layers and not any(isinstance(m, nn.Linear) for m in packed.model.modules())
    assert packed.nbytes == parameter_bytes(packed.model) + sum(m.nbytes for m in layers)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.inference_mode():
        assert torch.allclose(
            packed.model(ids).logits, plain.model(ids).logits, rtol=1e-4, atol=1e-4
        )
