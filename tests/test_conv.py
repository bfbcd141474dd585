"""Conv1d, MaxPool1d, GlobalMaxPool1d: values and gradients vs PyTorch (float64) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import biograd
from biograd.errors import ShapeError
from biograd.nn.conv import Conv1d, GlobalMaxPool1d, MaxPool1d, conv1d, max_pool1d

torch = pytest.importorskip("torch")
F = torch.nn.functional

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


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv1d_matches_torch_values_and_gradients(case):
    n, c, length, o, k, stride, padding, bias = case
    rng = np.random.default_rng(hash(case) % 2**32)
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
