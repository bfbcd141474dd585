"""Adam and AdamW: a step size for each weight from running averages of its gradient and its square;
AdamW shrinks the weights directly (decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from biograd.optim.base import (
    Optimizer,
    _add_weight_decay,
    _axpy_,
    _check_betas,
    _check_bool,
    _check_lr,
    _check_real,
    _lerp_,
)
from biograd.tensor import Tensor


class Adam(Optimizer):
    r"""Adam: a step size for each weight from running averages of its gradient (PyTorch's Adam).

    Starting from w <- w - lr * g, Adam replaces g by m / sqrt(v): m averages the gradient (direction,
    like momentum), v averages its square (scale), so every weight moves about lr per step whatever the
    size of its gradient. At step t (t = 1, 2, ...), with g = dL/dw::

        g <- g + lambda * w                          (only if weight_decay = lambda > 0: L2, "coupled")
        m <- beta1 * m + (1 - beta1) * g             (m, v start at 0)
        v <- beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)                    (bias correction: m, v start at 0, so early
        v_hat = v / (1 - beta2^t)                     averages are too small)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    With ``amsgrad=True`` v_hat uses the largest v seen so far (v_max <- max(v_max, v)).

    Args:
        params: the parameters to optimize, e.g. ``model.parameters()``.
        lr: learning rate, > 0 (default 0.001).
        betas: (beta1, beta2), each in [0, 1): how slowly m and v forget.
        eps: added to the denominator to avoid dividing by 0, >= 0.
        weight_decay: lambda >= 0, added to the gradient (L2). With Adam this penalty is scaled by the
            adaptive step like everything else; :class:`AdamW` applies it to the weights directly.
        amsgrad: use the running maximum of v (never let the step size grow back).
    """

    _decoupled = False
    elementwise = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        owner = type(self).__name__
        defaults = dict(
            lr=_check_lr(owner, lr),
            betas=_check_betas(owner, betas),
            eps=_check_real(owner, "eps", eps, 0.0),
            weight_decay=_check_real(owner, "weight_decay", weight_decay, 0.0),
            amsgrad=_check_bool(owner, "amsgrad", amsgrad),
        )
        super().__init__(params, defaults)

    def _update(self, i: Any, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        coupled = weight_decay != 0 and not self._decoupled
        bufs = self._buffers(i, w, 2 if coupled else 1)
        tmp = bufs[0]
        m = self._zeros_state(state, "exp_avg", w)
        v = self._zeros_state(state, "exp_avg_sq", w)
        t = state["step"] = state.get("step", 0) + 1
        if weight_decay != 0:
            if self._decoupled:
                w *= 1.0 - lr * weight_decay  # AdamW: shrink the weights themselves
            else:
                g = _add_weight_decay(w, g, weight_decay, out=bufs[1])  # Adam: L2 through the gradient
        _lerp_(m, g, 1.0 - beta1, tmp)  # m <- beta1 m + (1 - beta1) g
        v *= beta2  # v <- beta2 v + (1 - beta2) g^2
        np.multiply(g, g, out=tmp)
        _axpy_(v, 1.0 - beta2, tmp, tmp)
        step_size = lr / (1.0 - beta1**t)
        bias_correction2_sqrt = (1.0 - beta2**t) ** 0.5
        if group["amsgrad"]:
            v_max = self._zeros_state(state, "max_exp_avg_sq", w)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        np.sqrt(v, out=tmp)  # denominator: sqrt(v_hat) + eps = sqrt(v) / sqrt(1 - beta2^t) + eps
        tmp /= bias_correction2_sqrt
        tmp += eps
        np.divide(m, tmp, out=tmp)
        # w <- w - lr * m_hat / (sqrt(v_hat) + eps), with m_hat's 1/(1 - beta1^t) in step_size
        _axpy_(w, -step_size, tmp, tmp)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (PyTorch's AdamW): the weights shrink directly.

    At each step, before Adam's update (see :class:`Adam`, here without the L2 term in g)::

        w <- w * (1 - lr * lambda)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    Unlike Adam's coupled L2, every weight decays by the same fraction whatever its gradient history,
    which usually regularizes better. ``weight_decay`` (lambda) defaults to 0.01, like PyTorch's.
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
