"""Whole models: ``save`` writes the weights (safetensors) and a JSON description (architecture, format
version, checksum, metadata); ``load`` checks both and rebuilds the network (:mod:`biograd.io` describes the
two files).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biograd._version import __version__
from biograd.io.files import ModelFileError, _atomic_write, _fail, _parse_json, read_model_file
from biograd.io.safetensors import MAX_WEIGHTS_BYTES, parse_safetensors, safetensors_bytes
from biograd.io.shapes import _check_declared_shapes, _check_finite

FORMAT_NAME = "biograd-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
#: The largest model.json read (feature names, preprocessing and class names of even 100,000 genes take a
#: few MB).
MAX_JSON_BYTES = 64 * 1024 * 1024


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
