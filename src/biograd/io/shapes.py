"""What a model description declares, checked before anything is allocated: the parameter shapes its
architecture will build (:func:`declared_shapes`), how many layers it makes, and whether the weights file
fits it and holds only finite numbers.

A small model.json could otherwise make biograd build millions of layers or allocate gigabytes, and NaN
weights would make every prediction NaN.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biograd.io.files import _fail

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
