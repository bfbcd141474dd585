"""What the page draws for one frame, computed from a playground session by biograd's engine.

Heatmaps travel as GRID x GRID bytes in base64 (0-255 over a stated range), so a frame of a 2-8-8-1 network
is a few tens of kilobytes of JSON: each hidden neuron's output over the plane, the output surface (a
probability, a class and its probability, or a value), the weights, the thinned loss curves.
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from biograd import nn
from biograd.tensor import Tensor, no_grad

if TYPE_CHECKING:
    from biograd.playground.session import Session

GRID = 40  # the heatmaps are GRID x GRID points over the plotted plane
MAX_CURVE = 400  # the loss curves sent to the page have at most this many points


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.uint8).tobytes()).decode("ascii")


def _quantize(values: np.ndarray, low: float, high: float) -> str:
    """Values in [low, high] as bytes 0-255 in base64: a heatmap in GRID*GRID bytes."""
    span = high - low if high > low else 1.0
    return _b64(np.clip(np.rint((values - low) / span * 255), 0, 255))


def finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _thin(values: list[float], most: int) -> tuple[list[int], list[float | None]]:
    """At most ``most`` evenly spaced points of a curve (always the last one), with their positions."""
    n = len(values)
    if n <= most:
        index = list(range(n))
    else:
        index = sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))
    return index, [finite(values[i]) for i in index]


def _activations_on_grid(session: Session) -> tuple[list[np.ndarray], np.ndarray]:
    """Each hidden layer's outputs over the grid (eval mode) and the network's output there."""
    session.model.eval()
    hidden = []
    with no_grad():
        h = Tensor(session.grid_x)
        seen = 0  # Linear layers passed so far
        for m in session.model:
            h = m(h)
            if isinstance(m, nn.Linear):
                seen += 1
            elif not isinstance(m, nn.Dropout) and seen <= len(session.settings.hidden):
                hidden.append(h.data)
    session.model.train()
    return hidden[: len(session.settings.hidden)], h.data


def frame(session: Session, with_points: bool = False) -> dict[str, Any]:
    """Everything the page draws for one frame: state, heatmaps, output surface, weights, curves."""
    with session.locked():
        out = session.state()
        session.frames_served += 1
        out["frame"] = session.frames_served  # increases with every frame: the page never draws an older one
        hidden, output = _activations_on_grid(session)
        layers = []
        for acts in hidden:
            neurons = []
            for j in range(acts.shape[1]):
                scale = float(np.max(np.abs(acts[:, j]))) or 1.0
                neurons.append({"scale": scale, "map": _quantize(acts[:, j], -scale, scale)})
            layers.append(neurons)
        out["neurons"] = layers
        out["output"] = _surface(session, output)
        out["weights"] = [
            {
                "w": np.round(m.weight.data.astype(np.float64), 5).tolist(),
                "b": np.round(m.bias.data.astype(np.float64), 5).tolist(),
            }
            for m in session.linears
        ]
        index, loss = _thin(session.curves["loss"], MAX_CURVE)
        out["curves"] = {
            "epoch": [session.curves["epoch"][i] for i in index],
            "loss": loss,
            "val_loss": [finite(session.curves["val_loss"][i]) for i in index],
            "baseline": session.baseline,
        }
        out["diagnosis"] = session.current_diagnosis()
        if points:
            out["data"] = points(session)
        return out


def _surface(session: Session, output: np.ndarray) -> dict[str, Any]:
    task = session.data.task
    if task == "multiclass":
        z = output - output.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return {
            "kind": "multiclass",
            "cls": _b64(p.argmax(axis=1)),
            "p": _quantize(p.max(axis=1), 0, 1),
            "per_class": [_quantize(p[:, k], 0, 1) for k in range(p.shape[1])],  # one per output neuron
        }
    if task == "binary":
        p = (
            output[:, 0]
            if session.settings.loss == "mse"
            else 1 / (1 + np.exp(-np.clip(output[:, 0], -50, 50)))
        )
        return {"kind": "binary", "p": _quantize(p, 0, 1)}
    y = session.data.y_train
    lo, hi = float(y.min()), float(y.max())
    return {"kind": "regression", "lo": lo, "hi": hi, "v": _quantize(output[:, 0], lo, hi)}


def points(session: Session) -> dict[str, Any]:
    """The data as plotted: raw units of the first two features, targets, names (user strings:
    the page shows them with textContent only)."""
    d = session.data
    if session.n_in == 1:  # the vertical axis: the target (regression) or a random spread
        spread = np.random.default_rng(session.settings.seed).uniform(
            -0.9, 0.9, len(d.y_train) + len(d.y_test)
        )
        up_train = d.y_train if d.task == "regression" else spread[: len(d.y_train)]
        up_test = d.y_test if d.task == "regression" else spread[len(d.y_train) :]
        train, test = np.c_[d.x_train[:, 0], up_train], np.c_[d.x_test[:, 0], up_test]
    else:
        train, test = d.x_train[:, :2], d.x_test[:, :2]
    return {
        "version": session.data_version,
        "train": np.round(train.astype(np.float64), 5).tolist(),
        "test": np.round(test.astype(np.float64), 5).tolist(),
        "one_feature": session.n_in == 1,
        "y_train": np.asarray(d.y_train, np.float64).round(5).tolist(),
        "y_test": np.asarray(d.y_test, np.float64).round(5).tolist(),
        "features": d.feature_names,
        "target": d.target_name,
        "classes": d.classes,
        "task": d.task,
        "extent": session.extent,
        "grid": GRID,
        "description": d.description,
        "notes": d.notes,
    }
