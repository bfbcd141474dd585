"""How data goes through the model, shared by ``fit``, ``predict`` and ``evaluate``.

x is read as a float array of the model's dtype (numpy arrays, nested lists, Tensors, pandas tables, whose
column names are kept), checked for NaN/inf; one forward pass on two rows tells the shape of the model's
output (which :mod:`biograd.training.targets` needs to choose the task and the loss).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.tensor import Tensor, no_grad


def _features(x: Any, dtype: np.dtype, what: str = "x") -> tuple[np.ndarray, list[str] | None]:
    """x as a float array of the model's dtype (numpy arrays, lists, Tensors, pandas tables)."""
    names = None
    columns = getattr(x, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns]
    if isinstance(x, Tensor):
        x = x.data
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise TypeError(f"fit could not read {what} as a table of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must hold numbers; got values of dtype {arr.dtype} (text?). Convert text columns to "
            "numbers first (one-hot encode categories)."
        )
    if arr.ndim == 0:
        raise ValueError(f"{what} must be a table (one row per sample); got a single number.")
    original = arr
    with np.errstate(over="ignore"):  # too-large values become inf here: told apart just below
        arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        value = original[where]
        if np.isfinite(value):  # finite, yet beyond what the model's dtype holds (1e308 in float32)
            raise ValueError(
                f"{what} holds {float(value):g} at position {where}, beyond the largest number a {dtype} "
                f"network computes with ({float(np.finfo(dtype).max):.3g}). Rescale it (e.g. log10), or "
                "correct the value."
            )
        raise ValueError(
            f"{what} contains NaN or infinite values (first at position {where}). "
            "Remove or impute missing values before training."
        )
    return arr, names


def _model_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _peek_output(model: Module, x: np.ndarray) -> tuple[int, ...]:
    """Per-sample shape of the model's output, from one forward pass on two rows (eval mode, no graph)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(x[:2]))
    finally:
        model.train(was_training)
    shape = tuple(out.shape)
    if not shape or shape[0] != min(2, len(x)):
        raise ValueError(
            f"The model turned {min(2, len(x))} rows into an output of shape {shape}; it must give "
            "one output per row (first axis = samples)."
        )
    return shape[1:]


def _check_columns(names: list[str] | None, trained: list[str] | None) -> None:
    """A table with column names (pandas) must have the columns the model was trained on, in that order."""
    if names is None or trained is None or names == trained:
        return
    missing = [c for c in trained if c not in names]
    extra = [c for c in names if c not in trained]
    problem = f"missing {missing}, unexpected {extra}" if missing or extra else "same ones, other order"
    raise ValueError(
        f"x has other columns than the table the model was trained on ({problem}). Select them in the "
        f"training order: x[{trained[:5]}{'...' if len(trained) > 5 else ''}]."
    )


def _target_tensor(y: np.ndarray, dtype) -> Any:
    """Integer labels stay a numpy array (the classification losses take them so); values become Tensors."""
    return y if y.dtype.kind in "iu" else Tensor(y.astype(dtype, copy=False))


@contextlib.contextmanager
def _eval_mode(model: Module):
    """Eval mode and no graph inside; the model's previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _evaluate_arrays(model: Module, loss_fn: Any, x: np.ndarray, y: np.ndarray, batch: int | None = None):
    """(mean loss, outputs) on a whole table, in eval mode without a graph; batches weighted by size."""
    batch = batch or max(len(x), 1)
    total, outputs = 0.0, []
    with no_grad():
        for start in range(0, len(x), batch):
            xb, yb = x[start : start + batch], y[start : start + batch]
            out = model(Tensor(xb))
            total += float(loss_fn(out, _target_tensor(yb, x.dtype)).item()) * len(xb)
            outputs.append(out.data)
    return total / max(len(x), 1), np.concatenate(outputs) if outputs else np.empty((0,))
