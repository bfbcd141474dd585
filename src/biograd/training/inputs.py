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
    bad = _first_non_finite(arr)
    if bad is not None:
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


#: Rows are checked and evaluated in chunks of about this many values (16 MiB of float32), so that a
#: large table costs no full-size temporary (a mask of it, or every row's activations at once).
CHUNK_VALUES = 1 << 22


def chunk_rows(arr: np.ndarray) -> int:
    """How many rows of ``arr`` make one chunk of about CHUNK_VALUES values (at least one row)."""
    per_row = int(np.prod(arr.shape[1:], dtype=np.int64)) if arr.ndim > 1 else 1
    return max(1, CHUNK_VALUES // max(per_row, 1))


def _first_non_finite(arr: np.ndarray) -> np.ndarray | None:
    """The position of the first NaN or infinity in ``arr`` (checked chunk by chunk), or None."""
    if arr.ndim == 0 or arr.dtype.kind in "biu":
        return None
    step = chunk_rows(arr)
    for start in range(0, len(arr), step):
        part = arr[start : start + step]
        if not np.isfinite(part).all():
            bad = np.argwhere(~np.isfinite(part))[0]
            bad[0] += start
            return bad
    return None


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


def _evaluate_arrays(
    model: Module,
    loss_fn: Any,
    x: np.ndarray,
    y: np.ndarray,
    batch: int | None = None,
    rows: np.ndarray | None = None,
):
    """(mean loss, outputs) on a table, in eval mode without a graph; batches weighted by size.

    ``rows`` picks some rows of ``x`` (the training part of fit's split) without copying the others;
    ``y`` holds the targets of those rows only. Without ``batch``, rows go through in chunks of about
    CHUNK_VALUES input values, so no step holds every row's activations at once.
    """
    n = len(x) if rows is None else len(rows)
    batch = batch or chunk_rows(x)
    total, outputs = 0.0, []
    with no_grad():
        for start in range(0, n, batch):
            part = slice(start, start + batch)
            xb = x[part] if rows is None else x[rows[part]]
            yb = y[part]
            out = model(Tensor(xb))
            total += float(loss_fn(out, _target_tensor(yb, x.dtype)).item()) * len(xb)
            outputs.append(out.data)
    return total / max(n, 1), np.concatenate(outputs) if outputs else np.empty((0,))
