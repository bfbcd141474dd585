"""Gradient descent, the notes' rule w <- w - lr * dL/dw, with momentum, Nesterov momentum, weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from biograd.optim import base
from biograd.optim.base import Optimizer, _add_weight_decay, _axpy_, _check_bool, _check_lr, _check_real
from biograd.tensor import Tensor


class SGD(Optimizer):
    r"""Gradient descent, optionally with momentum, Nesterov momentum and weight decay (PyTorch's SGD).

    Plain gradient descent is the notes' rule, with g = dL/dw::

        w <- w - lr * g

    Whether it is *batch*, *stochastic* or *mini-batch* gradient descent depends only on how many samples
    the loss (and so g) was computed from: the whole dataset, one sample, or a batch of k (see
    ``biograd.data.DataLoader``).

    With ``weight_decay`` = lambda (L2 regularization, pulls weights towards 0)::

        g <- g + lambda * w

    With ``momentum`` = mu > 0, a velocity b (the momentum buffer) averages past gradients; on the first
    step b = g, afterwards (tau = ``dampening``)::

        b <- mu * b + (1 - tau) * g
        w <- w - lr * b                 (or, with nesterov=True:  w <- w - lr * (g + mu * b))

    Args:
        params: the parameters to optimize, e.g. ``model.parameters()``.
        lr: learning rate, > 0. The default 0.01 is a common start for SGD (PyTorch's default is 0.001).
        momentum: mu >= 0; 0.9 is typical. 0 means plain gradient descent.
        dampening: tau in [0, 1]: how much of the new gradient to hold back from the momentum buffer.
        nesterov: look ahead along the momentum (needs momentum > 0 and dampening = 0).
        weight_decay: lambda >= 0 (L2 penalty).

    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)       # doctest: +SKIP
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        owner = "SGD"
        lr = _check_lr(owner, lr)
        momentum = _check_real(owner, "momentum", momentum, 0.0)
        dampening = _check_real(owner, "dampening", dampening, 0.0, 1.0, high_open=False)
        nesterov = _check_bool(owner, "nesterov", nesterov)
        weight_decay = _check_real(owner, "weight_decay", weight_decay, 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "The 'nesterov' parameter of SGD requires momentum > 0 and dampening = 0 (Nesterov momentum "
                f"looks ahead along the momentum buffer). Got momentum={momentum:g} and "
                f"dampening={dampening:g} instead. Set momentum (e.g. momentum=0.9) and dampening=0, or "
                "nesterov=False."
            )
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=weight_decay
        )
        super().__init__(params, defaults)

    elementwise = True

    def _update(self, i: Any, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        nesterov = group["nesterov"]
        if weight_decay == 0 and momentum == 0 and w.size >= base._AXPY_MIN_SIZE:
            _axpy_(w, -lr, g, None)  # plain gradient descent on a large array: chunked, no scratch
            return
        bufs = self._buffers(i, w, 2 if (weight_decay and nesterov) else 1)
        tmp = bufs[0]
        d = g  # the direction: g, plus weight decay, then through the momentum buffer
        if weight_decay != 0:
            d = _add_weight_decay(w, g, weight_decay, out=tmp)
        if momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(d, copy=True)  # b_1 = g_1, as PyTorch
            else:
                b *= momentum
                dampening = group["dampening"]
                if dampening == 0:
                    b += d
                else:
                    _axpy_(b, 1.0 - dampening, d, tmp)
            if nesterov:
                look = bufs[1] if d is tmp else tmp
                np.multiply(b, momentum, out=look)
                np.add(d, look, out=look)  # g + mu * b
                d = look
            else:
                d = b
        _axpy_(w, -lr, d, tmp)  # w <- w - lr * d
