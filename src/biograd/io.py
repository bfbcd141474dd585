"""Saving and loading models without pickle: weights in safetensors, everything else in JSON.

``biograd.save(model, "runs/cancer")`` writes a directory with two files:

- ``runs/cancer/model.safetensors``: every parameter by its dotted name (``"0.weight"``), in the
  `safetensors <https://github.com/huggingface/safetensors>`_ format that PyTorch, JAX and the Hugging Face
  tools read. The format is simple enough to write by hand, which is what :func:`write_safetensors` does::

      8 bytes      N, the length of the header, as a little-endian unsigned 64-bit integer
      N bytes      a JSON header: {"0.weight": {"dtype": "F32", "shape": [8, 4],
                                                "data_offsets": [0, 128]}, ...,
                                   "__metadata__": {"producer": "biograd 0.1.0"}}
      the rest     the raw little-endian bytes of every tensor; data_offsets count from here

- ``runs/cancer/model.json``: how to rebuild the network (``biograd.nn.to_config``), the biograd and file
  format versions, a checksum of the weights file, and what a later user needs to apply the model
  correctly: feature and class names, the task, the preprocessing (e.g. the means and standard
  deviations used for scaling), how it was trained, and any metadata of your own.

A path ending in ``.safetensors`` or ``.json`` names the pair ``stem.safetensors`` + ``stem.json`` instead
of a directory. Nothing is ever unpickled: a model file cannot run code when it is loaded.

Every write goes to a temporary file in the same directory that is then renamed over the old file
(``os.replace`` is atomic), so a save interrupted half-way never leaves a corrupt model behind. Any problem
when loading (missing file, truncated or corrupted bytes, unknown format version, weights that do not fit
the architecture) raises :class:`ModelFileError`, whose message names the file and what is wrong.

A model file may come from anyone, so loading trusts nothing in it: only regular files are read (not a
directory, a pipe or ``/dev/zero``), each up to a size limit; the JSON may not nest deeper than Python can
parse; the shapes the architecture declares must match the weights file *before* the network is built, so
a small file cannot make biograd allocate gigabytes; and weights that are NaN or infinite are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biograd._version import __version__
from biograd.tensor import Tensor

FORMAT_NAME = "biograd-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces
#: The largest model.json read (feature names, preprocessing and class names of even 100,000 genes take a
#: few MB).
MAX_JSON_BYTES = 64 * 1024 * 1024
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


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, truncated, corrupted, from an unknown format version,
    or with weights that do not fit the architecture. The message names the file and what is wrong."""


# --------------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------------


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back: the only way os offers)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of the new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename cannot turn
    into a copy), are flushed to disk, and the file is then renamed over ``path`` with ``os.replace``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private; a model file is an ordinary one
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def process_is_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine): used to tell leftovers of killed writers
    from files another process is still writing."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # exists, owned by someone else; or not a real pid
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed writes of ``path`` left behind; returns those removed.

    ``_atomic_write`` names its temporary file ``.NAME.PID.random.tmp``; a process killed before the
    rename (kill -9, power loss) leaves it there. A file whose writer PID no longer runs can never be
    finished, so it is removed. A writer that is still running (another save to the same place) is
    left alone.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^/]*\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and int(match.group(1)) != os.getpid() and not process_is_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


# --------------------------------------------------------------------------------------------------
# safetensors, written and read by hand
# --------------------------------------------------------------------------------------------------


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


def _fail(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


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


def _parse_json(raw: bytes, path: Path, what: str) -> Any:
    """JSON from a model file; every way it can fail (not UTF-8, not JSON, a number too long for Python,
    nesting deeper than the parser's recursion allows) is a ModelFileError naming ``path``."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, f"{what} is not text (UTF-8); the file is corrupted.") from None
    except RecursionError:
        raise _fail(
            path, f"{what} nests lists or objects too deeply to be read; the file is damaged or hostile."
        ) from None
    except ValueError as err:  # json.JSONDecodeError, and int() refusing a 5000-digit number
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _fail(
            path, f"{what} is not valid JSON ({first}); the file is corrupted or truncated."
        ) from None


def read_regular_file(path: str | os.PathLike, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; otherwise ``fail(what is wrong)`` is raised.

    Refuses directories, devices (``/dev/zero`` never ends), pipes and sockets (a pipe would block the
    reader) before reading a byte, and files larger than ``limit``, checked on the open file (so a file that
    grows while being read is caught too) without reserving more memory than the file holds. A missing
    file raises FileNotFoundError; the caller words it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise fail("is a directory, not a file") from None
    except FileNotFoundError:
        raise
    except OSError as err:
        raise fail(f"cannot be opened ({err.strerror or err})") from None
    mode = os.fstat(fd)
    if not stat.S_ISREG(mode.st_mode):
        os.close(fd)
        if stat.S_ISDIR(mode.st_mode):
            raise fail("is a directory, not a file")
        raise fail("is not a regular file (it is a device, pipe or socket)")
    with os.fdopen(fd, "rb") as f:
        if mode.st_size > limit:
            raise fail(f"is {size_text(mode.st_size)}, more than the {size_text(limit)} allowed")
        try:
            data = f.read(min(mode.st_size, limit) + 1)  # read(n) reserves n bytes up front
        except OSError as err:
            raise fail(f"cannot be read ({err.strerror or err})") from None
    if len(data) > limit:
        raise fail(f"holds more than the {size_text(limit)} allowed")
    return data


def size_text(n_bytes: float) -> str:
    """A byte count for people: 512 bytes, 11.2 KB, 2.0 GB (powers of 1024)."""
    if n_bytes < 1024:
        return f"{int(n_bytes)} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n_bytes /= 1024
        if n_bytes < 1024 or unit == "TB":
            break
    return f"{n_bytes:.1f} {unit}"


def read_model_file(path: str | os.PathLike, limit: int, missing: str = "no such file.") -> bytes:
    """The bytes of one file of a model (see :func:`read_regular_file`), or a ModelFileError naming it.
    ``missing`` completes the message for a missing file."""
    path = Path(path)

    def fail(what: str) -> ModelFileError:
        return _fail(path, f"{what}; a model is stored in ordinary files written by biograd.save.")

    try:
        return read_regular_file(path, limit, fail)
    except FileNotFoundError:
        raise _fail(path, missing) from None


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: (name -> numpy array, the ``__metadata__`` text map).

    Only a regular file of at most ``MAX_WEIGHTS_BYTES`` is read; see :func:`read_model_file`.
    """
    path = Path(path)
    return parse_safetensors(read_model_file(path, MAX_WEIGHTS_BYTES), path)


# --------------------------------------------------------------------------------------------------
# Whole models: weights (safetensors) + architecture and metadata (JSON)
# --------------------------------------------------------------------------------------------------


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights file, JSON file) for a model path.

    ``"runs/x"`` (no suffix, or an existing directory) -> ``runs/x/model.safetensors`` and
    ``runs/x/model.json``; ``"net.safetensors"`` or ``"net.json"`` -> ``net.safetensors`` and ``net.json``.
    """
    p = Path(path)
    if p.suffix in (".safetensors", ".json") and not p.is_dir():
        return p.with_suffix(".safetensors"), p.with_suffix(".json")
    return p / WEIGHTS_FILE, p / CONFIG_FILE


def _jsonable(value: Any) -> Any:
    """numpy arrays and numbers (e.g. scaling statistics) as plain lists and numbers, for json.dumps."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def save(
    model: Any,
    path: str | os.PathLike,
    metadata: Mapping[str, Any] | None = None,
    *,
    history: Any = None,
) -> Path:
    """Save a model's weights (safetensors) and architecture + metadata (JSON); never pickle.

    Args:
        model: a biograd Module. Its architecture is stored with ``biograd.nn.to_config`` when the layers
            are known to biograd (built-in or registered with ``register_layer``); otherwise only the
            weights are stored and ``load`` needs ``model=`` to put them into.
        path: a directory (``"runs/cancer"`` -> ``runs/cancer/model.safetensors`` + ``model.json``,
            created if needed) or a file name ending in ``.safetensors`` / ``.json`` (the pair
            ``stem.safetensors`` + ``stem.json``).
        metadata: anything JSON-able that a later user needs, conventionally ``feature_names``,
            ``class_names``, ``task``, ``preprocessing`` (e.g. the means and standard deviations used for
            scaling) and ``training``; numpy arrays are stored as lists.
        history: the History returned by ``biograd.fit``; its summary (epochs, best epoch, stop reason,
            final losses and metrics) becomes ``metadata["training"]`` and its task and class names fill
            in ``task`` and ``class_names`` when not given.

    Returns:
        The directory or JSON path written. Each file is written atomically (temporary file + rename).
    """
    from biograd.nn.module import Module

    if not isinstance(model, Module):
        raise TypeError(f"biograd.save needs a biograd Module; got {type(model).__name__}.")
    info: dict[str, Any] = {
        "task": None,
        "feature_names": None,
        "class_names": None,
        "preprocessing": None,
        "training": None,
    }
    from biograd.training.targets import get_target_info

    fitted = get_target_info(model)
    if fitted is not None:
        info["task"] = fitted.task
        info["class_names"] = None if fitted.classes is None else [str(c) for c in fitted.classes]
    if history is not None:
        info["training"] = history.summary()
        info["task"] = history.task
        info["class_names"] = history.class_names
        info["feature_names"] = history.feature_names
    for key, value in (metadata or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be text; got {key!r}.")
        info[key] = value
    architecture = None
    with contextlib.suppress(ImportError):
        from biograd.nn import to_config

        try:
            architecture = to_config(model)
        except (TypeError, ValueError, NotImplementedError, KeyError):
            architecture = None  # a custom layer biograd cannot describe: weights only

    weights_path, config_path = model_paths(path)
    state = model.state_dict()
    weights = safetensors_bytes(state, {"producer": f"biograd {__version__}", "format": "np"})
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "biograd_version": __version__,
        "architecture": architecture,
        "weights": {
            "file": weights_path.name,
            "sha256": hashlib.sha256(weights).hexdigest(),
            "parameters": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in state.items()},
        },
        "metadata": info,
        # how fit read y (task, loss, classes): lets predict() return class labels after load()
        "target": None if fitted is None else fitted.to_dict(),
    }
    try:
        text = json.dumps(document, indent=2, default=_jsonable)
    except TypeError as err:
        raise TypeError(
            f"biograd.save: the metadata must be JSON-able (text, numbers, lists, dicts): {err}."
        ) from None
    # Weights first, then the JSON that vouches for them (its checksum). Until the new JSON is in place,
    # a hard link keeps the old weights under a backup name: a crash between the two renames leaves the
    # old JSON + its old weights loadable (load() falls back to the backup), never a broken pair.
    backup = _backup_path(weights_path)
    with contextlib.suppress(FileNotFoundError):
        backup.unlink()
    with contextlib.suppress(OSError):  # no old weights, or a file system without hard links
        os.link(weights_path, backup)
    try:
        _atomic_write(weights_path, weights)
    except BaseException:  # the old weights are still in place: the backup is not needed
        with contextlib.suppress(FileNotFoundError):
            backup.unlink()
        raise
    _atomic_write(config_path, text.encode("utf-8"))
    with contextlib.suppress(FileNotFoundError):
        backup.unlink()
    return config_path.parent if config_path.name == CONFIG_FILE else config_path


def _backup_path(weights_path: Path) -> Path:
    """Where save() keeps the previous weights while it replaces a model (see save)."""
    return weights_path.with_name(f".{weights_path.name}.previous")


def _read_document(config_path: Path) -> dict[str, Any]:
    raw = read_model_file(
        config_path,
        MAX_JSON_BYTES,
        missing="no such file. A biograd model is a directory holding model.json and model.safetensors "
        "(or a pair name.json + name.safetensors) written by biograd.save.",
    )
    document = _parse_json(raw.removeprefix(b"\xef\xbb\xbf"), config_path, "the file")
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _fail(config_path, f'is not a biograd model description (no "format": "{FORMAT_NAME}").')
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        hint = (
            " It was written by a newer biograd: upgrade biograd to read it."
            if isinstance(version, int) and version > FORMAT_VERSION
            else ""
        )
        raise _fail(
            config_path,
            f"has format version {version!r}; this biograd ({_version()}) reads version "
            f"{FORMAT_VERSION}.{hint}",
        )
    if not isinstance(document.get("weights"), dict) or not isinstance(document.get("metadata", {}), dict):
        raise _fail(config_path, "has no valid 'weights' section; the file is corrupted.")
    return document


def _version() -> str:
    return __version__


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a saved model (feature and class names, task, preprocessing, training, ...) plus
    ``biograd_version`` and ``format_version``, without loading the weights."""
    _, config_path = model_paths(path)
    return _metadata_of(_read_document(config_path))


def _metadata_of(document: dict[str, Any]) -> dict[str, Any]:
    return {
        **document.get("metadata", {}),
        "biograd_version": document.get("biograd_version"),
        "format_version": document.get("format_version"),
    }


# --------------------------------------------------------------------------------------------------
# Shapes an architecture declares, known before anything is allocated
# --------------------------------------------------------------------------------------------------

#: Built-in layers without parameters (activations, pooling, reshaping, dropout, losses).
PARAMETER_FREE_LAYERS = frozenset(
    {
        "Identity",
        "ReLU",
        "LeakyReLU",
        "Sigmoid",
        "Tanh",
        "GELU",
        "Softmax",
        "LogSoftmax",
        "MaxPool1d",
        "GlobalMaxPool1d",
        "Flatten",
        "Dropout",
        "MSELoss",
        "L1Loss",
        "BCEWithLogitsLoss",
        "BCELoss",
        "CrossEntropyLoss",
        "NLLLoss",
        "Standardize",  # shift and scale are in its description, not parameters
        "SelectFeatures",  # likewise its column indices
    }
)


def _dim(config: Mapping[str, Any], key: str, layer: str) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{layer} needs a whole number >= 1 as {key!r}; got {value!r}")
    return value


def declared_shapes(architecture: Any, prefix: str = "") -> dict[str, tuple[int, ...]] | None:
    """The parameter shapes (dotted name -> shape) that ``nn.from_config(architecture)`` will allocate,
    worked out from the description alone, so a file declaring a huge network is refused before a byte is
    allocated. None when the architecture holds a layer of the user's own (registered with
    ``register_layer``), whose shapes only its code knows.

    The formulas restate the constructors: Linear(in, out) holds weight (out, in) and bias (out,);
    Neuron(in) weight (in,) and bias (); Conv1d(in, out, k) weight (out, in, k) and bias (out,); MLP(sizes)
    a Linear(sizes[i], sizes[i + 1]) at positions 0, 2, 4, ... (0, 3, 6, ... with dropout); Sequential
    numbers its layers 0, 1, 2, ..., and Committee its members. A test checks them against the layers
    themselves.

    Raises ValueError for a malformed description (a size that is not a whole number >= 1).
    """
    if architecture is None or isinstance(architecture, str):  # an activation by name (or none)
        return {}
    if not isinstance(architecture, Mapping) or not isinstance(architecture.get("type"), str):
        raise ValueError(
            f"a layer must be described as {{'type': ..., 'config': {{...}}}}; got {architecture!r:.80}"
        )
    kind = architecture["type"]
    config = architecture.get("config", {})
    if not isinstance(config, Mapping):
        raise ValueError(f"the config of {kind} must be an object; got {config!r:.80}")
    if kind in PARAMETER_FREE_LAYERS:
        return {}
    if kind == "Linear":
        n_in, n_out = _dim(config, "in_features", kind), _dim(config, "out_features", kind)
        shapes = {f"{prefix}weight": (n_out, n_in)}
        if config.get("bias", True):
            shapes[f"{prefix}bias"] = (n_out,)
        return shapes
    if kind == "Neuron":
        if declared_shapes(config.get("activation"), prefix) != {}:
            return None
        return {f"{prefix}weight": (_dim(config, "in_features", kind),), f"{prefix}bias": ()}
    if kind == "Conv1d":
        n_in, n_out = _dim(config, "in_channels", kind), _dim(config, "out_channels", kind)
        shapes = {f"{prefix}weight": (n_out, n_in, _dim(config, "kernel_size", kind))}
        if config.get("bias", True):
            shapes[f"{prefix}bias"] = (n_out,)
        return shapes
    if kind == "MLP":
        sizes = config.get("sizes")
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise ValueError(f"MLP needs a list of at least 2 sizes; got {sizes!r:.80}")
        sizes = [_dim({"size": n}, "size", kind) for n in sizes]
        for key in ("activation", "output_activation"):
            if declared_shapes(config.get(key)) != {}:
                return None
        step = 3 if float(config.get("dropout", 0.0) or 0.0) > 0 else 2
        shapes = {}
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            shapes[f"{prefix}{i * step}.weight"] = (n_out, n_in)
            shapes[f"{prefix}{i * step}.bias"] = (n_out,)
        return shapes
    if kind in ("Sequential", "Committee"):
        key = "layers" if kind == "Sequential" else "members"
        layers = config.get(key, [])
        if not isinstance(layers, list):
            raise ValueError(f"{kind} needs a list of {key}; got {layers!r:.80}")
        shapes = {}
        for i, layer in enumerate(layers):
            inner = declared_shapes(layer, f"{prefix}{i}.")
            if inner is None:
                return None
            shapes.update(inner)
        return shapes
    return None  # a layer of the user's own, or an unknown name (from_config then names it)


#: More layers than this in a model description is refused (a 64 MB file of 4 million ReLUs would
#: otherwise build 4 million modules).
MAX_LAYERS = 10_000


def _count_layers(architecture: Any) -> int:
    """How many modules building ``architecture`` makes, about: every layer description, and three per
    size of an MLP (Linear, activation, dropout)."""
    count, stack = 0, [architecture]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            count += "type" in item
            sizes = item.get("sizes")
            count += 3 * len(sizes) if isinstance(sizes, list) else 0
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _check_declared_shapes(
    architecture: Any, state: Mapping[str, np.ndarray], config_path: Path, weights_path: Path
) -> None:
    """Refuse, before building anything, an architecture whose parameters differ from the weights file's."""
    n_layers = _count_layers(architecture)
    if n_layers > MAX_LAYERS:
        raise _fail(
            config_path,
            f"its architecture declares about {n_layers:,} layers, more than the {MAX_LAYERS:,} biograd "
            "builds; the file is damaged or not meant for biograd.",
        )
    try:
        shapes = declared_shapes(architecture)
    except (ValueError, TypeError, OverflowError, RecursionError) as err:
        raise _fail(config_path, f"its architecture cannot be rebuilt: {err}.") from None
    if shapes is None:
        return
    declared, held = sum(math.prod(s) for s in shapes.values()), sum(a.size for a in state.values())
    parts = [
        f"parameter {name!r} has shape {shape} there but {tuple(state[name].shape)} here"
        for name, shape in shapes.items()
        if name in state and tuple(state[name].shape) != shape
    ][:1]
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in state if k not in shapes]
    if missing:
        parts.append(f"missing keys: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    if unexpected:
        parts.append(f"unexpected keys: {', '.join(unexpected[:10])}{' ...' if len(unexpected) > 10 else ''}")
    if parts:
        raise _fail(
            weights_path,
            f"the weights do not fit the architecture in {config_path.name}, which declares {declared:,} "
            f"weights (this file holds {held:,}): {'; '.join(parts)}.",
        )


def _check_finite(state: Mapping[str, np.ndarray], weights_path: Path) -> None:
    """NaN or infinite weights make every prediction NaN (and one class for every sample): refuse them."""
    bad = {}
    for name, arr in state.items():
        if arr.dtype.kind in "fc":
            n = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if n:
                bad[name] = n
    if bad:
        listed = ", ".join(f"{name} ({n})" for name, n in list(bad.items())[:5])
        raise _fail(
            weights_path,
            f"{sum(bad.values())} weight(s) are NaN or infinite, in {listed}"
            f"{' ...' if len(bad) > 5 else ''}; such a model predicts NaN for every sample. Train it again "
            "(a diverged training stops before this; save the weights it restored).",
        )


def load(path: str | os.PathLike, with_metadata: bool = False, model: Any = None) -> Any:
    """Load a model saved by :func:`save`: rebuild the architecture from the JSON, then fill in the
    weights from the safetensors file. The model is returned in evaluation mode.

    Args:
        path: what was given to ``save`` (a directory, or a ``.safetensors`` / ``.json`` file name).
        with_metadata: also return the metadata dict (see :func:`read_metadata`): ``model, info =
            biograd.load(path, with_metadata=True)``; ``info["class_names"]``, ``info["preprocessing"]``...
        model: a model to load the weights into instead of rebuilding one (needed for custom layers whose
            architecture could not be stored).

    Raises:
        ModelFileError: a file is missing, truncated or corrupted (the weights' checksum disagrees with the
            JSON), the format version is unknown, or the weights do not fit the architecture.
    """
    weights_path, config_path = model_paths(path)
    if not config_path.exists() and not weights_path.exists():
        raise _fail(
            Path(path),
            f"no saved model here: expected {config_path.name} and {weights_path.name}"
            + (" in this directory." if config_path.name == CONFIG_FILE else " next to each other."),
        )
    document = _read_document(config_path)
    raw = read_model_file(
        weights_path,
        MAX_WEIGHTS_BYTES,
        missing=f"no such file; {config_path.name} describes weights stored in it.",
    )
    expected = document["weights"].get("sha256")
    if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
        previous = _backup_path(weights_path)
        old = b""
        with contextlib.suppress(ModelFileError):
            old = read_model_file(previous, MAX_WEIGHTS_BYTES)
        if old and hashlib.sha256(old).hexdigest() == expected:
            warnings.warn(
                f"The last save to {weights_path.parent} was interrupted before {config_path.name} was "
                "written; loaded the model saved before it (its weights and description match). Save "
                "again to keep the new one.",
                UserWarning,
                stacklevel=2,
            )
            raw = old
    if expected is not None and hashlib.sha256(raw).hexdigest() != expected:
        raise _fail(
            weights_path,
            f"its checksum does not match the one recorded in {config_path.name}: the file was truncated, "
            "corrupted, or comes from a different save. Save the model again.",
        )
    state, _ = parse_safetensors(raw, weights_path)
    del raw
    _check_finite(state, weights_path)

    if model is None:
        architecture = document.get("architecture")
        if architecture is None:
            raise _fail(
                config_path,
                "records no architecture (the model used layers biograd cannot describe). Build the model "
                "yourself and pass it: biograd.load(path, model=MyNet()).",
            )
        _check_declared_shapes(architecture, state, config_path, weights_path)
        from biograd.nn import from_config

        try:
            model = from_config(architecture)
        except Exception as err:  # a user's layer may raise anything; RecursionError for absurd nesting
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise _fail(config_path, f"its architecture cannot be rebuilt: {first}") from None
        floats = {arr.dtype for arr in state.values() if arr.dtype.kind == "f"}
        if len(floats) == 1:  # a float64 model comes back in float64 (from_config builds float32)
            model.to(floats.pop())
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if err.args else str(err)
        raise _fail(weights_path, f"the weights do not fit the architecture: {message}") from None
    if isinstance(document.get("target"), dict):
        from biograd.training.targets import TargetInfo, set_target_info

        try:
            set_target_info(model, TargetInfo.from_dict(document["target"]))
        except (TypeError, ValueError) as err:
            raise _fail(config_path, f"its description of the target is not readable: {err}") from None
    model.eval()
    if with_metadata:
        return model, _metadata_of(document)
    return model
