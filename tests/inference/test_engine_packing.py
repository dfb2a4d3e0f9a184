"""Prepacked linear weights (CPU float32) compute what nn.Linear and GPT-2's Conv1D compute."""

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from inference.engine.model_cache import ModelCache, parameter_bytes
from inference.engine.packing import PackedLinear, bf16_supported, pack_linears
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


@pytest.mark.parametrize("bias", [True, False])
def test_a_bfloat16_packed_linear_is_nn_linear_to_bfloat16_rounding_where_the_cpu_has_it(bias):
    torch.manual_seed(2)
    linear = nn.Linear(64, 96, bias=bias)
    if not bf16_supported():
        # This CPU cannot: a clear refusal (the model cache serves float32 instead).
        with pytest.raises(ValueError, match="serve float32 on this one"):
            PackedLinear(linear.weight, linear.bias, torch.bfloat16)
        return
    packed = PackedLinear(linear.weight, linear.bias, torch.bfloat16)
    x = torch.randn(3, 7, 64)

    with torch.inference_mode():
        got = packed(x)
        assert got.dtype == torch.float32 and got.shape == (3, 7, 96)
        # Inputs and weights rounded to 8 bits of mantissa; sums kept in float32.
        assert torch.allclose(got, linear(x), rtol=3e-2, atol=3e-2)
    assert packed.nbytes == 96 * 64 * 2


def test_the_cache_serves_bfloat16_where_the_cpu_multiplies_it_else_float32(tmp_path):
    build_model(tmp_path / "llama", kind="llama", seed=3)
    half = ModelCache(root=tmp_path, budget_bytes=2**30, precision="bfloat16").acquire("llama")
    full = ModelCache(root=tmp_path, budget_bytes=2**30).acquire("llama")

    layers = [m for m in half.model.modules() if isinstance(m, PackedLinear)]
    expected = "bfloat16" if bf16_supported() else "float32"
    assert half.precision == expected and full.precision == "float32"
    assert {str(m.precision) for m in layers} == {f"torch.{expected}"}
    assert half.nbytes < full.nbytes if expected == "bfloat16" else half.nbytes == full.nbytes
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.inference_mode():
        assert torch.allclose(half.model(ids).logits, full.model(ids).logits, atol=0.1)


def test_an_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ValueError, match="precision"):
        ModelCache(root=tmp_path, budget_bytes=2**30, precision="float8")
