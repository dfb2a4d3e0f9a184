"""Linear layers whose weights are prepacked once for oneDNN (CPU, float32).

``nn.Linear`` on the CPU calls the BLAS for every forward pass, and for the small row
counts of decoding (1 to 32 rows) the BLAS spends much of each call repacking the weight
matrix into its kernel's layout: a second pass over every weight, at every step. Packing
each weight once, at load, into oneDNN's blocked layout and calling oneDNN's linear
primitive removes that pass. On the benchmark machine this halves the time of a decode
step for 16 rows and makes one row about 1.5 times faster (docs/BENCHMARKS.md).

The layers compute the same function (same shapes, float32 accumulation); only the
order of the additions inside a dot product may differ, by rounding (~1e-6 relative).
Greedy answers are tested against transformers' ``generate`` on the unpacked model.

Only for CPU float32 with a torch built with oneDNN; CUDA keeps cuBLAS, which has no such
cost. GPT-2's Conv1D (a linear layer with a transposed weight) is packed the same way.

A serving precision of bfloat16 (``precision``) packs the weights in bfloat16 where the CPU
multiplies it natively (AVX-512 BF16, AMX): each layer then reads half the bytes, and
decoding, bound by reading every weight once per step, goes up to twice as fast. The
layer's input is rounded to bfloat16 for the product (accumulated in float32), its output
returned in float32; everything else (embeddings, norms, attention, the KV cache) stays
float32. Answers change a little: bench/precision.py measures by how much.

A serving precision of int8 keeps each weight as an 8-bit integer with one scale per output
row (symmetric, the scale a bfloat16 number), and multiplies in two ways over the same
integers: for one or two rows (single streams, where decoding waits on reading the weights)
torch's weight-only int8 kernel, which reads one byte per weight, a quarter of float32's;
for more rows (batches, where the product is the cost) oneDNN in bfloat16 over the integers
(exact in bfloat16 up to 256), scaled after. Inputs are rounded to bfloat16 as above. It
needs what bfloat16 needs, and holds 3 bytes per weight (the integers twice), still less
than float32's 4.
"""

import logging

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

log = logging.getLogger(__name__)

# The row count oneDNN chooses its weight layout for; measured best for 1 to 272 rows.
BATCH_HINT = 16


PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": torch.int8}
# Up to this many rows the int8 kernel is faster than oneDNN's bfloat16 product (measured
# on the benchmark machine: 1.2 to 1.5 times at one row; slower from three rows on).
INT8_KERNEL_ROWS = 2
# The relative error (Frobenius norm) a packed layer may show against nn.Linear on a probe:
# float32 reorders additions; bfloat16 keeps 8 bits of mantissa (0.4 % per rounding); int8
# adds the rounding of each weight to 1/254 of its row's largest.
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.int8: 4e-2}


class PackedLinear(nn.Module):
    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        precision: torch.dtype = torch.float32,
    ):
        """``weight`` is [out_features, in_features], as in nn.Linear."""
        super().__init__()
        if precision != torch.float32 and not bf16_supported():
            # oneDNN would fail deep inside the reorder with a message about CPU flags.
            raise ValueError(
                f"{precision} packing needs a CPU that multiplies it natively "
                "(AVX-512 BF16 or AMX); serve float32 on this one."
            )
        self.out_features, self.in_features = weight.shape
        self.precision = precision
        weight = weight.detach().to(precision if precision != torch.int8 else torch.float32)
        if precision == torch.int8:
            self.qweight, self.scales = quantize_rows(weight)
            self.scale = self.scales.float()
            weight = self.qweight.to(torch.bfloat16)  # the same integers, for many rows
        # Neither parameter nor buffer: a oneDNN tensor has no storage to save or move.
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, BATCH_HINT)
        self.bias = None if bias is None else bias.detach()

    @property
    def nbytes(self) -> int:
        weights = self.out_features * self.in_features
        if self.precision == torch.int8:
            return weights * 3 + self.out_features * 2
        return weights * self.precision.itemsize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, self.in_features)
        if self.precision == torch.int8:
            half = flat.to(torch.bfloat16)
            if half.shape[0] <= INT8_KERNEL_ROWS:
                out = torch.ops.aten._weight_int8pack_mm(half, self.qweight, self.scales)
                out = out.to(x.dtype)
            else:
                out = torch.ops.mkldnn._linear_pointwise(half, self.packed, None, "none", [], "")
                out = out.to(x.dtype) * self.scale
            if self.bias is not None:
                out = out + self.bias
        elif self.precision != torch.float32:
            out = torch.ops.mkldnn._linear_pointwise(
                flat.to(self.precision), self.packed, None, "none", [], ""
            ).to(x.dtype)
            if self.bias is not None:
                out = out + self.bias
        else:
            if not flat.is_contiguous():
                flat = flat.contiguous()
            out = torch.ops.mkldnn._linear_pointwise(flat, self.packed, self.bias, "none", [], "")
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"oneDNN {str(self.precision).removeprefix('torch.')}"
        )


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row: ``weight ≈ q * scale[:, None]``, |q| ≤ 127, the scale
    a bfloat16 number, so that both products of int8 PackedLinear use the same one."""
    largest = weight.abs().amax(dim=1).float()
    scales = (largest / 127).clamp(min=torch.finfo(torch.bfloat16).tiny).to(torch.bfloat16)
    q = torch.round(weight.float() / scales.float()[:, None]).clamp(-127, 127)
    return q.to(torch.int8).contiguous(), scales


def packing_supported(
    device: torch.device, dtype: torch.dtype, precision: torch.dtype = torch.float32
) -> bool:
    return (
        device.type == "cpu"
        and dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
        and (precision == torch.float32 or bf16_supported())
        and (precision != torch.int8 or hasattr(torch.ops.aten, "_weight_int8pack_mm"))
    )


def bf16_supported() -> bool:
    """The CPU multiplies bfloat16 natively (oneDNN's own check: AVX-512 BF16 or AMX)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check and check())


def _packable(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    if isinstance(module, nn.Linear):
        return module.weight, module.bias
    if isinstance(module, Conv1D):  # GPT-2: y = x @ W + b with W [in, out]
        return module.weight.t().contiguous(), module.bias
    return None


def pack_linears(model: nn.Module, precision: torch.dtype = torch.float32) -> int:
    """Replaces every linear layer of ``model`` by a PackedLinear; returns the bytes the
    packed weights hold. A layer whose packed result disagrees with the original (a torch
    without working oneDNN kernels) stops the packing and leaves the model as it was."""
    replacements = []
    for parent in model.modules():
        for name, child in parent.named_children():
            found = _packable(child)
            if found is not None:
                replacements.append((parent, name, child, PackedLinear(*found, precision)))
    if not replacements:
        return 0
    probe_parent, probe_name, original, packed = replacements[0]
    with torch.inference_mode():
        sample = torch.randn(3, packed.in_features, generator=torch.Generator().manual_seed(0))
        expected = original(sample)
        error = (packed(sample) - expected).norm() / expected.norm()
        if not error <= TOLERANCE[precision]:
            log.warning("oneDNN linear disagrees with nn.Linear here; weights stay unpacked")
            return 0
    for parent, name, _, packed in replacements:
        setattr(parent, name, packed)
    return sum(packed.nbytes for *_, packed in replacements)
