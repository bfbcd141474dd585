"""Conv1d, MaxPool1d, GlobalMaxPool1d: values and gradients vs PyTorch (float64) and finite differences."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import biograd
from biograd.errors import ShapeError
from biograd.nn.conv import Conv1d, GlobalMaxPool1d, MaxPool1d, conv1d, max_pool1d
from torch_oracle import needs_torch, torch

F = None if torch is None else torch.nn.functional

CONV_CASES = [
    # (N, C_in, L, C_out, K, stride, padding, bias)
    (2, 4, 20, 3, 5, 1, 0, True),
    (3, 4, 17, 2, 4, 2, 1, True),
    (1, 20, 9, 5, 3, 1, "same", True),
    (2, 3, 10, 4, 4, 1, "same", False),
    (2, 2, 12, 3, 3, 3, 2, True),
    (1, 1, 5, 1, 5, 1, 0, True),
    (2, 4, 11, 2, 1, 4, 0, False),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv1d_matches_torch_values_and_gradients(case):
    n, c, length, o, k, stride, padding, bias = case
    rng = np.random.default_rng(zlib.crc32(str(case).encode()))  # the same inputs in every run
    x = rng.normal(size=(n, c, length))
    w = rng.normal(size=(o, c, k))
    b = rng.normal(size=o) if bias else None
    xb = biograd.tensor(x, requires_grad=True, dtype=np.float64)
    wb = biograd.tensor(w, requires_grad=True, dtype=np.float64)
    bb = biograd.tensor(b, requires_grad=True, dtype=np.float64) if bias else None
    y = conv1d(xb, wb, bb, stride=stride, padding=padding)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    yt = F.conv1d(xt, wt, bt, stride=stride, padding=padding)
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)

    upstream = rng.normal(size=y.shape)  # non-uniform upstream gradient
    y.backward(upstream)
    yt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(wb.grad, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    if bias:
        np.testing.assert_allclose(bb.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, "same")])
def test_conv1d_gradcheck(stride, padding):
    rng = np.random.default_rng(1)
    x = biograd.tensor(rng.normal(size=(2, 3, 8)), requires_grad=True, dtype=np.float64)
    w = biograd.tensor(rng.normal(size=(2, 3, 3)), requires_grad=True, dtype=np.float64)
    b = biograd.tensor(rng.normal(size=2), requires_grad=True, dtype=np.float64)
    report = biograd.gradcheck(lambda x, w, b: conv1d(x, w, b, stride, padding).tanh(), x, w, b)
    assert report.ok


@needs_torch
@pytest.mark.parametrize("k,stride", [(2, None), (3, 1), (3, 2), (4, 3), (5, 5)])
def test_maxpool1d_matches_torch(k, stride):
    rng = np.random.default_rng(k * 10 + (stride or 0))
    x = rng.normal(size=(2, 3, 13))
    xb = biograd.tensor(x, requires_grad=True, dtype=np.float64)
    y = max_pool1d(xb, k, stride)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.max_pool1d(xt, k, stride)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=0, atol=0)
    upstream = rng.normal(size=y.shape)
    y.backward(upstream)
    yt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_maxpool1d_gradcheck_overlapping_windows():
    rng = np.random.default_rng(3)
    x = biograd.tensor(rng.normal(size=(2, 2, 11)), requires_grad=True, dtype=np.float64)
    assert biograd.gradcheck(lambda x: max_pool1d(x, 3, 2) * 1.5, x).ok


@needs_torch
def test_global_max_pool_matches_torch_amax():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 9))
    xb = biograd.tensor(x, requires_grad=True, dtype=np.float64)
    y = GlobalMaxPool1d()(xb)
    xt = torch.tensor(x, requires_grad=True)
    yt = xt.amax(dim=2)
    np.testing.assert_allclose(y.data, yt.detach().numpy())
    upstream = rng.normal(size=y.shape)
    y.backward(upstream)
    yt.backward(torch.tensor(upstream))
    np.testing.assert_allclose(xb.grad, xt.grad.numpy())


@needs_torch
def test_conv1d_layer_state_dict_loads_into_torch_and_agrees():
    biograd.manual_seed(0)
    layer = Conv1d(4, 6, kernel_size=5, padding="same")
    assert layer.weight.shape == (6, 4, 5) and layer.bias.shape == (6,)
    bound = 1 / np.sqrt(4 * 5)
    assert np.abs(layer.weight.data).max() <= bound
    tl = torch.nn.Conv1d(4, 6, 5, padding="same").double()
    tl.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in layer.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(2, 4, 15)).astype(np.float32)
    np.testing.assert_allclose(
        layer(x).data, tl(torch.tensor(x, dtype=torch.float64)).detach().numpy(), rtol=1e-5, atol=1e-5
    )
    assert layer.get_config() == {
        "in_channels": 4,
        "out_channels": 6,
        "kernel_size": 5,
        "stride": 1,
        "padding": "same",
        "bias": True,
    }
    assert "kernel_size=5" in repr(layer)
    assert MaxPool1d(3).get_config() == {"kernel_size": 3, "stride": 3}


@needs_torch
def test_small_cnn_trains_end_to_end_against_torch_gradients():
    """Conv1d -> ReLU -> GlobalMaxPool1d -> Linear: parameter gradients equal PyTorch's."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 4, 16))
    w, b = rng.normal(size=(3, 4, 5)), rng.normal(size=3)
    lw, lb = rng.normal(size=(1, 3)), rng.normal(size=1)
    params = [biograd.tensor(a, requires_grad=True, dtype=np.float64) for a in (w, b, lw, lb)]
    h = GlobalMaxPool1d()(conv1d(x, params[0], params[1]).relu())
    loss = biograd.linear(h, params[2], params[3]).sigmoid().sum()
    loss.backward()
    tp = [torch.tensor(a, requires_grad=True) for a in (w, b, lw, lb)]
    ht = F.relu(F.conv1d(torch.tensor(x), tp[0], tp[1])).amax(dim=2)
    torch.sigmoid(F.linear(ht, tp[2], tp[3])).sum().backward()
    for ours, theirs in zip(params, tp, strict=True):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_clear_errors():
    layer = Conv1d(4, 2, kernel_size=3)
    with pytest.raises(ShapeError, match="4 for DNA"):
        layer(np.zeros((2, 20, 10), dtype=np.float32))
    with pytest.raises(ShapeError, match="samples, channels, length"):
        layer(np.zeros((2, 10), dtype=np.float32))
    with pytest.raises(ShapeError, match="kernel is 3 wide"):
        layer(np.zeros((1, 4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="'kernel_size' parameter of Conv1d"):
        Conv1d(4, 2, kernel_size=0)
    with pytest.raises(ValueError, match="stride=1"):
        Conv1d(4, 2, kernel_size=3, stride=2, padding="same")
    with pytest.raises(ValueError, match="'padding'"):
        Conv1d(4, 2, kernel_size=3, padding=-1)
    with pytest.raises(ShapeError, match="MaxPool1d"):
        MaxPool1d(5)(np.zeros((1, 2, 3), dtype=np.float32))


def _motif_cnn_grads(x, w, b, lw, lb, lib):
    """Conv1d -> ReLU -> GlobalMaxPool1d -> Linear -> sigmoid -> sum, in biograd or torch (float64)."""
    if lib == "biograd":
        ps = [biograd.tensor(a, requires_grad=True, dtype=np.float64) for a in (x, w, b, lw, lb)]
        h = GlobalMaxPool1d()(conv1d(ps[0], ps[1], ps[2]).relu())
        biograd.linear(h, ps[3], ps[4]).sigmoid().sum().backward()
        return [p.grad for p in ps]
    ps = [torch.tensor(a, requires_grad=True) for a in (x, w, b, lw, lb)]
    h = F.relu(F.conv1d(ps[0], ps[1], ps[2])).amax(dim=2)
    torch.sigmoid(F.linear(h, ps[3], ps[4])).sum().backward()
    return [p.grad.numpy() for p in ps]


@needs_torch
def test_motif_cnn_large_enough_for_the_sparse_gradient_paths_matches_torch():
    """Big enough (N*O*T >= 4096, one position in ~90 wins) that ReLU and Conv1d take their sparse
    backward paths. One-hot input makes exact ties (a repeated k-mer scores the same twice), and a filter
    with a large negative bias is dead for every sample (its max is 0, reached everywhere)."""
    rng = np.random.default_rng(6)
    x = np.zeros((8, 4, 100))
    np.put_along_axis(x, rng.integers(0, 4, size=(8, 1, 100)), 1.0, axis=1)
    x[:, :, 30:42] = x[:, :, 5:17]  # the same 12-mer twice in every sequence: tied maxima
    w, b = rng.normal(size=(32, 4, 12)), rng.normal(size=32)
    b[3] = -100.0  # a dead filter: ReLU output 0 everywhere, so its gradient must vanish
    lw, lb = rng.normal(size=(1, 32)), rng.normal(size=1)
    ours = _motif_cnn_grads(x, w, b, lw, lb, "biograd")
    theirs = _motif_cnn_grads(x, w, b, lw, lb, "torch")
    for name, a, t in zip(["x", "W", "b", "linear W", "linear b"], ours, theirs, strict=True):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-12, err_msg=name)
    assert ours[2][3] == 0 and not ours[1][3].any()


@needs_torch
@pytest.mark.parametrize("dead_share", [0.0, 0.5])
def test_relu_backward_on_a_sparse_upstream_matches_torch(dead_share):
    """A large, mostly-zero upstream gradient (what global max pooling passes down): entries where
    x <= 0 must be zeroed, and the caller's upstream array must not change."""
    rng = np.random.default_rng(7)
    x = np.abs(rng.normal(size=(4, 8, 300))) + 0.1
    upstream = np.zeros_like(x)
    rows = rng.integers(0, 300, size=(4, 8, 1))
    np.put_along_axis(upstream, rows, rng.normal(size=(4, 8, 1)), axis=2)
    flip = rng.random(size=(4, 8, 1)) < dead_share
    np.put_along_axis(x, rows, np.where(flip, -1.0, np.take_along_axis(x, rows, 2)), axis=2)
    kept = upstream.copy()
    xb = biograd.tensor(x, requires_grad=True, dtype=np.float64)
    xb.relu().backward(upstream)
    xt = torch.tensor(x, requires_grad=True)
    F.relu(xt).backward(torch.tensor(upstream))
    np.testing.assert_array_equal(xb.grad, xt.grad.numpy())
    np.testing.assert_array_equal(upstream, kept)
    assert xb.grad is not upstream


@needs_torch
@pytest.mark.parametrize("axis", [2, -1, None, 1])
def test_max_backward_with_ties_float32_matches_torch_amax(axis):
    """Max over the last axis (or everything) writes dL/dy / k to the k tied winners only (other axes:
    the dense formula); float32 in,
    float32 gradient out."""
    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, size=(5, 6, 70)).astype(np.float32)  # many ties
    xb = biograd.tensor(x, requires_grad=True)
    y = biograd.max(xb, axis=axis)
    upstream = rng.normal(size=y.shape).astype(np.float32)
    y.backward(upstream)
    xt = torch.tensor(x, requires_grad=True)
    yt = xt.amax(dim=axis if axis is not None else (0, 1, 2))
    yt.backward(torch.tensor(upstream))
    assert xb.grad.dtype == np.float32
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-7)
