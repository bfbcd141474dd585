"""The safetensors format, written and read by hand: tensors by name, as raw little-endian bytes after a
JSON header::

    8 bytes      N, the length of the header, as a little-endian unsigned 64-bit integer
    N bytes      a JSON header: {"0.weight": {"dtype": "F32", "shape": [8, 4],
                                              "data_offsets": [0, 128]}, ...,
                                 "__metadata__": {"producer": "biograd 0.1.0"}}
    the rest     the raw little-endian bytes of every tensor; data_offsets count from here

PyTorch, JAX and the Hugging Face tools read these files. Reading checks every field of a file that may come
from anyone: a header that runs past the file, unknown dtypes, shapes that disagree with their byte ranges,
gaps, overlaps and trailing bytes are all a :class:`~biograd.io.files.ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biograd.io.files import _atomic_write, _fail, _parse_json, read_model_file
from biograd.tensor import Tensor

_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces
#: The largest weights file read: 2 GiB is 500 million float32 weights, beyond what biograd trains.
MAX_WEIGHTS_BYTES = 2 * 1024**3

# safetensors dtype name <-> numpy dtype (always little-endian on disk)
_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dt.newbyteorder("=").str: name for name, dt in _DTYPES.items()}


def safetensors_bytes(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """The bytes of a safetensors file holding ``tensors`` (name -> array) and a str->str ``metadata``.

    Tensors are stored in name order, back to back, each as little-endian bytes in C order. The header
    is padded with spaces to a multiple of 8 bytes (as the safetensors library does), so every tensor
    starts on an aligned address when the file is memory-mapped.
    """
    header: dict[str, Any] = {}
    if metadata:
        bad = {k: v for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise TypeError(f"safetensors metadata must map text to text; got {bad!r}.")
        header["__metadata__"] = dict(metadata)
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved by the safetensors format; rename that tensor.")
        value = tensors[name]
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        dtype_name = _NAMES.get(arr.dtype.newbyteorder("=").str)
        if dtype_name is None:
            raise TypeError(
                f"Tensor {name!r} has dtype {arr.dtype}, which safetensors cannot store. "
                f"Supported: {', '.join(str(d) for d in _DTYPES.values())}."
            )
        raw = np.ascontiguousarray(arr, dtype=_DTYPES[dtype_name]).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def write_safetensors(
    path: str | os.PathLike, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``tensors`` (name -> numpy array or Tensor) to a safetensors file, atomically.

    >>> write_safetensors("w.safetensors", {"weight": np.ones((2, 3), np.float32)})  # doctest: +SKIP
    """
    _atomic_write(Path(path), safetensors_bytes(tensors, metadata))


def parse_safetensors(data: bytes, path: str | os.PathLike = "<bytes>") -> tuple[dict[str, np.ndarray], dict]:
    """Read safetensors bytes into (name -> numpy array, metadata), checking every field.

    Raises ModelFileError naming ``path`` if the header length runs past the file, the header is not
    JSON, a dtype is unknown, a shape and its byte range disagree, or a tensor's bytes lie outside the
    data section (a truncated file).
    """
    path = Path(path)
    if len(data) < 8:
        raise _fail(path, f"only {len(data)} bytes; a safetensors file starts with an 8-byte header length.")
    n = int.from_bytes(data[:8], "little")
    if n > _MAX_HEADER_BYTES or 8 + n > len(data):
        raise _fail(
            path,
            f"the header claims {n} bytes but the file has {len(data) - 8} after the length field: the "
            "file is truncated or is not a safetensors file.",
        )
    header = _parse_json(data[8 : 8 + n], path, "the header")
    if not isinstance(header, dict):
        raise _fail(path, f"the header must be a JSON object; got {type(header).__name__}.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "'__metadata__' must map text to text.")
    buffer = memoryview(data)[8 + n :]
    tensors: dict[str, np.ndarray] = {}
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
            raise _fail(path, f"tensor {name!r} needs 'dtype', 'shape' and 'data_offsets'; got {entry!r}.")
        dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype_name not in _DTYPES:
            raise _fail(
                path, f"tensor {name!r} has unknown dtype {dtype_name!r}; known: {', '.join(_DTYPES)}."
            )
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}.")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r}.")
        begin, end = offsets
        dtype = _DTYPES[dtype_name]
        expected = math.prod(shape) * dtype.itemsize
        if not 0 <= begin <= end:
            raise _fail(path, f"tensor {name!r} has data_offsets {offsets} (begin must be <= end).")
        if end > len(buffer):
            raise _fail(
                path,
                f"tensor {name!r} needs bytes {begin}..{end} but the data section has only {len(buffer)} "
                "bytes: the file is truncated.",
            )
        if end - begin != expected:
            raise _fail(
                path,
                f"tensor {name!r} of shape {shape} and dtype {dtype_name} needs {expected} bytes but "
                f"data_offsets {offsets} give {end - begin}.",
            )
        spans.append((begin, end, name))
        tensors[name] = (
            np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
        )
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            raise _fail(
                path,
                f"tensor {name!r} starts at byte {begin} but the previous one ends at {position}: "
                "tensors must be stored back to back without gaps or overlaps.",
            )
        position = end
    if position != len(buffer):
        raise _fail(path, f"{len(buffer) - position} bytes after the last tensor belong to no tensor.")
    return tensors, metadata


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: (name -> numpy array, the ``__metadata__`` text map).

    Only a regular file of at most ``MAX_WEIGHTS_BYTES`` is read; see :func:`read_model_file`.
    """
    path = Path(path)
    return parse_safetensors(read_model_file(path, MAX_WEIGHTS_BYTES), path)
