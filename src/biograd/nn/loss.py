"""Loss functions as modules: ``loss_fn = CrossEntropyLoss(); loss = loss_fn(logits, labels)``.

A loss turns predictions and targets into one number that says how wrong the model is; backpropagation
differentiates it with respect to every weight. Each class calls its function in :mod:`biograd.functional`.
``reduction`` is "mean" (average over samples, the default), "sum", or "none" (one loss per sample).

Which loss for which task:

============================  =================================  ========================================
task                          model output                       loss
============================  =================================  ========================================
regression                    any number (no activation)         MSELoss (or L1Loss, robust to outliers)
binary classification (0/1)   one raw score (logit) per sample   BCEWithLogitsLoss
multi-class classification    one raw score per class (N, C)     CrossEntropyLoss (integer labels)
============================  =================================  ========================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biograd import functional as F
from biograd.nn.module import Module, register_layer
from biograd.tensor import Tensor


def _as_list(value: Any) -> Any:
    """A JSON-safe copy of an optional per-class/per-output array."""
    if value is None:
        return None
    return np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64).tolist()


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._check_reduction(reduction, type(self).__name__)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


@register_layer
class MSELoss(_Loss):
    """Mean squared error L = mean((prediction - target)^2), for regression.

    Note: no 1/2 factor, as in PyTorch and Keras; the gradient is 2 (prediction - target) / n. Prediction
    and target must have the same shape: a ShapeError explains (N, 1) vs (N,) instead of broadcasting.
    """

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.mse_loss(prediction, target, self.reduction)


@register_layer
class L1Loss(_Loss):
    """Mean absolute error L = mean(|prediction - target|), for regression with outliers."""

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.l1_loss(prediction, target, self.reduction)


@register_layer
class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on raw scores (logits): sigmoid and log computed together, stably.

    L = -[pos_weight * y ln sigmoid(z) + (1 - y) ln(1 - sigmoid(z))], computed with softplus so that
    logits of +-1000 give exact finite values. ``pos_weight`` (per output) weighs positive examples:
    n_negative / n_positive balances a rare positive class. ``weight`` rescales each element's loss.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(_as_list(weight))
        self.pos_weight = None if pos_weight is None else np.asarray(_as_list(pos_weight))

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            logits, target, self.weight, self.pos_weight, self.reduction
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "weight": _as_list(self.weight),
            "reduction": self.reduction,
            "pos_weight": _as_list(self.pos_weight),
        }


@register_layer
class BCELoss(_Loss):
    """Binary cross-entropy on probabilities p in [0, 1]: L = -[y ln p + (1 - y) ln(1 - p)].

    Less numerically stable than :class:`BCEWithLogitsLoss` (a sigmoid that rounds to 0 or 1 loses the
    information; each log is clamped at -100 like PyTorch). Values outside [0, 1] raise a ValueError.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(_as_list(weight))

    def forward(self, probabilities: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(probabilities, target, self.weight, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _as_list(self.weight), "reduction": self.reduction}


@register_layer
class CrossEntropyLoss(_Loss):
    """Cross-entropy for C classes, on raw scores (logits) of shape (N, C) (or (N, C, L)) and integer labels.

    L_i = -ln softmax(z_i)[y_i]: log-softmax and negative log-likelihood in one, stable for any logits.
    Do not apply softmax first. Labels: a list, numpy array or Tensor of class indices 0..C-1.
    ``weight`` (one per class) up-weights rare classes; ``label_smoothing`` eps aims at 1 - eps + eps/C for
    the true class instead of 1 (PyTorch's formula, including its normalization with class weights).
    """

    def __init__(self, weight: Any = None, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if isinstance(label_smoothing, bool) or not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(
                "The 'label_smoothing' parameter of CrossEntropyLoss must be a float in the range [0, 1]. "
                f"Got {label_smoothing!r} instead."
            )
        self.weight = None if weight is None else np.asarray(_as_list(weight))
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Any, labels: Any) -> Tensor:
        return F.cross_entropy(logits, labels, self.weight, self.label_smoothing, self.reduction)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()] if super().extra_repr() else []
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)

    def get_config(self) -> dict[str, Any]:
        return {
            "weight": _as_list(self.weight),
            "label_smoothing": self.label_smoothing,
            "reduction": self.reduction,
        }


@register_layer
class NLLLoss(_Loss):
    """Negative log-likelihood L_i = -w[y_i] log_probs[i, y_i], on log-probabilities (after LogSoftmax).

    LogSoftmax followed by NLLLoss equals CrossEntropyLoss on the logits.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = None if weight is None else np.asarray(_as_list(weight))

    def forward(self, log_probs: Any, labels: Any) -> Tensor:
        return F.nll_loss(log_probs, labels, self.weight, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _as_list(self.weight), "reduction": self.reduction}


_LOSSES: dict[str, type[_Loss]] = {
    "mse": MSELoss,
    "l1": L1Loss,
    "bce": BCELoss,
    "bce_with_logits": BCEWithLogitsLoss,
    "cross_entropy": CrossEntropyLoss,
    "nll": NLLLoss,
}


def get_loss(name: str | Module, **kwargs: Any) -> Module:
    """A loss module from its name: "mse", "l1", "bce", "bce_with_logits", "cross_entropy", "nll".

    Keyword arguments go to the loss (``get_loss("cross_entropy", label_smoothing=0.1)``); a Module is
    returned as is.
    """
    if isinstance(name, Module):
        return name
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key in _LOSSES:
        return _LOSSES[key](**kwargs)
    raise ValueError(
        f"Unknown loss {name!r}. Valid names: {', '.join(_LOSSES)} (or pass a loss module such as "
        "biograd.nn.CrossEntropyLoss(weight=[1, 5]))."
    )
