"""A structural check of .safetensors files, reading only their header.

Format: 8 bytes little-endian header length N, N bytes of JSON mapping tensor names to
{dtype, shape, data_offsets}, then the data. A truncated or garbled file is refused here with
a message, before a loader fails on it with a less helpful one.
"""

import json
import math
import struct
from pathlib import Path

from store.publishing.validation import UploadRefused

MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def check_safetensors(path: Path) -> int:
    """Returns the number of weights (tensor elements); raises UploadRefused when the header is corrupt."""
    size = path.stat().st_size

    def corrupt(why: str) -> UploadRefused:
        return UploadRefused(f"{path.name}: corrupt safetensors header ({why}).")

    if size < 8:
        raise corrupt("the file is too short")
    with open(path, "rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        if header_length > MAX_HEADER_BYTES or 8 + header_length > size:
            raise corrupt("its declared length runs past the file")
        try:
            header = json.loads(handle.read(header_length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise corrupt("it is not valid JSON") from exc
    if not isinstance(header, dict):
        raise corrupt("it is not a JSON object")
    data_size = size - 8 - header_length
    tensors = elements = 0
    spans: list[tuple[int, int]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            # Whole numbers only (a bool is an int to Python, a float 2.0 passes math.prod).
            if not isinstance(shape, list) or not all(_count(d) for d in shape):
                raise ValueError("shape")
            if not (_whole(start) and _whole(end)):
                raise ValueError("data_offsets")
            expected = math.prod(shape) * DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError) as exc:
            raise corrupt(f"tensor {name!r} is malformed") from exc
        if not (0 <= start <= end <= data_size) or end - start != expected:
            raise corrupt(f"tensor {name!r} points outside the file")
        tensors += 1
        elements += math.prod(shape)
        spans.append((start, end))
    if tensors == 0:
        raise corrupt("it holds no tensors")
    # As safetensors' own loader demands: the tensors tile the data, none shares another's
    # bytes and none are left over.
    covered = 0
    for start, end in sorted(spans):
        if start != covered:
            raise corrupt("its tensors overlap or leave gaps")
        covered = end
    if covered != data_size:
        raise corrupt("its tensors overlap or leave gaps")
    return elements


def _whole(value) -> bool:
    return type(value) is int


def _count(value) -> bool:
    return _whole(value) and value >= 0
