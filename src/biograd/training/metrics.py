"""Metrics fit records every epoch: accuracy for classification, R^2 and MAE for regression.

A metric is a function ``f(y_true, output, output_kind) -> float`` of the targets and the network's raw
output; ``output_kind`` (see :class:`biograd.training.targets.TargetInfo`) says whether that output holds
logits, probabilities or values, so accuracy knows where to put the 0/1 threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _class_predictions(output: np.ndarray, output_kind: str) -> np.ndarray:
    """Predicted class indices from the network's output.

    One output column: a logit (class 1 when it is > 0, i.e. sigmoid > 0.5) or, for ``BCELoss``, a
    probability (class 1 when > 0.5). k columns: the class with the largest score (argmax).
    """
    if output.ndim == 1 or output.shape[1] == 1:
        threshold = 0.5 if output_kind == "probabilities" else 0.0
        return (output.reshape(len(output)) > threshold).astype(np.int64)
    return output.reshape(len(output), -1).argmax(axis=1)


def accuracy(y_true: np.ndarray, output: np.ndarray, output_kind: str = "logits") -> float:
    """Fraction of rows whose predicted class (see ``_class_predictions``) equals the label."""
    labels = np.asarray(y_true).reshape(len(output))
    return float(np.mean(_class_predictions(np.asarray(output), output_kind) == labels))


def r2_score(y_true: np.ndarray, output: np.ndarray, output_kind: str = "values") -> float:
    """Coefficient of determination R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2.

    1 is a perfect fit, 0 is no better than predicting the mean, negative is worse. With several output
    columns, the average of the per-column R^2 (scikit-learn's ``multioutput="uniform_average"``).
    """
    y = np.asarray(y_true, dtype=np.float64).reshape(len(output), -1)
    y_hat = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
    ss_res = ((y - y_hat) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(
            ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0)
        )
    return float(r2.mean())


def mean_absolute_error(y_true: np.ndarray, output: np.ndarray, output_kind: str = "values") -> float:
    """MAE = mean |y - y_hat|, in the units of y."""
    y = np.asarray(y_true, dtype=np.float64).reshape(len(output), -1)
    return float(np.abs(y - np.asarray(output, dtype=np.float64).reshape(len(output), -1)).mean())


_METRICS: dict[str, Callable[..., float]] = {
    "accuracy": accuracy,
    "r2": r2_score,
    "mae": mean_absolute_error,
}
_METRIC_ALIASES = {"acc": "accuracy", "r2_score": "r2", "mean_absolute_error": "mae"}


def _resolve_metrics(metrics: Any, task: str) -> list[tuple[str, Callable[..., float]]]:
    if metrics is None:
        metrics = ["accuracy"] if task == "classification" else ["r2"]
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    resolved = []
    for m in metrics:
        if isinstance(m, str):
            name = _METRIC_ALIASES.get(m.lower(), m.lower())
            if name not in _METRICS:
                raise ValueError(
                    f"Unknown metric {m!r}. Known metrics: {', '.join(_METRICS)}; or pass a function "
                    "f(y_true, output) -> float."
                )
            resolved.append((name, _METRICS[name]))
        elif callable(m):
            fn = m
            resolved.append(
                (getattr(fn, "__name__", "metric"), lambda y, out, kind, fn=fn: float(fn(y, out)))
            )
        else:
            raise TypeError(f"A metric must be a name or a function f(y_true, output); got {m!r}.")
    return resolved


def _is_lower_better(name: str) -> bool:
    base = name[4:] if name.startswith("val_") else name
    return "loss" in base or "error" in base or base in ("mae", "mse", "rmse")
