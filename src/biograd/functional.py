"""Activations, dropout and losses as plain functions, composed from the engine's primitives.

The classes in :mod:`biograd.nn` (``nn.ReLU``, ``nn.CrossEntropyLoss``, ...) call these functions; use
whichever reads better. Nothing here defines its own backward: every function is built from engine ops
(``log_softmax``, ``softplus``, ``erf``, indexing, ...), so gradients come from the chain rule, and the
numerically delicate parts (log-softmax, softplus) are the engine's stable fused primitives.

>>> import biograd, biograd.functional as F                   # doctest: +SKIP
>>> logits = biograd.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> F.cross_entropy(logits, [0]).backward()                   # dL/dlogits = softmax(logits) - onehot
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biograd import kernels
from biograd.errors import ShapeError
from biograd.random import get_generator
from biograd.tensor import Tensor, _unary, as_tensor
from biograd.tensor_functions import erf, log_softmax, softplus

_REDUCTIONS = ("mean", "sum", "none")

# --------------------------------------------------------------------------------------------------
# Activations: y = activation(z) applied elementwise to a layer's pre-activations z = x @ W^T + b
# --------------------------------------------------------------------------------------------------


def identity(x: Any) -> Tensor:
    """y = x (no activation: a purely linear neuron, as for regression outputs)."""
    return as_tensor(x)


def relu(x: Any) -> Tensor:
    """y = max(0, x);  dy/dx = 1 where x > 0, else 0."""
    return _unary(kernels.ReLU(), x if isinstance(x, Tensor) else as_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """y = x where x > 0, else negative_slope * x: a ReLU whose negative side still passes a gradient."""
    return as_tensor(x).leaky_relu(negative_slope)


def sigmoid(x: Any) -> Tensor:
    """y = 1 / (1 + e^-x), a probability in (0, 1);  dy/dx = y (1 - y)."""
    return as_tensor(x).sigmoid()


def tanh(x: Any) -> Tensor:
    """y = tanh(x) in (-1, 1);  dy/dx = 1 - y^2."""
    return as_tensor(x).tanh()


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian Error Linear Unit: y = x * Phi(x), with Phi the standard normal CDF.

    ``approximate="none"`` (PyTorch's default) is exact: y = x/2 * (1 + erf(x / sqrt(2))).
    ``approximate="tanh"`` is the older shortcut y = x/2 * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(
            f"The 'approximate' parameter of gelu must be 'none' or 'tanh'. Got {approximate!r}."
        )
    x = as_tensor(x)
    if approximate == "tanh":
        inner = (x + 0.044715 * (x * x * x)) * math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + inner.tanh())
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """y_i = e^(x_i) / sum_j e^(x_j) along ``axis``: scores -> probabilities that sum to 1."""
    return as_tensor(x).softmax(axis)


def dropout(x: Any, p: float = 0.5, training: bool = True, seed: Any = None) -> Tensor:
    """Inverted dropout: in training, zero each value with probability p and scale the kept ones by 1/(1-p).

    y = x * m / (1 - p) with m ~ Bernoulli(1 - p), so E[y] = x and the network needs no rescaling at
    prediction time (``training=False`` returns x unchanged). The mask comes from biograd's global
    generator (``biograd.manual_seed``) unless ``seed`` (an int or numpy Generator) is given.
    """
    _check_probability(p, "dropout")
    x = as_tensor(x)
    if not training or p == 0:
        return x
    keep = get_generator(seed).random(x.shape) >= p  # True with probability 1 - p
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    return x * (keep.astype(dtype) * dtype.type(1.0 / (1.0 - p)))


def _check_probability(p: Any, owner: str) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0 <= p < 1:
        raise ValueError(
            f"The 'p' parameter of {owner} must be a float in the range [0, 1) (the probability of dropping "
            f"each value). Got {p!r} instead."
        )


# --------------------------------------------------------------------------------------------------
# Helpers for losses
# --------------------------------------------------------------------------------------------------


def _check_reduction(reduction: Any, owner: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"The 'reduction' parameter of {owner} must be a str among {{'mean', 'sum', 'none'}}. "
            f"Got {reduction!r} instead."
        )
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _prediction_target(prediction: Any, target: Any, owner: str) -> tuple[Tensor, Any]:
    """The prediction as a Tensor and the target as a Tensor (kept if given, so it may carry a gradient)
    of the prediction's float dtype; shapes must be equal (PyTorch only warns and broadcasts)."""
    prediction = as_tensor(prediction)
    if isinstance(target, Tensor):
        if target.dtype != prediction.dtype and prediction.dtype.kind == "f":
            target = target if target.requires_grad else Tensor(target.data, dtype=prediction.dtype)
    else:
        target = Tensor(np.asarray(target), dtype=prediction.dtype if prediction.dtype.kind == "f" else None)
    if prediction.shape != target.shape:
        advice = ""
        ps, ts = prediction.shape, target.shape
        if ps == (*ts, 1) or ts == (*ps, 1):
            advice = (
                " One of them has an extra axis of size 1 (a column vector): reshape it, e.g. "
                "prediction.reshape(-1) or target.reshape(-1, 1), so both have the same shape. Without "
                "this, broadcasting would compare every prediction with every target."
            )
        elif prediction.size == target.size:
            advice = f" They have the same number of values: reshape the target to {ps}."
        else:
            advice = " Check that the model's last layer has one output per target column."
        raise ShapeError(
            f"{owner}: the prediction has shape {ps} but the target has shape {ts}; they must be the same."
            f"{advice}"
        )
    return prediction, target


def _class_labels(labels: Any, logits_shape: tuple[int, ...], owner: str) -> np.ndarray:
    """Integer class indices (as an intp array) checked against logits of shape (N, C) or (N, C, L...)."""
    if isinstance(labels, Tensor):
        labels = labels.data
    labels = np.asarray(labels)
    n_classes = logits_shape[1] if len(logits_shape) >= 2 else logits_shape[0]
    kind = labels.dtype.kind
    if kind == "b" or kind not in "iuf":
        raise TypeError(
            f"{owner} needs integer class labels (0 to {n_classes - 1}); got an array of dtype "
            f"{labels.dtype}. Encode text labels as integers first (e.g. sklearn's LabelEncoder)."
        )
    expected = (*logits_shape[:1], *logits_shape[2:]) if len(logits_shape) >= 2 else ()
    if labels.shape != expected:
        if len(logits_shape) >= 2 and labels.shape == tuple(logits_shape):
            hint = (
                " These look like one-hot (or probability) targets: pass the class indices instead, "
                "e.g. labels.argmax(axis=1)."
            )
        elif len(logits_shape) == 2:
            hint = " (e.g. labels.reshape(-1))" if labels.size == logits_shape[0] else ""
            hint = f": pass a 1-D array of class indices{hint}"
            raise ShapeError(
                f"{owner}: got labels of shape {labels.shape} for {logits_shape[0]} samples{hint}. "
                f"The logits have shape {tuple(logits_shape)} (samples, classes)."
            )
        else:
            hint = ""
        raise ShapeError(
            f"{owner}: logits of shape {tuple(logits_shape)} need labels of shape {expected} (one class "
            f"index per sample and position); got labels of shape {labels.shape}.{hint}"
        )
    if kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            where_bad = _position(np.argwhere(bad)[0])
            raise TypeError(
                f"{owner} needs integer class labels; got the non-integer value {labels[bad][0].item()!r} at "
                f"position {where_bad}. Class labels are indices 0 to {n_classes - 1}; for "
                "regression targets use MSELoss, for 0/1 targets with one output use BCEWithLogitsLoss."
            )
    labels = labels.astype(np.intp, copy=False)
    low = np.minimum.reduce(labels, axis=None) if labels.size else 0
    if low < 0 or (labels.size and np.maximum.reduce(labels, axis=None) >= n_classes):
        bad = (labels < 0) | (labels >= n_classes)
        first = np.argwhere(bad)[0]
        raise ValueError(
            f"{owner}: labels must be integers in [0, {n_classes}); got {labels[tuple(first)]} at position "
            f"{_position(first)}. The logits have {n_classes} columns (classes): check the number of "
            f"outputs of the last layer, or re-encode the labels as 0 to {n_classes - 1}."
        )
    return labels


def _position(index: np.ndarray) -> Any:
    return int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)


def _class_weight(weight: Any, n_classes: int, dtype: Any, owner: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (n_classes,):
        raise ShapeError(
            f"{owner}: 'weight' must hold one weight per class, shape ({n_classes},); got shape {w.shape}."
        )
    return w


def _per_sample_nll(log_probs: Tensor, labels: np.ndarray, w: np.ndarray | None) -> tuple[Tensor, Any]:
    """-w[y] * log p[y] for every sample (and position), shaped like ``labels``, and sum of w[y]."""
    if log_probs.ndim == 1:  # one sample without a batch axis
        picked = log_probs[int(labels)]
    elif log_probs.ndim == 2:
        picked = log_probs[np.arange(labels.shape[0]), labels]
    else:  # (N, C, L...): gather along axis 1
        index = np.indices(labels.shape)
        picked = log_probs[(index[0], labels, *index[1:])]
    if w is None:
        return -picked, labels.size
    wy = w[labels]
    return -picked * wy, wy.sum()


# --------------------------------------------------------------------------------------------------
# Losses: a number that says how wrong the predictions are (the thing backpropagation differentiates)
# --------------------------------------------------------------------------------------------------


def mse_loss(prediction: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: L = mean((prediction - target)^2).

    No 1/2 factor (as PyTorch and Keras): dL/dprediction = 2 (prediction - target) / n. Some textbooks
    write 1/2 (y - t)^2 so the 2 cancels; this only rescales the gradient (i.e. the learning rate).
    Prediction and target must have the same shape (PyTorch merely warns and broadcasts, which silently
    computes something else for (N, 1) vs (N,)).
    """
    _check_reduction(reduction, "mse_loss")
    prediction, target = _prediction_target(prediction, target, "mse_loss")
    diff = prediction - target
    return _reduce(diff * diff, reduction)


def l1_loss(prediction: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error: L = mean(|prediction - target|), less sensitive to outliers than MSE."""
    _check_reduction(reduction, "l1_loss")
    prediction, target = _prediction_target(prediction, target, "l1_loss")
    return _reduce((prediction - target).abs(), reduction)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, weight: Any = None, pos_weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy on raw scores (logits) z, for 0/1 targets y, computed stably.

    With p = sigmoid(z):  L = -[pos_weight * y * ln p + (1 - y) * ln(1 - p)]. Since ln sigmoid(z) =
    -softplus(-z) and ln(1 - sigmoid(z)) = -softplus(z), this is
    L = pos_weight * y * softplus(-z) + (1 - y) * softplus(z), which never takes the log of a probability
    that rounded to 0 (softplus is the engine's overflow-free ln(1 + e^z)). Its gradient is
    sigmoid(z) - y (without pos_weight). ``pos_weight`` (one per output column) > 1 counts positives more:
    use (number of negatives / number of positives) for imbalanced data. ``weight`` rescales each element.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits, target = _prediction_target(logits, target, "binary_cross_entropy_with_logits")
    positive = softplus(-logits)  # -ln sigmoid(z)
    if pos_weight is not None:
        pw = np.asarray(pos_weight.data if isinstance(pos_weight, Tensor) else pos_weight, dtype=logits.dtype)
        positive = positive * pw
    loss = target * positive + (1.0 - target) * softplus(logits)
    if weight is not None:
        loss = loss * np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=logits.dtype)
    return _reduce(loss, reduction)


def binary_cross_entropy(
    probabilities: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy on probabilities p in [0, 1]: L = -[y ln p + (1 - y) ln(1 - p)].

    Less stable than :func:`binary_cross_entropy_with_logits`: once sigmoid rounds p to exactly 0 or 1
    the information is lost. Like PyTorch, each log is clamped at -100, so a confident wrong answer costs
    100, not infinity, and the gradient (p - y) / p(1 - p) keeps its denominator >= 1e-12 (large but
    finite there; see ``kernels.BinaryCrossEntropy``). Prefer a model that outputs logits with
    BCEWithLogitsLoss.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p, target = _prediction_target(probabilities, target, "binary_cross_entropy")
    if p.size and (np.nanmin(p.data) < 0 or np.nanmax(p.data) > 1 or np.isnan(p.data).any()):
        raise ValueError(
            f"binary_cross_entropy (BCELoss) needs probabilities in [0, 1]; got values from "
            f"{np.nanmin(p.data):.4g} to {np.nanmax(p.data):.4g}"
            f"{' and NaN' if np.isnan(p.data).any() else ''}. If the model outputs raw scores (logits, "
            "no sigmoid at the end), use BCEWithLogitsLoss instead: it applies the sigmoid itself, stably."
        )
    if isinstance(target, Tensor) and target.requires_grad:  # a target that learns: the composite form
        floor = math.exp(-100.0)
        log_p = p.clip(min=floor).log()
        log_not_p = (1.0 - p).clip(min=floor).log()
        loss = -(target * log_p + (1.0 - target) * log_not_p)
    else:  # one node, with PyTorch's finite gradient at p = 0 or 1
        y = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=p.dtype)
        with np.errstate(divide="ignore"):
            loss = _unary(kernels.BinaryCrossEntropy(y.astype(p.dtype, copy=False)), p)
    if weight is not None:
        loss = loss * np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=p.dtype)
    return _reduce(loss, reduction)


def nll_loss(log_probs: Any, labels: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the true classes, given log-probabilities (e.g. from log_softmax).

    L_i = -w[y_i] * log_probs[i, y_i]; "mean" divides the sum by sum_i w[y_i] (by N without weights), as
    PyTorch does. ``log_probs`` has shape (N, C) or (N, C, L...) with ``labels`` of shape (N,) or (N, L...).
    """
    _check_reduction(reduction, "nll_loss")
    log_probs = as_tensor(log_probs)
    _check_logits_shape(log_probs, "nll_loss")
    labels = _class_labels(labels, log_probs.shape, "nll_loss")
    n_classes = log_probs.shape[1] if log_probs.ndim >= 2 else log_probs.shape[0]
    w = _class_weight(weight, n_classes, log_probs.dtype, "nll_loss")
    losses, total_weight = _per_sample_nll(log_probs, labels, w)
    if reduction == "mean":
        return losses.sum() * (1.0 / total_weight)
    return losses.sum() if reduction == "sum" else losses


def cross_entropy(
    logits: Any, labels: Any, weight: Any = None, label_smoothing: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy of raw class scores (logits, shape (N, C) or (N, C, L...)) with integer class labels.

    L_i = -ln softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i], computed as nll_loss(log_softmax(z)) with the
    engine's stable log-softmax, so logits of +-1000 are fine. Labels may be a list, a numpy array or a
    Tensor (floats holding whole numbers are accepted).

    ``weight`` (one per class) counts mistakes on rare classes more; "mean" then divides by sum w[y_i].
    ``label_smoothing`` = eps trains towards (1 - eps) on the true class and eps/C spread over all classes:
    L = (1 - eps) * NLL + eps/C * sum_i sum_c -w_c ln p_ic / (sum_i w[y_i] for "mean"), PyTorch's formula.
    """
    _check_reduction(reduction, "cross_entropy")
    if isinstance(label_smoothing, bool) or not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(
            f"The 'label_smoothing' parameter of cross_entropy must be a float in the range [0, 1]. "
            f"Got {label_smoothing!r} instead."
        )
    logits = as_tensor(logits)
    _check_logits_shape(logits, "cross_entropy")
    labels = _class_labels(labels, logits.shape, "cross_entropy")
    class_axis = 1 if logits.ndim >= 2 else 0
    n_classes = logits.shape[class_axis]
    w = _class_weight(weight, n_classes, logits.dtype, "cross_entropy")
    if logits.ndim == 2 and label_smoothing == 0:
        # the fused node (kernels.CrossEntropy): the same value and gradient as the composite below
        return _unary(kernels.CrossEntropy(labels, w, reduction), logits)
    log_p = log_softmax(logits, axis=class_axis)
    losses, total_weight = _per_sample_nll(log_p, labels, w)
    if label_smoothing > 0:
        if w is not None:
            shape = [1] * logits.ndim
            shape[class_axis] = n_classes
            smooth = -(log_p * w.reshape(shape)).sum(axis=class_axis)
        else:
            smooth = -log_p.sum(axis=class_axis)
        eps = float(label_smoothing)
        losses = (1.0 - eps) * losses + (eps / n_classes) * smooth
    if reduction == "mean":
        return losses.sum() * (1.0 / total_weight)
    return losses.sum() if reduction == "sum" else losses


def _check_logits_shape(logits: Tensor, owner: str) -> None:
    if logits.ndim == 0 or (logits.ndim >= 2 and logits.shape[1] == 0):
        raise ShapeError(
            f"{owner} needs scores of shape (samples, classes); got shape {logits.shape}. For one output "
            "per sample (binary classification) use BCEWithLogitsLoss."
        )


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "gelu",
    "identity",
    "l1_loss",
    "leaky_relu",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
