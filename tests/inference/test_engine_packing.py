"""Prepacked linear weights (CPU float32) compute what nn.Linear and GPT-2's Conv1D compute."""

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from inference.engine.model_cache import ModelCache, ModelUnavailable, parameter_bytes
from inference.engine.packing import PackedLinear, bf16_supported, pack_linears
from tests.support.models import build_model_folder


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
    build_model_folder(tmp_path / kind, kind=kind, seed=3)
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


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_the_cache_serves_a_smaller_precision_where_the_cpu_multiplies_bfloat16_else_float32(
    tmp_path, precision
):
    build_model_folder(tmp_path / "llama", kind="llama", seed=3)
    cache = ModelCache(root=tmp_path, budget_bytes=2**30)
    small = cache.acquire("llama", precision)
    full = cache.acquire("llama")

    layers = [m for m in small.model.modules() if isinstance(m, PackedLinear)]
    expected = precision if bf16_supported() else "float32"
    assert small.precision == expected and full.precision == "float32"
    assert {str(m.precision) for m in layers} == {f"torch.{expected}"}
    assert small.nbytes < full.nbytes if expected != "float32" else small.nbytes == full.nbytes
    # One folder in two precisions: two models in memory, one folder listed as resident.
    assert small is not full and cache.resident() == ["llama"]
    assert cache.acquire("llama", precision) is small
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.inference_mode():
        assert torch.allclose(small.model(ids).logits, full.model(ids).logits, atol=0.15)


def int8_refused_here(linear: nn.Linear) -> bool:
    """Where the CPU lacks native bfloat16, int8 packing is refused clearly (the model cache
    serves float32 instead); says whether it was."""
    if bf16_supported():
        return False
    with pytest.raises(ValueError, match="serve float32 on this one"):
        PackedLinear(linear.weight, linear.bias, torch.int8)
    return True


@pytest.mark.parametrize("rows", [1, 2, 3, 16])
def test_an_int8_packed_linear_is_nn_linear_to_the_rounding_of_each_weight(rows):
    torch.manual_seed(4)
    linear = nn.Linear(64, 96)
    if int8_refused_here(linear):
        return
    packed = PackedLinear(linear.weight, linear.bias, torch.int8)
    x = torch.randn(rows, 64)

    with torch.inference_mode():
        got, expected = packed(x), linear(x)
        assert got.dtype == torch.float32 and got.shape == (rows, 96)
        assert (got - expected).norm() / expected.norm() < 0.02
    # The integers once for the one-byte kernel, once in bfloat16 for batches; a scale a row.
    assert packed.qweight.dtype == torch.int8 and packed.qweight.abs().max() == 127
    assert packed.nbytes == 96 * 64 * 3 + 96 * 2


def test_both_int8_products_agree_so_an_answer_does_not_depend_on_the_batch(monkeypatch):
    torch.manual_seed(5)
    linear = nn.Linear(128, 64)
    if int8_refused_here(linear):
        return
    packed = PackedLinear(linear.weight, linear.bias, torch.int8)
    x = torch.randn(2, 128)
    with torch.inference_mode():
        kernel = packed(x)  # two rows: the one-byte int8 kernel
        monkeypatch.setattr("inference.engine.packing.INT8_KERNEL_ROWS", 0)
        batched = packed(x)  # the bfloat16 product of the same integers
    assert (kernel - batched).norm() / kernel.norm() < 5e-3


def test_an_unknown_precision_is_refused_as_a_model_that_cannot_serve(tmp_path):
    build_model_folder(tmp_path / "llama", kind="llama", seed=3)
    with pytest.raises(ModelUnavailable, match="precision must be one of"):
        ModelCache(root=tmp_path, budget_bytes=2**30).acquire("llama", "float8")
