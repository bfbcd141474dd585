"""Optimizers: the rules that turn gradients into better weights.

Backpropagation gives dL/dw, how the loss L changes when a weight w changes. Gradient descent then takes a
small step downhill::

    w <- w - lr * dL/dw

``lr`` (the learning rate) sets the step size. Every optimizer here starts from that rule and changes how
the step is taken: :class:`SGD` adds momentum (a running average of past steps), :class:`Adam` and
:class:`RMSprop` give each weight its own step size from running averages of its gradients, and
:class:`AdamW` shrinks the weights directly (decoupled weight decay). The formulas are PyTorch's, to the
last rounding step where that costs nothing, and the tests check 20 training steps against PyTorch.

A training step::

    optimizer = biograd.optim.Adam(model.parameters(), lr=1e-3)
    for xb, yb in loader:
        optimizer.zero_grad()          # forget the last step's gradients (they accumulate otherwise)
        loss = loss_fn(model(xb), yb)
        loss.backward()                # dL/dw for every weight, in p.grad
        optimizer.step()               # w <- w - lr * (the optimizer's version of dL/dw)

Updates happen in place on ``p.data`` (the arrays keep their identity and dtype, float32 by default) and
reuse scratch arrays, because this runs once per batch. A parameter whose ``.grad`` is None (it took no
part in the loss) is skipped. Note that in-place means a parameter that shares memory with one of your
numpy arrays changes that array too (``Module.load_state_dict`` always copies, so loaded weights are safe).

Learning-rate schedulers (:class:`StepLR`, :class:`ReduceLROnPlateau`) change ``optimizer.lr`` during
training; :func:`create` builds an optimizer from its name (``"adam"``, ``"sgd"``, ...).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from biograd.tensor import Tensor

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "create",
    "optimizer_names",
]


# --------------------------------------------------------------------------------------------------
# Parameter validation (scikit-learn's wording: "The 'lr' parameter of SGD must be > 0. Got -1 instead.")
# --------------------------------------------------------------------------------------------------


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_real(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """``value`` as a float if it lies in the interval, else a ValueError/TypeError in sklearn's words."""
    if high is None:
        rule = f"> {low:g}" if low_open else f">= {low:g}"
    else:
        rule = f"a float in the range {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if not _is_real(value):
        raise TypeError(f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")
    v = float(value)
    ok = v > low if low_open else v >= low
    if high is not None:
        ok = ok and (v < high if high_open else v <= high)
    if not ok or math.isnan(v):
        raise ValueError(f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")
    return v


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The {name!r} parameter of {owner} must be True or False. Got {value!r} instead.")
    return bool(value)


def _check_lr(owner: str, value: Any) -> float:
    return _check_real(owner, "lr", value, 0.0, low_open=True)


def _check_betas(owner: str, betas: Any) -> tuple[float, float]:
    rule = "a pair of floats (beta1, beta2), each in the range [0, 1)"
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"The 'betas' parameter of {owner} must be {rule}. Got {betas!r} instead.") from None
    if not (_is_real(b1) and _is_real(b2)):
        raise TypeError(f"The 'betas' parameter of {owner} must be {rule}. Got {betas!r} instead.")
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise ValueError(f"The 'betas' parameter of {owner} must be {rule}. Got {betas!r} instead.")
    return float(b1), float(b2)


def _as_parameter_list(params: Any, owner: str) -> list[Tensor]:
    """Materialize ``params`` (often a generator such as ``model.parameters()``) into a list of Tensors."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{owner} needs an iterable of parameters, such as model.parameters(); got a single Tensor. "
            f"Wrap it in a list: {owner}([w], lr=...)."
        )
    if isinstance(params, Mapping):
        raise TypeError(
            f"{owner} needs an iterable of parameters, such as model.parameters(); got a dict. "
            "Pass model.parameters() (or list(state.values()) for a dict of tensors)."
        )
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{owner} needs an iterable of parameters, such as model.parameters(); "
            f"got {type(params).__name__}."
        ) from None
    if not params:
        raise ValueError(
            f"{owner} got an empty list of parameters, so there is nothing to optimize. Pass "
            "model.parameters() of a model that has weights (note that a generator such as "
            "model.parameters() can be used only once: create it again for a second optimizer)."
        )
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{owner} can only optimize biograd tensors (Parameters); item {i} of the parameter list "
                f"is a {type(p).__name__}. Pass model.parameters(), or tensors created with "
                "biograd.tensor(..., requires_grad=True)."
            )
        if p.data.dtype.kind != "f":
            raise TypeError(
                f"{owner} can only optimize floating-point tensors; parameter {i} holds {p.data.dtype} data."
            )
    seen: set[int] = set()
    for i, p in enumerate(params):
        if id(p) in seen:
            raise ValueError(
                f"{owner}: parameter {i} appears twice in the parameter list; each must be listed once "
                "(it would otherwise be updated twice per step)."
            )
        seen.add(id(p))
    return params


# --------------------------------------------------------------------------------------------------
# In-place helpers (no allocation: ``out=`` everywhere)
# --------------------------------------------------------------------------------------------------


# Large parameters are updated in cache-sized chunks through one small scratch array: y += alpha * x then
# costs two passes over a chunk that is still in cache, and never a temporary as large as the parameter.
# (BLAS's axpy would take one pass, but the one at hand is scipy's: a second OpenBLAS with its own thread
# pool, whose threads fight numpy's for the cores and made whole training steps up to 8x slower.)
_AXPY_MIN_SIZE = 4096
_CHUNK = 32768  # 128 KB of float32


def _axpy_(y: np.ndarray, alpha: float, x: np.ndarray, tmp: np.ndarray | None) -> None:
    """y <- y + alpha * x, in place. ``tmp`` is scratch shaped like y, or None: then a large contiguous
    y goes through in chunks (no full-size temporary) and a small one gets a temporary."""
    if tmp is not None or y.size < _AXPY_MIN_SIZE or not (y.flags.c_contiguous and x.flags.c_contiguous):
        np.add(y, np.multiply(x, alpha, out=tmp), out=y)
        return
    yf, xf = y.reshape(-1), x.reshape(-1)
    n = yf.size
    buf = np.empty(min(_CHUNK, n), dtype=y.dtype)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        part = buf[: stop - start]
        np.multiply(xf[start:stop], alpha, out=part)
        yf[start:stop] += part


def _lerp_(avg: np.ndarray, g: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """avg <- avg + weight * (g - avg), i.e. (1 - weight) * avg + weight * g, in place.

    The same two-branch formula as PyTorch's ``lerp_`` (so results agree to the last bit or two).
    """
    np.subtract(g, avg, out=tmp)
    if weight < 0.5:
        _axpy_(avg, weight, tmp, tmp)
    else:
        tmp *= 1.0 - weight
        np.subtract(g, tmp, out=avg)


def _add_weight_decay(w: np.ndarray, g: np.ndarray, weight_decay: float, out: np.ndarray) -> np.ndarray:
    """out <- g + weight_decay * w: the gradient of L + weight_decay/2 * ||w||^2 (L2 regularization)."""
    np.multiply(w, weight_decay, out=out)
    out += g
    return out


# --------------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------------


class Optimizer:
    """Base class: holds the parameters, the hyperparameters and each parameter's running state.

    Subclasses define ``_update(i, w, g, state, group)``, which changes the weights ``w`` in place
    from the gradient ``g``.

    Attributes:
        params: the parameters being optimized (a list; the order is the order of ``state_dict``).
        param_groups: PyTorch's layout, for familiarity: a list with one dict holding ``"params"`` and
            every hyperparameter (``"lr"``, ...). ``optimizer.lr`` reads and writes
            ``param_groups[0]["lr"]``, so the two always agree.
        state: one dict per parameter (momentum buffers, running averages, step counts), filled on the
            first ``step()``.
    """

    def __init__(self, params: Iterable[Tensor], defaults: dict[str, Any]) -> None:
        self.params = _as_parameter_list(params, type(self).__name__)
        self.param_groups: list[dict[str, Any]] = [{"params": self.params, **defaults}]
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self._scratch: dict[Any, list[np.ndarray]] = {}  # scratch arrays by parameter index (or key)

    # -- the learning rate -------------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate (step size): the ``lr`` in w <- w - lr * dL/dw. Schedulers change it."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.param_groups[0]["lr"] = _check_lr(type(self).__name__, value)

    @property
    def defaults(self) -> dict[str, Any]:
        """The hyperparameters (every entry of ``param_groups[0]`` except ``"params"``)."""
        return {k: v for k, v in self.param_groups[0].items() if k != "params"}

    # -- one step ----------------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Forget the gradients of the last backward pass (sets ``p.grad = None``; they accumulate
        otherwise). Call it before each ``loss.backward()``."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place. Parameters with ``grad = None`` are
        skipped (their state does not advance either)."""
        group = self.param_groups[0]
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            w = p.data
            if not w.flags.writeable:  # e.g. a read-only array from a file: give the parameter its own copy
                w = p.data = w.copy()
            self._update(i, w, g, self.state[i], group)

    def _update(self, i: Any, w: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update().")

    #: True when the update rule treats every number on its own (all built-in optimizers): then one
    #: update over a flat array holding several parameters gives exactly the numbers of one update each.
    elementwise = False

    def step_arrays(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any], key: Any = "arrays") -> None:
        """One update of the plain array ``w`` (in place) from its gradient ``g``, with ``state`` the running
        state dict to use (momentum buffers, averages, ``"step"``), as :meth:`step` does for each parameter.

        For elementwise rules (``elementwise = True``) ``w`` may be one flat array holding many parameters:
        ``biograd.record_step`` updates a whole network this way in one call per step instead of one per
        parameter. ``key`` names the scratch arrays kept between calls.
        """
        self._update(key, w, g, state, self.param_groups[0])

    def _buffers(self, i: Any, w: np.ndarray, count: int) -> list[np.ndarray]:
        """``count`` scratch arrays shaped like parameter i (allocated once, reused every step)."""
        bufs = self._scratch.get(i, [])
        if len(bufs) < count or bufs[0].shape != w.shape or bufs[0].dtype != w.dtype:
            bufs = self._scratch[i] = [np.empty_like(w) for _ in range(max(count, len(bufs)))]
        return bufs

    @staticmethod
    def _zeros_state(state: dict[str, Any], key: str, w: np.ndarray) -> np.ndarray:
        """``state[key]``, created as zeros in the parameter's shape and dtype on first use."""
        arr = state.get(key)
        if arr is None:
            arr = state[key] = np.zeros_like(w)
        return arr

    # -- saving and restoring ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: hyperparameters and per-parameter state.

        The layout is PyTorch's, plus the optimizer's name::

            {"type": "Adam",
             "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999], ..., "params": [0, 1, 2, 3]}],
             "state": {0: {"step": 20, "exp_avg": array, "exp_avg_sq": array}, ...}}

        Everything except the state arrays is JSON-friendly (numbers, booleans, lists); the arrays are
        numpy copies in the parameters' dtype, so ``biograd.io`` can put them in safetensors.
        """
        group = {}
        for k, v in self.defaults.items():
            group[k] = list(v) if isinstance(v, tuple) else v
        group["params"] = list(range(len(self.params)))
        state = {}
        for i, st in enumerate(self.state):
            if st:
                state[i] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
        return {"type": type(self).__name__, "param_groups": [group], "state": state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (state keys may be ints or strings, as after JSON).

        Raises a ValueError if it comes from another optimizer type or another number of parameters,
        and a ValueError naming the parameter if an array's shape does not match.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict:
            raise ValueError(
                f"{name}.load_state_dict needs the dict made by optimizer.state_dict() (with 'param_groups' "
                f"and 'state'); got {type(state_dict).__name__}."
            )
        saved_type = state_dict.get("type", name)
        if saved_type != name:
            raise ValueError(
                f"This optimizer state was saved from {saved_type}, so it cannot be loaded into {name}. "
                f"Create a {saved_type} optimizer instead."
            )
        groups = state_dict["param_groups"]
        if len(groups) != 1:
            raise ValueError(f"{name} has one parameter group; the saved state has {len(groups)}.")
        saved = dict(groups[0])
        n_saved = len(saved.pop("params", range(len(self.params))))
        if n_saved != len(self.params):
            raise ValueError(
                f"The saved {name} state is for {n_saved} parameters, but this optimizer has "
                f"{len(self.params)}. The model architecture differs from the one that was saved."
            )
        unknown = sorted(set(saved) - set(self.defaults))
        if unknown:
            raise ValueError(f"The saved {name} state has unknown hyperparameters: {', '.join(unknown)}.")
        new_state: list[dict[str, Any]] = [{} for _ in self.params]
        for key, entries in dict(state_dict.get("state", {})).items():
            i = int(key)
            if not 0 <= i < len(self.params):
                raise ValueError(f"The saved {name} state refers to parameter {i}, which does not exist.")
            w = self.params[i].data
            for k, v in entries.items():
                if isinstance(v, (np.ndarray, Tensor)):
                    arr = np.asarray(v.data if isinstance(v, Tensor) else v)
                    if arr.shape != w.shape:
                        raise ValueError(
                            f"The saved {name} state {k!r} of parameter {i} has shape {arr.shape}, but the "
                            f"parameter has shape {w.shape}."
                        )
                    new_state[i][k] = arr.astype(w.dtype, copy=True)
                else:
                    new_state[i][k] = int(v) if k == "step" else v
        for k, v in saved.items():
            self.param_groups[0][k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state
        self._scratch = {}

    # -- display -----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        n_numbers = sum(p.data.size for p in self.params)
        return f"{type(self).__name__}({hyper}; {len(self.params)} parameter tensors, {n_numbers:,} numbers)"


# --------------------------------------------------------------------------------------------------
# The optimizers
# --------------------------------------------------------------------------------------------------


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
        if weight_decay == 0 and momentum == 0 and w.size >= _AXPY_MIN_SIZE:
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


# --------------------------------------------------------------------------------------------------
# Building an optimizer from its name
# --------------------------------------------------------------------------------------------------

_OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def optimizer_names() -> list[str]:
    """The names :func:`create` understands."""
    return list(_OPTIMIZERS)


def create(
    name_or_optimizer: str | type[Optimizer] | Optimizer,
    params: Iterable[Tensor],
    lr: float | None = None,
    **kwargs: Any,
) -> Optimizer:
    """An optimizer from its name: ``"sgd"``, ``"adam"``, ``"adamw"`` or ``"rmsprop"`` (any case).

    Args:
        name_or_optimizer: a name, an optimizer class (e.g. ``biograd.optim.Adam``), or an optimizer
            object (returned unchanged; ``lr`` and other settings must then be None/absent).
        params: the parameters to optimize, e.g. ``model.parameters()``.
        lr: the learning rate; None means the optimizer's default (SGD 0.01, Adam/AdamW 0.001,
            RMSprop 0.01).
        **kwargs: other settings of that optimizer, e.g. ``momentum=0.9`` for SGD.

    >>> opt = biograd.optim.create("adam", model.parameters(), lr=3e-4)   # doctest: +SKIP
    """
    settings = dict(kwargs)
    if lr is not None:
        settings["lr"] = lr
    if isinstance(name_or_optimizer, Optimizer):
        if settings:
            raise ValueError(
                f"create() got an optimizer object ({type(name_or_optimizer).__name__}) and settings "
                f"({', '.join(settings)}); set them when creating the optimizer, or pass its name instead."
            )
        return name_or_optimizer
    if isinstance(name_or_optimizer, type) and issubclass(name_or_optimizer, Optimizer):
        cls = name_or_optimizer
    elif isinstance(name_or_optimizer, str):
        cls = _OPTIMIZERS.get(name_or_optimizer.strip().lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {name_or_optimizer!r}. Valid names: {', '.join(map(repr, _OPTIMIZERS))}."
            )
    else:
        raise TypeError(
            "The 'name_or_optimizer' parameter of create must be a name "
            f"({', '.join(map(repr, _OPTIMIZERS))}), an optimizer class or an optimizer. "
            f"Got {name_or_optimizer!r} instead."
        )
    try:
        return cls(params, **settings)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        import inspect

        valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]
        unknown = [k for k in settings if k not in valid]
        raise TypeError(
            f"{cls.__name__} has no setting {', '.join(map(repr, unknown))}. Its settings are: "
            f"{', '.join(valid)}."
        ) from None


# --------------------------------------------------------------------------------------------------
# Learning-rate schedulers
# --------------------------------------------------------------------------------------------------


def _check_optimizer(owner: str, optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner} needs a biograd optimizer (e.g. biograd.optim.SGD(...)); "
            f"got {type(optimizer).__name__}."
        )
    return optimizer


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (PyTorch's StepLR).

    After e calls of ``step()`` (one per epoch): lr = initial_lr * gamma^(e // step_size).

    >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)      # doctest: +SKIP
    >>> for epoch in range(100):                                     # doctest: +SKIP
    ...     train_one_epoch(...)
    ...     scheduler.step()
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.optimizer = _check_optimizer("StepLR", optimizer)
        if (
            isinstance(step_size, (bool, np.bool_))
            or not isinstance(step_size, numbers.Integral)
            or step_size < 1
        ):
            raise ValueError(
                f"The 'step_size' parameter of StepLR must be an int >= 1. Got {step_size!r} instead."
            )
        self.step_size = int(step_size)
        self.gamma = _check_real("StepLR", "gamma", gamma, 0.0, low_open=True)
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    def step(self) -> None:
        """Call once per epoch, after the optimizer's steps of that epoch."""
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.optimizer.lr = self.optimizer.lr * self.gamma
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last ``step()`` (a one-item list, like PyTorch's)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's counters and settings (JSON-friendly)."""
        return {
            "type": "StepLR",
            "step_size": self.step_size,
            "gamma": self.gamma,
            "base_lr": self.base_lr,
            "last_epoch": self.last_epoch,
            "last_lr": list(self._last_lr),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_scheduler_type(self, state)
        self.step_size, self.gamma = int(state["step_size"]), float(state["gamma"])
        self.base_lr, self.last_epoch = float(state["base_lr"]), int(state["last_epoch"])
        self._last_lr = [float(v) for v in state["last_lr"]]

    def __repr__(self) -> str:
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma:g}, last_epoch={self.last_epoch})"


def _check_scheduler_type(scheduler: Any, state: Mapping[str, Any]) -> None:
    name = type(scheduler).__name__
    saved = state.get("type", name) if isinstance(state, Mapping) else None
    if saved != name:
        raise ValueError(f"This scheduler state was saved from {saved}, so it cannot be loaded into {name}.")


class ReduceLROnPlateau:
    """Lower the learning rate when a metric (usually the validation loss) stops improving (PyTorch's).

    Call ``step(metric)`` once per epoch. The metric counts as better when (``mode="min"``,
    ``threshold_mode="rel"``) metric < best * (1 - threshold), or (``"abs"``) metric < best - threshold
    (for ``mode="max"``: greater than best * (1 + threshold) or best + threshold). After more than
    ``patience`` epochs in a row without improvement, lr <- max(lr * factor, min_lr); then ``cooldown``
    epochs pass before bad epochs are counted again.

    >>> scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=5)    # doctest: +SKIP
    >>> scheduler.step(val_loss)                                             # doctest: +SKIP
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        self.optimizer = _check_optimizer(owner, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"The 'mode' parameter of {owner} must be 'min' or 'max'. Got {mode!r} instead.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"The 'threshold_mode' parameter of {owner} must be 'rel' or 'abs'. "
                f"Got {threshold_mode!r} instead."
            )
        self.factor = _check_real(owner, "factor", factor, 0.0, 1.0, low_open=True)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(
                    f"The {name!r} parameter of {owner} must be an int >= 0. Got {value!r} instead."
                )
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = _check_real(owner, "threshold", threshold, 0.0)
        self.min_lr = _check_real(owner, "min_lr", min_lr, 0.0)
        self.eps = _check_real(owner, "eps", eps, 0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (1.0 + self.threshold)
        return value > best + self.threshold

    def step(self, metric: float) -> None:
        """Record this epoch's metric (e.g. validation loss) and lower the lr if it has plateaued."""
        current = float(metric.item() if isinstance(metric, Tensor) else metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            old_lr = self.optimizer.lr
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.param_groups[0]["lr"] = new_lr  # may reach min_lr = 0, which .lr= refuses
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate after the last ``step()`` (a one-item list, like PyTorch's)."""
        return list(self._last_lr)

    _SAVED = (
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lr",
        "eps",
        "best",
        "num_bad_epochs",
        "cooldown_counter",
        "last_epoch",
    )

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's counters and settings (JSON-friendly, except that ``best`` may be +-inf)."""
        state = {"type": "ReduceLROnPlateau", **{k: getattr(self, k) for k in self._SAVED}}
        state["last_lr"] = list(self._last_lr)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_scheduler_type(self, state)
        for k in self._SAVED:
            setattr(self, k, state[k])
        self._last_lr = [float(v) for v in state["last_lr"]]

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor:g}, patience={self.patience}, "
            f"best={self.best:g}, num_bad_epochs={self.num_bad_epochs})"
        )
