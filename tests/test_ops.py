"""Every primitive and composite op against two oracles: PyTorch in float64 (values and gradients, with a
random upstream gradient) and central finite differences on hypothesis-generated shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import biograd
from biograd.errors import ShapeError
from torch_oracle import needs_torch, torch

F = None if torch is None else torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def values(rng: np.random.Generator, shape, domain: str = "real") -> np.ndarray:
    """Random float64 values for one input, kept inside the op's domain and away from its kinks."""
    if domain == "real":
        return rng.normal(size=shape)
    if domain == "positive":  # log, sqrt, division, a base with a real exponent
        return rng.uniform(0.5, 2.0, size=shape)
    if domain == "nonzero":  # relu, abs, leaky_relu: |x| >= 0.1, so no kink within finite differences
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)
    if domain == "distinct":  # max/min: values spaced 0.1 apart (no ties, no near-ties)
        n = int(np.prod(shape, dtype=int))
        return (rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(-0.02, 0.02, size=n)).reshape(shape)
    raise ValueError(domain)


def check_against_torch(bg_fn, torch_fn, arrays, rng, rtol=RTOL, atol=ATOL):
    """Forward values and gradients of bg_fn and torch_fn agree, in float64, for upstream gradient v."""
    bg_inputs = [biograd.tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    th_inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = bg_fn(*bg_inputs)
    expected = torch_fn(*th_inputs)
    assert out.shape == tuple(expected.shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)

    v = rng.normal(size=out.shape) + 0.5  # a random, non-uniform upstream gradient
    out.backward(v)
    expected.backward(torch.tensor(v))
    for i, (b, t) in enumerate(zip(bg_inputs, th_inputs, strict=True)):
        expected_grad = np.zeros(b.shape) if t.grad is None else t.grad.numpy()
        assert b.grad is not None, f"input {i} got no gradient"
        assert b.grad.shape == b.shape
        np.testing.assert_allclose(b.grad, expected_grad, rtol=rtol, atol=atol, err_msg=f"input {i}")


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((2, 1, 4), (3, 1)),
    ((3, 1), (1, 4)),
    ((), (3,)),
    ((3, 2), ()),
    ((), ()),
]
UNARY_SHAPES = [(), (5,), (2, 3), (2, 1, 3)]


# --------------------------------------------------------------------------------------------------
# Parity with PyTorch
# --------------------------------------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, "real", "real"),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, "real", "real"),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, "real", "real"),
    "div": (lambda a, b: a / b, lambda a, b: a / b, "real", "positive"),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, "positive", "real"),
    "maximum": (biograd.maximum, lambda a, b: torch.maximum(a, b), "distinct", "distinct"),
    "minimum": (biograd.minimum, lambda a, b: torch.minimum(a, b), "distinct", "distinct"),
    "function add": (biograd.add, lambda a, b: torch.add(a, b), "real", "real"),
    "function sub": (biograd.sub, lambda a, b: torch.sub(a, b), "real", "real"),
    "function mul": (biograd.mul, lambda a, b: torch.mul(a, b), "real", "real"),
    "function div": (biograd.div, lambda a, b: torch.div(a, b), "real", "positive"),
    "function pow": (biograd.pow, lambda a, b: torch.pow(a, b), "positive", "real"),
}


@needs_torch
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_match_torch(name, shapes, rng):
    bg_fn, th_fn, dom_a, dom_b = BINARY[name]
    a = values(rng, shapes[0], dom_a)
    b = values(rng, shapes[1], dom_b)
    if dom_a == "distinct":  # keep a and b apart too: a on the even tenths, b on the odd ones
        b = np.round(rng.uniform(-2, 2, size=shapes[1]), 1) + 0.05
        a = np.round(a, 1)
    check_against_torch(bg_fn, th_fn, [a, b], rng)


@needs_torch
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 1, 0, 2.5])
def test_pow_with_constant_exponent_matches_torch(exponent, rng):
    x = values(rng, (3, 4), "positive")
    check_against_torch(lambda a: a**exponent, lambda a: a**exponent, [x], rng)


@needs_torch
@pytest.mark.parametrize("base", [2.0, 0.5, np.e])
def test_constant_to_the_power_of_tensor_matches_torch(base, rng):
    x = values(rng, (3, 4), "real")
    check_against_torch(lambda a: base**a, lambda a: base**a, [x], rng)


@needs_torch
def test_reflected_arithmetic_with_numbers_matches_torch(rng):
    x = values(rng, (2, 3), "positive")
    check_against_torch(
        lambda a: 3.0 - a + 2.0 * a + 1.5 / a - (-a) + a / 4 - a * 0.5 + (a - 1),
        lambda a: 3.0 - a + 2.0 * a + 1.5 / a - (-a) + a / 4 - a * 0.5 + (a - 1),
        [x],
        rng,
    )


MATMUL_SHAPES = [
    ((4,), (4,)),
    ((3, 4), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
]


@needs_torch
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_matches_torch(shapes, rng):
    a, b = values(rng, shapes[0]), values(rng, shapes[1])
    check_against_torch(lambda x, y: x @ y, torch.matmul, [a, b], rng)
    check_against_torch(biograd.matmul, torch.matmul, [a, b], rng)


@needs_torch
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 5, 4), (4,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(x_shape, bias, rng):
    arrays = [values(rng, x_shape), values(rng, (3, 4))] + ([values(rng, (3,))] if bias else [])
    check_against_torch(biograd.linear, F.linear, arrays, rng)


@needs_torch
def test_linear_matches_its_three_op_composite(rng):
    x, w, b = values(rng, (6, 4)), values(rng, (3, 4)), values(rng, (3,))
    check_against_torch(biograd.linear, lambda x, w, b: x @ w.T + b, [x, w, b], rng)


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, "real"),
    "exp": (biograd.exp, lambda x: torch.exp(x), "real"),
    "log": (biograd.log, lambda x: torch.log(x), "positive"),
    "sqrt": (biograd.sqrt, lambda x: torch.sqrt(x), "positive"),
    "abs": (biograd.abs, lambda x: torch.abs(x), "nonzero"),
    "sin": (biograd.sin, lambda x: torch.sin(x), "real"),
    "cos": (biograd.cos, lambda x: torch.cos(x), "real"),
    "tanh": (biograd.tanh, lambda x: torch.tanh(x), "real"),
    "sigmoid": (biograd.sigmoid, lambda x: torch.sigmoid(x), "real"),
    "relu": (biograd.relu, lambda x: torch.relu(x), "nonzero"),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1), "nonzero"),
    "leaky_relu default": (biograd.leaky_relu, lambda x: F.leaky_relu(x), "nonzero"),
    "softplus": (biograd.softplus, lambda x: F.softplus(x), "real"),
    "erf": (biograd.erf, lambda x: torch.erf(x), "real"),
    "erf wide": (lambda x: (x * 3).erf(), lambda x: (x * 3).erf(), "real"),
    "clip": (lambda x: x.clip(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7), "real"),
    "clip low": (lambda x: biograd.clip(x, min=0.2), lambda x: x.clamp(min=0.2), "real"),
    "clip high": (lambda x: biograd.clip(x, max=0.2), lambda x: x.clamp(max=0.2), "real"),
    "softmax": (lambda x: x.softmax(axis=-1), lambda x: x.softmax(dim=-1), "real"),
    "log_softmax": (lambda x: x.log_softmax(axis=-1), lambda x: x.log_softmax(dim=-1), "real"),
    "logsumexp all": (biograd.logsumexp, lambda x: x.logsumexp(dim=tuple(range(x.ndim))), "real"),
}


@needs_torch
@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ops_match_torch(name, shape, rng):
    bg_fn, th_fn, domain = UNARY[name]
    if shape == () and name in ("softmax", "log_softmax"):
        pytest.skip("softmax needs an axis")
    check_against_torch(bg_fn, th_fn, [values(rng, shape, domain)], rng)


@needs_torch
def test_tensor_methods_match_module_functions_against_torch(rng):
    x = values(rng, (3, 4), "positive")
    check_against_torch(
        lambda a: (
            a.exp()
            + a.log()
            + a.sqrt()
            + a.abs()
            + a.sin()
            + a.cos()
            + a.tanh()
            + a.sigmoid()
            + a.relu()
            + a.softplus()
            + a.erf()
            + a.maximum(1.0)
            + a.minimum(1.0)
        ),
        lambda a: (
            a.exp()
            + a.log()
            + a.sqrt()
            + a.abs()
            + a.sin()
            + a.cos()
            + a.tanh()
            + a.sigmoid()
            + a.relu()
            + F.softplus(a)
            + a.erf()
            + a.clamp(min=1.0)
            + a.clamp(max=1.0)
        ),
        [x],
        rng,
    )


@needs_torch
def test_where_matches_torch(rng):
    cond = rng.uniform(size=(3, 4)) > 0.5
    a, b = values(rng, (3, 4)), values(rng, (4,))
    check_against_torch(
        lambda x, y: biograd.where(cond, x, y),
        lambda x, y: torch.where(torch.tensor(cond), x, y),
        [a, b],
        rng,
    )
    cond_row = rng.uniform(size=(4,)) > 0.5  # the condition broadcasts too
    check_against_torch(
        lambda x: biograd.where(biograd.tensor(cond_row), x, 0.0),
        lambda x: torch.where(torch.tensor(cond_row), x, 0.0),
        [values(rng, (3, 1))],
        rng,
    )


AXES = [None, 0, -1, 1, (0, 2), (0, 1, 2)]


@needs_torch
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_reductions_match_torch(axis, keepdims, rng):
    x = values(rng, (2, 3, 4))
    dim = tuple(range(3)) if axis is None else axis
    cases = [
        (lambda a: a.sum(axis=axis, keepdims=keepdims), lambda a: a.sum(dim=dim, keepdim=keepdims)),
        (lambda a: a.mean(axis=axis, keepdims=keepdims), lambda a: a.mean(dim=dim, keepdim=keepdims)),
        (
            lambda a: a.var(axis=axis, keepdims=keepdims),
            lambda a: a.var(dim=dim, keepdim=keepdims, correction=0),
        ),
        (
            lambda a: a.var(axis=axis, keepdims=keepdims, ddof=1),
            lambda a: a.var(dim=dim, keepdim=keepdims, correction=1),
        ),
        (lambda a: a.max(axis=axis, keepdims=keepdims), lambda a: a.amax(dim=dim, keepdim=keepdims)),
        (lambda a: a.min(axis=axis, keepdims=keepdims), lambda a: a.amin(dim=dim, keepdim=keepdims)),
        (
            lambda a: a.logsumexp(axis=axis, keepdims=keepdims),
            lambda a: a.logsumexp(dim=dim, keepdim=keepdims),
        ),
        (
            lambda a: biograd.sum(a, axis, keepdims) + biograd.mean(a, axis, keepdims),
            lambda a: a.sum(dim=dim, keepdim=keepdims) + a.mean(dim=dim, keepdim=keepdims),
        ),
    ]
    for bg_fn, th_fn in cases:
        check_against_torch(bg_fn, th_fn, [x], rng)


@needs_torch
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
def test_max_and_min_share_the_gradient_equally_between_ties(axis, rng):
    x = rng.integers(0, 3, size=(4, 5)).astype(np.float64)  # many ties
    dim = (0, 1) if axis is None else axis
    check_against_torch(lambda a: a.max(axis=axis), lambda a: a.amax(dim=dim), [x], rng)
    check_against_torch(lambda a: biograd.min(a, axis=axis), lambda a: a.amin(dim=dim), [x], rng)


@needs_torch
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_along_each_axis_matches_torch(axis, rng):
    x = values(rng, (3, 4, 2))
    check_against_torch(lambda a: a.softmax(axis), lambda a: a.softmax(axis), [x], rng)
    check_against_torch(biograd.log_softmax, lambda a: a.log_softmax(-1), [x], rng)
    check_against_torch(lambda a: biograd.log_softmax(a, axis), lambda a: a.log_softmax(axis), [x], rng)
    check_against_torch(lambda a: biograd.softmax(a, axis=axis), lambda a: a.softmax(axis), [x], rng)


SHAPE_OPS = {
    "reshape": (lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6)),
    "reshape -1": (lambda a: a.reshape((-1, 3)), lambda a: a.reshape(-1, 3)),
    "biograd.reshape": (lambda a: biograd.reshape(a, 24), lambda a: a.reshape(24)),
    "flatten": (lambda a: a.flatten(1), lambda a: a.flatten(1)),
    "squeeze/unsqueeze": (lambda a: a.unsqueeze(1).squeeze(1), lambda a: a.unsqueeze(1).squeeze(1)),
    "transpose 2 axes": (lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2)),
    "permute": (lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1)),
    "permute tuple": (lambda a: biograd.permute(a, (1, 2, 0)), lambda a: a.permute(1, 2, 0)),
    "transpose all": (lambda a: biograd.transpose(a), lambda a: a.permute(2, 1, 0)),
    "T of matrix": (lambda a: a.reshape(6, 4).T, lambda a: a.reshape(6, 4).T),
    "int": (lambda a: a[1], lambda a: a[1]),
    "negative int": (lambda a: a[-1, 2], lambda a: a[-1, 2]),
    "slices": (lambda a: a[:, 1:3, ::2], lambda a: a[:, 1:3, ::2]),
    "negative step": (lambda a: a[:, ::-1], lambda a: a.flip(1)),
    "ellipsis and None": (lambda a: a[..., None, 1], lambda a: a[..., None, 1]),
    "integer array, repeated": (lambda a: a[[0, 1, 1, 0, 1]], lambda a: a[[0, 1, 1, 0, 1]]),
    "integer array on axis 1": (
        lambda a: a[:, np.array([2, 2, 0])],
        lambda a: a[:, torch.tensor([2, 2, 0])],
    ),
    "two integer arrays": (
        lambda a: a[np.array([0, 0, 1]), np.array([1, 1, 2])],
        lambda a: a[torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2])],
    ),
    "index tensor": (
        lambda a: a[:, biograd.tensor(np.array([2, 2, 1]))],
        lambda a: a[:, torch.tensor([2, 2, 1])],
    ),
}


@needs_torch
@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_and_indexing_ops_match_torch(name, rng):
    bg_fn, th_fn = SHAPE_OPS[name]
    check_against_torch(bg_fn, th_fn, [values(rng, (2, 3, 4))], rng)


@needs_torch
def test_boolean_mask_indexing_matches_torch(rng):
    x = values(rng, (3, 4))
    mask = x > 0.2
    check_against_torch(lambda a: a[mask], lambda a: a[torch.tensor(mask)], [x], rng)
    check_against_torch(lambda a: a[biograd.tensor(mask)], lambda a: a[torch.tensor(mask)], [x], rng)
    rows = np.array([True, False, True])
    check_against_torch(lambda a: a[rows, 1:], lambda a: a[torch.tensor(rows), 1:], [x], rng)


@needs_torch
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack_match_torch(axis, rng):
    a, b, c = values(rng, (2, 3)), values(rng, (2, 3)), values(rng, (2, 3))
    check_against_torch(
        lambda x, y, z: biograd.concatenate([x, y, z], axis=axis),
        lambda x, y, z: torch.cat([x, y, z], axis),
        [a, b, c],
        rng,
    )
    check_against_torch(
        lambda x, y, z: biograd.stack([x, y, z], axis=axis),
        lambda x, y, z: torch.stack([x, y, z], axis),
        [a, b, c],
        rng,
    )
    constant = np.ones((2, 3))  # constants may be mixed in: they get no gradient
    check_against_torch(
        lambda x: biograd.cat([constant, x], axis=axis),
        lambda x: torch.cat([torch.tensor(constant), x], axis),
        [a],
        rng,
    )


@needs_torch
def test_concatenate_of_unequal_sizes_along_the_axis_matches_torch(rng):
    a, b = values(rng, (2, 3)), values(rng, (2, 5))
    check_against_torch(
        lambda x, y: biograd.concatenate([x, y], axis=1), lambda x, y: torch.cat([x, y], 1), [a, b], rng
    )


@needs_torch
def test_a_composite_network_matches_torch(rng):
    """Several ops chained: a two-layer network with a cross-entropy loss."""
    x, w1, b1, w2 = values(rng, (5, 4)), values(rng, (6, 4)), values(rng, (6,)), values(rng, (3, 6))
    labels = np.array([0, 2, 1, 1, 0])

    def bg(x, w1, b1, w2):
        h = biograd.linear(x, w1, b1).tanh()
        logp = (h @ w2.T).log_softmax(axis=1)
        return -logp[np.arange(5), labels].mean()

    def th(x, w1, b1, w2):
        h = F.linear(x, w1, b1).tanh()
        return F.cross_entropy(h @ w2.T, torch.tensor(labels))

    check_against_torch(bg, th, [x, w1, b1, w2], rng)


# --------------------------------------------------------------------------------------------------
# Bad shapes: the same kind of exception as PyTorch
# --------------------------------------------------------------------------------------------------

ones = np.ones
BAD_SHAPES = {
    "add": (lambda m, a, b: a + b, [(3,), (4,)]),
    "mul": (lambda m, a, b: a * b, [(2, 3), (3, 2)]),
    "matmul": (lambda m, a, b: a @ b, [(3, 4), (5, 6)]),
    "matmul batch": (lambda m, a, b: a @ b, [(2, 3, 4), (3, 4, 5)]),
    "matmul 0-d": (lambda m, a, b: a @ b, [(), (3,)]),
    "reshape": (lambda m, a: a.reshape(4), [(2, 3)]),
    "concatenate": (lambda m, a, b: m.cat([a, b]), [(2, 3), (2, 4)]),
    "stack": (lambda m, a, b: m.stack([a, b]), [(2,), (3,)]),
    "sum axis": (lambda m, a: a.sum(5), [(2, 3)]),
    "max axis": (lambda m, a: m.amax(a, 5) if m is torch else a.max(axis=5), [(2, 3)]),
    "softmax axis": (lambda m, a: a.softmax(3), [(2, 3)]),
    "logsumexp axis": (lambda m, a: a.logsumexp(4), [(2, 3)]),
    "index": (lambda m, a: a[5], [(3,)]),
    "permute": (lambda m, a: a.permute(0, 0), [(2, 3)]),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [(3,), (4,)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(BAD_SHAPES))
def test_bad_shapes_raise_the_same_exception_type_as_torch(name):
    fn, shapes = BAD_SHAPES[name]
    with pytest.raises(Exception) as torch_error:
        fn(torch, *[torch.ones(s, dtype=torch.float64) for s in shapes])
    with pytest.raises(torch_error.type):
        fn(biograd, *[biograd.tensor(ones(s), requires_grad=True) for s in shapes])


@needs_torch
def test_linear_with_wrong_feature_count_raises_like_torch():
    with pytest.raises(RuntimeError):
        F.linear(torch.ones(2, 3), torch.ones(4, 5))
    with pytest.raises(RuntimeError, match="3 features"):
        biograd.linear(biograd.tensor(ones((2, 3))), biograd.tensor(ones((4, 5)), requires_grad=True))
    with pytest.raises(ShapeError, match="bias"):
        biograd.linear(biograd.tensor(ones((2, 3))), biograd.tensor(ones((4, 3))), biograd.tensor(ones(5)))


def test_shape_error_is_both_a_value_error_and_a_runtime_error():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)


# --------------------------------------------------------------------------------------------------
# Numerical stability at +-1000
# --------------------------------------------------------------------------------------------------

EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, -1000.0], [1000.0, 1000.0, 999.0]])
STABLE = {
    "log_softmax": (lambda a: a.log_softmax(axis=1), lambda a: a.log_softmax(1)),
    "softmax": (lambda a: a.softmax(axis=1), lambda a: a.softmax(1)),
    "logsumexp": (lambda a: a.logsumexp(axis=1), lambda a: a.logsumexp(1)),
    "logsumexp all": (lambda a: a.logsumexp(), lambda a: a.logsumexp((0, 1))),
    "sigmoid": (biograd.sigmoid, lambda x: torch.sigmoid(x)),
    "softplus": (biograd.softplus, lambda x: F.softplus(x)),
}


@needs_torch
@pytest.mark.parametrize("name", list(STABLE))
def test_stable_ops_are_finite_and_exact_at_plus_minus_1000(name, rng):
    bg_fn, th_fn = STABLE[name]
    x = biograd.tensor(EXTREME, requires_grad=True)
    assert np.isfinite(bg_fn(x).data).all()
    check_against_torch(bg_fn, th_fn, [EXTREME], rng)


@pytest.mark.parametrize("name", ["log_softmax", "logsumexp", "sigmoid", "softplus"])
def test_stable_ops_stay_finite_in_float32(name):
    bg_fn, _ = STABLE[name]
    x = biograd.tensor(EXTREME.astype(np.float32), requires_grad=True)
    y = bg_fn(x)
    y.sum().backward()
    assert y.dtype == np.float32
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()


# --------------------------------------------------------------------------------------------------
# Central differences on generated shapes
# --------------------------------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)

GRADCHECK_BINARY = {
    "add": (lambda a, b: a + b, "real", "real"),
    "sub": (lambda a, b: a - b, "real", "real"),
    "mul": (lambda a, b: a * b, "real", "real"),
    "div": (lambda a, b: a / b, "real", "positive"),
    "pow": (lambda a, b: a**b, "positive", "real"),
    "where": (lambda a, b: biograd.where(a.data > 0, a, b), "nonzero", "real"),
}


@pytest.mark.parametrize("name", list(GRADCHECK_BINARY))
@given(pair=pairs, seed=seeds)
def test_binary_ops_pass_gradcheck_on_broadcast_shapes(name, pair, seed):
    fn, dom_a, dom_b = GRADCHECK_BINARY[name]
    rng = np.random.default_rng(seed)
    shape_a, shape_b = pair.input_shapes
    biograd.gradcheck(fn, values(rng, shape_a, dom_a), values(rng, shape_b, dom_b))


@given(pair=pairs, seed=seeds)
def test_maximum_and_minimum_pass_gradcheck_away_from_ties(pair, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = pair.input_shapes
    a = rng.integers(-3, 3, size=shape_a) + 0.25 + rng.uniform(0, 0.1, size=shape_a)  # |a - b| >= 0.4
    b = rng.integers(-3, 3, size=shape_b) + 0.75 + rng.uniform(0, 0.1, size=shape_b)
    biograd.gradcheck(biograd.maximum, a, b)
    biograd.gradcheck(biograd.minimum, a, b)


GRADCHECK_UNARY = {name: (fn, domain) for name, (fn, _, domain) in UNARY.items()}
GRADCHECK_UNARY.update(
    {
        "pow const": (lambda x: x**3, "real"),
        "pow real const": (lambda x: x**-1.5, "positive"),
        "const pow": (lambda x: 1.7**x, "real"),
        "sum": (lambda x: x.sum(), "real"),
        "mean": (lambda x: x.mean(axis=0, keepdims=True) if x.ndim else x.mean(), "real"),
        "var": (lambda x: x.var(axis=-1) if x.ndim else x.var(), "real"),
        "max": (lambda x: x.max(axis=-1) if x.ndim else x.max(), "distinct"),
        "min": (lambda x: x.min(), "distinct"),
        "logsumexp last": (
            lambda x: x.logsumexp(axis=-1, keepdims=True) if x.ndim else x.logsumexp(),
            "real",
        ),
        "reshape": (lambda x: x.reshape(-1), "real"),
        "T": (lambda x: x.T, "real"),
        "getitem repeated": (lambda x: x.reshape(-1)[np.array([0, 0, -1, 0])], "real"),
        "getitem mask": (lambda x: x[x.data > 0], "real"),
        "stack": (lambda x: biograd.stack([x, x * 2, x.sin()]), "real"),
        "concatenate": (lambda x: biograd.concatenate([x.reshape(-1), x.reshape(-1) ** 2]), "real"),
    }
)
GRADCHECK_UNARY["clip"] = (lambda x: x.clip(-0.5, 0.7), "clip")
for _name in ("softmax", "log_softmax"):
    _fn = GRADCHECK_UNARY[_name][0]
    GRADCHECK_UNARY[_name] = ((lambda f: lambda x: f(x.reshape(1, -1)))(_fn), "real")


@pytest.mark.parametrize("name", list(GRADCHECK_UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_ops_pass_gradcheck_on_generated_shapes(name, shape, seed):
    fn, domain = GRADCHECK_UNARY[name]
    rng = np.random.default_rng(seed)
    if domain == "clip":  # keep values away from the clip bounds -0.5 and 0.7
        x = rng.choice([-0.9, -0.1, 0.3, 1.1], size=shape) + rng.uniform(-0.15, 0.15, size=shape)
    else:
        x = values(rng, shape, domain)
    biograd.gradcheck(fn, x)


@given(
    shapes=st.sampled_from(MATMUL_SHAPES),
    linear_shape=st.sampled_from([(1, 2), (4, 3), (2, 3, 2)]),
    seed=seeds,
)
def test_matmul_and_linear_pass_gradcheck(shapes, linear_shape, seed):
    rng = np.random.default_rng(seed)
    biograd.gradcheck(biograd.matmul, rng.normal(size=shapes[0]), rng.normal(size=shapes[1]))
    n_in = linear_shape[-1]
    x, w, b = rng.normal(size=linear_shape), rng.normal(size=(3, n_in)), rng.normal(size=3)
    biograd.gradcheck(biograd.linear, x, w, b)
    biograd.gradcheck(biograd.linear, x, w)


@needs_torch
def test_maximum_and_minimum_split_the_gradient_on_ties_like_torch(rng):
    a = rng.integers(0, 3, size=(4, 5)).astype(np.float64)  # many ties between a and b
    b = rng.integers(0, 3, size=(5,)).astype(np.float64)
    check_against_torch(biograd.maximum, torch.maximum, [a, b], rng)
    check_against_torch(biograd.minimum, torch.minimum, [a, b], rng)


@needs_torch
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
def test_reducing_a_0d_tensor_over_axis_0_matches_torch(name):
    x = biograd.tensor(2.0, requires_grad=True, dtype=np.float64)
    getattr(x, name)(axis=0).backward()
    t = torch.tensor(2.0, requires_grad=True, dtype=torch.float64)
    reduce = {"logsumexp": torch.logsumexp, "max": torch.amax, "min": torch.amin}.get(name)
    (reduce(t, dim=0) if reduce else getattr(t, name)(dim=0)).backward()
    assert np.shape(x.grad) == () and float(x.grad) == pytest.approx(float(t.grad))


# --------------------------------------------------------------------------------------------------
# The stable numpy helpers every layer uses for probabilities outside the graph
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1.0, 1000.0])
@pytest.mark.parametrize("axis", [-1, 0])
def test_stable_softmax_and_log_softmax_equal_torch_even_for_huge_logits(rng, scale, axis):
    from biograd import ops

    z = rng.normal(size=(5, 4)) * scale
    with np.errstate(over="raise", invalid="raise"):  # no overflow on the way
        p, log_p = ops.stable_softmax(z, axis=axis), ops.stable_log_softmax(z, axis=axis)
    zt = torch.tensor(z)
    np.testing.assert_allclose(p, torch.softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(log_p, torch.log_softmax(zt, dim=axis).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ops.stable_logsumexp(z, axis=axis), torch.logsumexp(zt, dim=axis, keepdim=True).numpy(), rtol=1e-12
    )


def test_stable_sigmoid_equals_torch_at_plus_minus_1000():
    from biograd import ops

    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(over="raise"):
        np.testing.assert_allclose(ops.stable_sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-15)
