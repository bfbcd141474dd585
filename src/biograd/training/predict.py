"""Using a trained network: ``predict`` (labels or values), ``predict_proba`` and ``evaluate``.

All three run the model in eval mode (dropout off) without recording a graph, restore the model's mode
afterwards, and read what ``fit`` decided about y from ``model.target_info``
(:class:`biograd.training.targets.TargetInfo`): the task, the class labels, what the outputs are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.ops import stable_sigmoid, stable_softmax
from biograd.tensor import Tensor
from biograd.training.inputs import (
    _check_columns,
    _eval_mode,
    _evaluate_arrays,
    _features,
    _model_dtype,
    _peek_output,
)
from biograd.training.metrics import _class_predictions, _resolve_metrics
from biograd.training.targets import LOSS_SHORT_NAMES, _encode_like, _prepare_target, get_target_info


def _outputs(model: Module, x: Any, batch_size: int | None) -> np.ndarray:
    if not isinstance(model, Module):
        raise TypeError(f"Expected a biograd Module as model; got {type(model).__name__}.")
    arr, names = _features(x, _model_dtype(model))
    info = get_target_info(model)
    _check_columns(names, info.feature_names if info is not None else None)
    batch = batch_size or max(len(arr), 1)
    with _eval_mode(model):
        outs = [model(Tensor(arr[i : i + batch])).data for i in range(0, len(arr), batch)]
    return np.concatenate(outs) if outs else np.empty((0,))


def predict(model: Module, x: Any, batch_size: int | None = None, task: str | None = None) -> np.ndarray:
    """The model's predictions for x, in eval mode (dropout off) and without recording a graph.

    For a classifier trained by ``fit`` (or loaded with ``biograd.load``) the predicted class labels, in the
    values y had (e.g. 0/1, or "benign"/"malignant"); for regression the predicted values (shape (n,) for
    one output). A model fit has never seen returns its raw outputs, unless ``task`` says
    ``"classification"`` (argmax / logit > 0) or ``"regression"``; ``task="raw"`` always gives the raw
    outputs (logits for a classifier). The model's mode is restored afterwards.
    """
    out = _outputs(model, x, batch_size)
    info = get_target_info(model)
    if task not in (None, "classification", "regression", "raw"):
        raise ValueError(
            "The 'task' parameter of predict must be 'classification', 'regression', 'raw' or None. "
            f"Got {task!r} instead."
        )
    task = task or (info.task if info is not None else None)
    if task == "classification":
        indices = _class_predictions(out, info.output_kind if info is not None else "logits")
        classes = info.classes if info is not None else None
        return np.asarray(classes)[indices] if classes is not None else indices
    if task == "regression" and out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    return out


def predict_proba(model: Module, x: Any, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities, shape (n, k), columns in the order of the classes (as scikit-learn).

    k outputs: softmax of the logits (exp of log-probabilities for an NLLLoss model); one output: the
    sigmoid of the logit gives P(class 1) and the columns are [P(class 0), P(class 1)]. Runs in eval mode
    without a graph and restores the model's mode.
    """
    out = _outputs(model, x, batch_size).astype(np.float64)
    info = get_target_info(model)
    kind = info.output_kind if info is not None else "logits"
    if out.ndim == 1 or out.shape[1] == 1:
        z = out.reshape(len(out))
        p1 = z if kind == "probabilities" else stable_sigmoid(z)
        return np.stack([1.0 - p1, p1], axis=1)
    if kind == "log_probabilities":
        return np.exp(out)
    if kind == "probabilities":
        return out
    return stable_softmax(out, axis=1)


def evaluate(
    model: Module, x: Any, y: Any, loss: Any = None, metrics: Any = None, batch_size: int | None = None
) -> dict[str, float]:
    """The loss and metrics of the model on (x, y), e.g. ``{"loss": 0.08, "accuracy": 0.97}``.

    ``loss`` defaults to the one fit used (or, for a model fit has not seen, the one fit would choose).
    Runs in eval mode without a graph and restores the model's mode.
    """
    from biograd.nn import get_loss

    arr, _ = _features(x, _model_dtype(model))
    info = get_target_info(model)
    out_shape = _peek_output(model, arr)
    if loss is None and info is not None and info.loss:
        loss = LOSS_SHORT_NAMES.get(info.loss)
    if info is not None and info.task == "classification" and info.classes is not None:
        target = info
        loss_fn = get_loss(loss or "cross_entropy") if isinstance(loss, str) or loss is None else loss
        y_arr = _encode_like(y, target, out_shape, "y")
    else:
        target, loss_fn, y_arr = _prepare_target(y, loss, out_shape)
    if len(y_arr) != len(arr):
        raise ValueError(f"x has {len(arr)} rows but y has {len(y_arr)} values; they must match.")
    with _eval_mode(model):
        value, out = _evaluate_arrays(model, loss_fn, arr, y_arr, batch_size)
    result = {"loss": value}
    for name, fn in _resolve_metrics(metrics, target.task):
        result[name] = fn(y_arr, out, target.output_kind)
    return result
