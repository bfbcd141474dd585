"""What every optimizer shares: the :class:`Optimizer` base class, the checks of its arguments, and the
in-place numpy kernels the update rules are written with.

The base class holds the parameters, the hyperparameters (PyTorch's ``param_groups`` layout) and each
parameter's running state; it saves and restores them (``state_dict``). A rule (:mod:`~biograd.optim.sgd`,
:mod:`~biograd.optim.adam`, :mod:`~biograd.optim.rmsprop`) only defines ``_update``: how one array of weights
changes from its gradient, in place.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from biograd.tensor import Tensor

# Parameter validation (scikit-learn's wording: "The 'lr' parameter of SGD must be > 0. Got -1 instead.")


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


# In-place helpers (no allocation: ``out=`` everywhere).
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
