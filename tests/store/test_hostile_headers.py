"""Hostile weight files: every malformed safetensors header and GGUF file we could think of is
refused with a message naming the file, before any loader reads it."""

import json
import struct

import pytest

from store.publishing.conversion import gguf_parameter_count
from store.publishing.safetensors_header import check_safetensors
from store.publishing.validation import UploadRefused


def safetensors(tmp_path, header, data=b"\0" * 16, *, length=None, raw=None):
    body = raw if raw is not None else json.dumps(header).encode()
    declared = len(body) if length is None else length
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", declared) + body + data)
    return path


def tensor(start=0, end=16, shape=(2, 2), dtype="F32"):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [start, end]}


def test_a_sound_header_counts_its_weights(tmp_path):
    path = safetensors(tmp_path, {"a": tensor(0, 8, (2,)), "b": tensor(8, 16, (2,))})
    assert check_safetensors(path) == 4


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (lambda p: p.write_bytes(b"\x01\x02"), "too short"),
        (lambda p: safetensors(p.parent, {"a": tensor()}, length=10**12), "runs past the file"),
        (lambda p: safetensors(p.parent, None, raw=b"\xff\xfe{not json"), "not valid JSON"),
        (lambda p: safetensors(p.parent, [1, 2, 3]), "not a JSON object"),
        (lambda p: safetensors(p.parent, {"__metadata__": {"x": "y"}}), "holds no tensors"),
        (lambda p: safetensors(p.parent, {"a": {"dtype": "F32"}}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(dtype="F128")}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(shape=(-2, -2))}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(shape=(2.0, 2))}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(shape=("2", 2))}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(start=True, end=16)}), "'a' is malformed"),
        (lambda p: safetensors(p.parent, {"a": tensor(0, 32, (8,))}), "points outside"),
        (lambda p: safetensors(p.parent, {"a": tensor(-8, 8)}), "points outside"),
        (lambda p: safetensors(p.parent, {"a": tensor(shape=(10**30,))}), "points outside"),
        (
            lambda p: safetensors(p.parent, {"a": tensor(0, 16), "b": tensor(0, 16)}),
            "overlap or leave gaps",
        ),
        (lambda p: safetensors(p.parent, {"a": tensor(0, 8, (2,))}), "overlap or leave gaps"),
    ],
    ids=[
        "too-short", "length-past-file", "not-json", "not-object", "no-tensors", "no-shape",
        "unknown-dtype", "negative-shape", "float-shape", "string-shape", "bool-offset",
        "past-the-data", "negative-offset", "huge-shape", "aliased", "gap-at-the-end",
    ],
)  # fmt: skip
def test_a_malformed_safetensors_header_is_refused(tmp_path, case, reason):
    path = tmp_path / "model.safetensors"
    case(path)
    with pytest.raises(UploadRefused) as refused:
        check_safetensors(path)
    assert "model.safetensors: corrupt safetensors header" in str(refused.value)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"GGUF",
        b"GGUF" + struct.pack("<I", 3) + b"\xff" * 8,  # a tensor count it cannot hold
        b"GGUF" + struct.pack("<I", 99) + b"\0" * 32,  # a version that does not exist
        b"PK\x03\x04" + b"\0" * 60,  # a zip named .gguf
    ],
    ids=["empty", "magic-only", "huge-count", "unknown-version", "not-gguf"],
)
def test_a_malformed_gguf_is_refused(tmp_path, content):
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(UploadRefused, match="The GGUF file cannot be converted"):
        gguf_parameter_count(path)
