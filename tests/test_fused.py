"""Fused fast paths agree with the plain composites they replace, and both with PyTorch.

- ``kernels.CrossEntropy`` (one node) vs ``nll_loss(log_softmax(z))`` (five nodes) vs PyTorch's cross_entropy;
- ``kernels.Linear`` (one node) vs ``x @ W.T + b`` (three nodes) vs ``torch.nn.functional.linear``;
- the backward pass keeps fresh gradient arrays instead of copying them and adds a second gradient in
  place: these tests check that no two tensors ever end up sharing one gradient array, and that arrays the
  caller owns are never written to.
"""

from __future__ import annotations

import numpy as np
import pytest

import biograd
import biograd.functional as F
from biograd import kernels
from torch_oracle import needs_torch, torch


def _torch(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(a, requires_grad=grad)


# --------------------------------------------------------------------------------------------------
# Cross-entropy
# --------------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1000.0])  # 1000: logits that overflow a naive softmax
def test_fused_cross_entropy_matches_the_composite_and_torch(rng, reduction, weighted, dtype, scale):
    n, c = 13, 4
    z = (rng.normal(size=(n, c)) * scale).astype(dtype)
    labels = rng.integers(0, c, size=n)
    weight = rng.uniform(0.5, 2.0, size=c).astype(dtype) if weighted else None
    upstream = rng.normal(size=n).astype(dtype) if reduction == "none" else None

    fused_z = biograd.tensor(z, requires_grad=True, dtype=dtype)
    fused = F.cross_entropy(fused_z, labels, weight=weight, reduction=reduction)
    assert fused.grad_fn == "CrossEntropy"  # one node
    fused.backward(upstream)

    plain_z = biograd.tensor(z, requires_grad=True, dtype=dtype)
    plain = F.nll_loss(F.log_softmax(plain_z, axis=1), labels, weight=weight, reduction=reduction)
    assert plain.grad_fn != "CrossEntropy"
    plain.backward(upstream)

    tz = _torch(z)
    tw = None if weight is None else torch.tensor(weight)
    expected = torch.nn.functional.cross_entropy(tz, torch.tensor(labels), weight=tw, reduction=reduction)
    expected.backward(None if upstream is None else torch.tensor(upstream))

    tol = dict(rtol=1e-5, atol=1e-5 * scale) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(fused.data, plain.data, **tol)
    np.testing.assert_allclose(fused.data, expected.detach().numpy(), **tol)
    np.testing.assert_allclose(fused_z.grad, plain_z.grad, **tol)
    np.testing.assert_allclose(fused_z.grad, tz.grad.numpy(), **tol)
    assert np.asarray(fused.data).dtype == dtype and fused_z.grad.dtype == dtype


@needs_torch
def test_fused_cross_entropy_handles_infinite_logits_like_the_composite():
    z = np.array([[1.0, 2.0, 0.5], [-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 3.0]], dtype=np.float32)
    labels = [1, 0, 2]
    with np.errstate(invalid="ignore"):
        fused = F.cross_entropy(z, labels, reduction="none").data
        plain = F.nll_loss(F.log_softmax(biograd.tensor(z), axis=1), labels, reduction="none").data
    np.testing.assert_allclose(fused, plain, rtol=1e-6)  # nan for the all -inf row in both
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(z[[0, 2]]), torch.tensor([1, 2]), reduction="none"
    )
    np.testing.assert_allclose(fused[[0, 2]], expected.numpy(), rtol=1e-6)


def test_label_smoothing_and_sequence_logits_still_take_the_composite_path(rng):
    z = biograd.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    assert F.cross_entropy(z, [0, 1, 2, 0, 1], label_smoothing=0.1).grad_fn != "CrossEntropy"
    z3 = biograd.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    assert F.cross_entropy(z3, np.zeros((2, 4), dtype=int)).grad_fn != "CrossEntropy"


def test_fused_cross_entropy_keeps_the_label_checks():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\); got 3 at position 1"):
        F.cross_entropy(np.zeros((2, 3), dtype=np.float32), [0, 3])
    with pytest.raises(ValueError, match=r"got -1 at position 0"):
        F.cross_entropy(np.zeros((2, 3), dtype=np.float32), np.array([-1, 0]))


def test_the_cross_entropy_op_documents_its_math():
    assert "dL/dz_i = (softmax(z_i) - onehot(y_i))" in kernels.CrossEntropy.__doc__


# --------------------------------------------------------------------------------------------------
# Linear
# --------------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("shape", [(7, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_grad", [True, False])
def test_fused_linear_matches_the_composite_and_torch(rng, shape, bias, x_grad):
    x = rng.normal(size=shape)
    w = rng.normal(size=(4, shape[-1]))
    b = rng.normal(size=4)
    upstream = rng.normal(size=(*shape[:-1], 4))

    def make():
        return (
            biograd.tensor(x, requires_grad=x_grad, dtype=np.float64),
            biograd.tensor(w, requires_grad=True, dtype=np.float64),
            biograd.tensor(b, requires_grad=True, dtype=np.float64) if bias else None,
        )

    fx, fw, fb = make()
    fused = biograd.linear(fx, fw, fb)
    assert fused.grad_fn == "Linear"
    fused.backward(upstream)

    px, pw, pb = make()
    plain = px @ pw.T + pb if bias else px @ pw.T
    plain.backward(upstream)

    tx, tw = _torch(x, x_grad), _torch(w)
    tb = _torch(b) if bias else None
    expected = torch.nn.functional.linear(tx, tw, tb)
    expected.backward(torch.tensor(upstream))

    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12)
    np.testing.assert_allclose(fused.data, expected.detach().numpy(), rtol=1e-12)
    for f, p, t in [(fx, px, tx), (fw, pw, tw), (fb, pb, tb)]:
        if f is None or not f.requires_grad:
            continue
        np.testing.assert_allclose(f.grad, p.grad, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(f.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    if not x_grad:
        assert fx.grad is None  # data never gets a gradient


# --------------------------------------------------------------------------------------------------
# Gradients kept without copying, added in place
# --------------------------------------------------------------------------------------------------


def test_two_leaves_fed_by_one_add_get_separate_gradient_arrays(rng):
    a = biograd.tensor(rng.normal(size=3), requires_grad=True)
    b = biograd.tensor(rng.normal(size=3), requires_grad=True)
    (a + b).backward(np.ones(3, dtype=np.float32))
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad += 10  # must not leak into b
    np.testing.assert_allclose(b.grad, np.ones(3))


def test_the_callers_gradient_array_is_never_written(rng):
    x = biograd.tensor(rng.normal(size=4), requires_grad=True)
    upstream = np.ones(4, dtype=np.float32)
    y = x + 1.0  # passes the caller's array straight through to x
    y.backward(upstream)
    x.grad += 5
    np.testing.assert_array_equal(upstream, np.ones(4))


@needs_torch
def test_gradients_of_a_reused_tensor_add_up_like_torch(rng):
    w = rng.normal(size=(3, 3)).astype(np.float32)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    bw = biograd.tensor(w, requires_grad=True)
    h = biograd.linear(biograd.tensor(x), bw)  # w used three times: two Linears and a product
    loss = (biograd.linear(h.relu(), bw) * h).sum() + (bw * bw).sum()
    loss.backward()
    tw = _torch(w)
    th = torch.nn.functional.linear(torch.tensor(x), tw)
    ((torch.nn.functional.linear(th.relu(), tw) * th).sum() + (tw * tw).sum()).backward()
    np.testing.assert_allclose(bw.grad, tw.grad.numpy(), rtol=1e-5, atol=1e-5)


@needs_torch
def test_gradients_accumulate_across_backward_calls_and_steps(rng):
    w = rng.normal(size=(2, 3)).astype(np.float32)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    bw = biograd.tensor(w, requires_grad=True)
    tw = _torch(w)
    for _ in range(3):  # no zero_grad: the gradients of three passes add up, as in PyTorch
        F.cross_entropy(biograd.linear(x, bw), [0, 1, 1, 0, 1]).backward()
        torch.nn.functional.cross_entropy(torch.tensor(x) @ tw.T, torch.tensor([0, 1, 1, 0, 1])).backward()
    np.testing.assert_allclose(bw.grad, tw.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_traced_backward_keeps_its_recorded_gradients_unchanged(rng):
    w = biograd.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    x = biograd.tensor(rng.normal(size=(4, 3)))
    with biograd.trace() as t:
        F.cross_entropy(biograd.linear(x, w), [0, 1, 1, 0]).backward()
    recorded = [[None if p is None else np.array(p, copy=True) for p in s.passed] for s in t.steps]
    w.grad += 100  # must not reach into the trace
    for step, before in zip(t.steps, recorded, strict=True):
        for passed, kept in zip(step.passed, before, strict=True):
            if kept is not None:
                np.testing.assert_array_equal(passed, kept)
