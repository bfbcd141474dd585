"""RMSprop: each gradient divided by a running root-mean-square of its recent values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from biograd.optim.base import (
    Optimizer,
    _add_weight_decay,
    _axpy_,
    _check_bool,
    _check_lr,
    _check_real,
    _lerp_,
)
from biograd.tensor import Tensor


class RMSprop(Optimizer):
    r"""RMSprop: divide each gradient by a running root-mean-square of its recent values (PyTorch's).

    Starting from w <- w - lr * g, with g = dL/dw::

        g <- g + lambda * w                        (only if weight_decay = lambda > 0)
        v <- alpha * v + (1 - alpha) * g^2         (v starts at 0)
        s = v                                      (centered=True:  a <- alpha * a + (1 - alpha) * g,
                                                                    s = v - a^2, a variance estimate)
        w <- w - lr * g / (sqrt(s) + eps)
        with momentum mu > 0 instead:  b <- mu * b + g / (sqrt(s) + eps);  w <- w - lr * b  (b starts at 0)

    Args:
        params: the parameters to optimize, e.g. ``model.parameters()``.
        lr: learning rate, > 0 (default 0.01).
        alpha: smoothing constant in [0, 1) (default 0.99).
        eps: added to the denominator, >= 0.
        weight_decay: lambda >= 0 (L2 penalty).
        momentum: mu >= 0.
        centered: normalize by the gradient's variance instead of its mean square.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        owner = "RMSprop"
        defaults = dict(
            lr=_check_lr(owner, lr),
            alpha=_check_real(owner, "alpha", alpha, 0.0, 1.0),
            eps=_check_real(owner, "eps", eps, 0.0),
            weight_decay=_check_real(owner, "weight_decay", weight_decay, 0.0),
            momentum=_check_real(owner, "momentum", momentum, 0.0),
            centered=_check_bool(owner, "centered", centered),
        )
        super().__init__(params, defaults)

    elementwise = True

    def _update(self, i: Any, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        bufs = self._buffers(i, w, 2 if weight_decay != 0 else 1)
        tmp = bufs[0]
        state["step"] = state.get("step", 0) + 1
        v = self._zeros_state(state, "square_avg", w)
        if weight_decay != 0:
            g = _add_weight_decay(w, g, weight_decay, out=bufs[1])
        v *= alpha  # v <- alpha v + (1 - alpha) g^2
        np.multiply(g, g, out=tmp)
        _axpy_(v, 1.0 - alpha, tmp, tmp)
        if group["centered"]:
            a = self._zeros_state(state, "grad_avg", w)
            _lerp_(a, g, 1.0 - alpha, tmp)  # a <- alpha a + (1 - alpha) g
            np.multiply(a, a, out=tmp)
            np.subtract(v, tmp, out=tmp)  # s = v - a^2
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += eps  # sqrt(s) + eps
        np.divide(g, tmp, out=tmp)  # g / (sqrt(s) + eps)
        if momentum > 0:
            b = self._zeros_state(state, "momentum_buffer", w)
            b *= momentum
            b += tmp
            _axpy_(w, -lr, b, tmp)  # w <- w - lr * b
        else:
            _axpy_(w, -lr, tmp, tmp)  # w <- w - lr * g / (sqrt(s) + eps)
