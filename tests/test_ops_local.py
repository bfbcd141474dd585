"""Ops that state their derivative twice agree with themselves.

An elementwise op gives its local derivatives dy/dx with ``local()`` (the chain-rule trace prints them)
and may also write ``backward()`` out for speed. Both are hand-written, so they can drift apart; here
every such op, found by walking ``biograd.ops`` and ``biograd.kernels`` (a new op cannot be forgotten),
must give dL/dx = dL/dy * dy/dx from ``local()`` equal to what ``backward()`` returns, on random inputs
with a random upstream gradient. Each is also checked against finite differences, the oracle both must
match.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from biograd import kernels, ops


def _both_stated(cls: type) -> bool:
    return cls.local is not ops.Op.local and cls.backward is not ops.Op.backward


def _ops_stating_both() -> dict[str, type]:
    found = {}
    for module in (ops, kernels):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ops.Op) and cls is not ops.Op and _both_stated(cls):
                found[f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__name__}"] = cls
    return found


_rng = np.random.default_rng(11)
_CONDITION = _rng.random((3, 4)) > 0.5


def _away_from_zero(shape):
    """Random numbers at least 0.2 from 0 (the kink of ReLU, the pole of 1/x)."""
    x = _rng.uniform(0.2, 2.0, size=shape)
    return x * _rng.choice([-1.0, 1.0], size=shape)


# How to build each op and draw inputs it is defined on. A new op stating both derivatives fails
# test_every_op_stating_both_derivatives_has_a_case until it is added here.
_CASES = {
    "ops.Add": (ops.Add, lambda: (_rng.normal(size=(3, 4)), _rng.normal(size=(3, 4)))),
    "ops.Sub": (ops.Sub, lambda: (_rng.normal(size=(3, 4)), _rng.normal(size=(3, 4)))),
    "ops.Div": (ops.Div, lambda: (_rng.normal(size=(3, 4)), _away_from_zero((3, 4)))),
    "ops.Where": (
        lambda: ops.Where(_CONDITION),
        lambda: (_rng.normal(size=(3, 4)), _rng.normal(size=(3, 4))),
    ),
    "ops.Neg": (ops.Neg, lambda: (_rng.normal(size=(3, 4)),)),
    "ops.Log": (ops.Log, lambda: (_rng.uniform(0.2, 3.0, size=(3, 4)),)),
    "ops.Sqrt": (ops.Sqrt, lambda: (_rng.uniform(0.2, 3.0, size=(3, 4)),)),
    "ops.ReLU": (ops.ReLU, lambda: (_away_from_zero((3, 4)),)),
    # big enough and sparse enough for the fast path (>= 4096 entries, few nonzero upstream gradients)
    "kernels.ReLU": (kernels.ReLU, lambda: (_away_from_zero((64, 128)),)),
}


def test_every_op_stating_both_derivatives_has_a_case():
    assert set(_ops_stating_both()) == set(_CASES)


def _upstream(name, shape):
    g = _rng.normal(size=shape)
    if name == "kernels.ReLU":  # one nonzero entry per row, as after global max pooling
        sparse = np.zeros(shape)
        sparse[np.arange(shape[0]), _rng.integers(0, shape[1], size=shape[0])] = 1.5
        return sparse
    return g


@pytest.mark.parametrize("name", sorted(_CASES))
def test_local_and_backward_agree(name):
    make, draw = _CASES[name]
    inputs = draw()
    op = make()
    op.needs_grad = (True,) * len(inputs)
    y = op.forward(*inputs)
    g = _upstream(name, np.shape(y))
    from_backward = op.backward(g)
    from_local = [g * d for d in op.local()]
    assert len(from_backward) == len(from_local) == len(inputs)
    for i, (b, loc) in enumerate(zip(from_backward, from_local, strict=True)):
        b = np.broadcast_to(b, np.shape(inputs[i]))
        loc = np.broadcast_to(loc, np.shape(inputs[i]))
        np.testing.assert_allclose(b, loc, rtol=1e-12, atol=1e-12, err_msg=f"{name}, input {i}")


@pytest.mark.parametrize("name", sorted(_CASES))
def test_backward_matches_central_differences(name):
    make, draw = _CASES[name]
    inputs = [np.asarray(x, dtype=np.float64) for x in draw()]
    op = make()
    op.needs_grad = (True,) * len(inputs)
    g = _upstream(name, np.shape(op.forward(*inputs)))
    grads = op.backward(g)
    h = 1e-6
    for i, x in enumerate(inputs):
        numeric = np.zeros_like(x)
        for j in _rng.choice(x.size, size=min(x.size, 12), replace=False):
            for sign in (1, -1):
                shifted = [v.copy() for v in inputs]
                shifted[i].reshape(-1)[j] += sign * h
                numeric.reshape(-1)[j] += sign * np.sum(g * make().forward(*shifted)) / (2 * h)
            expected = np.broadcast_to(grads[i], x.shape).reshape(-1)[j]
            np.testing.assert_allclose(expected, numeric.reshape(-1)[j], rtol=1e-5, atol=1e-7)
