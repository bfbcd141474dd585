"""Losses against PyTorch in float64: values AND gradients, every reduction, extreme logits, weights."""

from __future__ import annotations

import numpy as np
import pytest

import biograd
import biograd.functional as F
from biograd import nn
from biograd.errors import ShapeError
from torch_oracle import needs_torch, torch

RTOL = 1e-10
REDUCTIONS = ["mean", "sum", "none"]


def close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def run_both(ours, theirs, pred, target, upstream_seed=0, target_grad=False):
    """Run our loss and torch's on the same float64 data; compare value and dL/dprediction.

    With reduction="none" a non-uniform upstream gradient is used (a plain sum would hide mistakes).
    """
    p = biograd.tensor(pred, requires_grad=True, dtype=np.float64)
    tp = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    out, tout = ours(p, target), theirs(tp)
    close(out.data, tout.detach().numpy())
    upstream = np.random.default_rng(upstream_seed).normal(size=tout.shape) if tout.ndim else np.array(1.0)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    close(p.grad, tp.grad.numpy())


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1_match_torch(rng, reduction):
    pred, target = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    tt = torch.tensor(target)
    run_both(
        nn.MSELoss(reduction=reduction),
        lambda tp: torch.nn.functional.mse_loss(tp, tt, reduction=reduction),
        pred,
        target,
    )
    run_both(
        nn.L1Loss(reduction=reduction),
        lambda tp: torch.nn.functional.l1_loss(tp, tt, reduction=reduction),
        pred,
        target,
    )


def test_mse_has_no_half_factor():
    # closed form: mean((p - t)^2) for p = [1, 3], t = [0, 0] is (1 + 9) / 2 = 5
    assert nn.MSELoss()(biograd.tensor([1.0, 3.0]), [0.0, 0.0]).item() == pytest.approx(5.0)


def test_mse_shape_mismatch_is_an_error_with_advice():
    with pytest.raises(ShapeError, match=r"\(10, 1\).*\(10,\).*reshape"):
        nn.MSELoss()(biograd.tensor(np.zeros((10, 1))), np.zeros(10))
    with pytest.raises(ShapeError, match="must be the same"):
        F.l1_loss(biograd.tensor(np.zeros((4, 2))), np.zeros((4, 3)))


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_bce_with_logits_matches_torch_including_extreme_logits(rng, reduction, use_pos_weight):
    logits = rng.normal(scale=3, size=(8, 2))
    logits[0] = [1000.0, -1000.0]
    logits[1] = [-1000.0, 1000.0]
    target = rng.integers(0, 2, size=(8, 2)).astype(float)
    target[0], target[1] = [0.0, 1.0], [1.0, 0.0]  # confidently wrong: loss 1000
    pos_weight = np.array([2.5, 0.5]) if use_pos_weight else None
    tt = torch.tensor(target)
    tpw = None if pos_weight is None else torch.tensor(pos_weight)
    run_both(
        nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction=reduction),
        lambda tp: torch.nn.functional.binary_cross_entropy_with_logits(
            tp, tt, pos_weight=tpw, reduction=reduction
        ),
        logits,
        target,
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities_matches_torch(rng, reduction):
    probs = rng.uniform(0.01, 0.99, size=(9,))
    target = rng.integers(0, 2, size=9).astype(float)
    weight = rng.uniform(0.5, 2, size=9)
    tt, tw = torch.tensor(target), torch.tensor(weight)
    run_both(
        nn.BCELoss(weight=weight, reduction=reduction),
        lambda tp: torch.nn.functional.binary_cross_entropy(tp, tt, weight=tw, reduction=reduction),
        probs,
        target,
    )


@needs_torch
def test_bce_clamps_log_at_minus_100_like_torch():
    probs, target = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    ours = F.binary_cross_entropy(biograd.tensor(probs, dtype=np.float64), target, reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(
        torch.tensor(probs), torch.tensor(target), reduction="none"
    )
    close(ours.data, theirs.numpy())
    assert ours.data[0] == pytest.approx(100.0)


def test_bce_rejects_values_outside_0_1_and_suggests_logits():
    with pytest.raises(ValueError, match=r"\[0, 1\].*-0\.3.*1\.7.*BCEWithLogitsLoss"):
        nn.BCELoss()(biograd.tensor([-0.3, 0.5, 1.7]), [0.0, 1.0, 1.0])


def ce_case(rng, shape, extreme=True):
    logits = rng.normal(scale=2, size=shape)
    if extreme:
        logits[0, 0] = 1000.0
        logits[1, -1] = -1000.0
        logits[2] = 1000.0  # a row of ties at 1000
    n_classes = shape[1]
    labels = rng.integers(0, n_classes, size=(shape[0], *shape[2:]))
    labels.flat[0] = n_classes - 1  # wrong class under a +1000 logit: loss ~1000
    return logits, labels


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 4)])
def test_cross_entropy_matches_torch(rng, reduction, use_weight, smoothing, shape):
    logits, labels = ce_case(rng, shape)
    weight = rng.uniform(0.2, 3.0, size=shape[1]) if use_weight else None
    tl = torch.tensor(labels)
    tw = None if weight is None else torch.tensor(weight)
    run_both(
        nn.CrossEntropyLoss(weight=weight, label_smoothing=smoothing, reduction=reduction),
        lambda tp: torch.nn.functional.cross_entropy(
            tp, tl, weight=tw, label_smoothing=smoothing, reduction=reduction
        ),
        logits,
        labels,
    )


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_nll_matches_torch_and_composes_to_cross_entropy(rng, reduction, use_weight):
    logits, labels = ce_case(rng, (7, 5))
    log_probs = torch.log_softmax(torch.tensor(logits), 1).numpy()
    weight = rng.uniform(0.2, 3.0, size=5) if use_weight else None
    tl = torch.tensor(labels)
    tw = None if weight is None else torch.tensor(weight)
    run_both(
        nn.NLLLoss(weight=weight, reduction=reduction),
        lambda tp: torch.nn.functional.nll_loss(tp, tl, weight=tw, reduction=reduction),
        log_probs,
        labels,
    )
    x = biograd.tensor(logits, dtype=np.float64)
    close(
        F.nll_loss(nn.LogSoftmax(axis=1)(x), labels, weight, reduction).data,
        F.cross_entropy(x, labels, weight, reduction=reduction).data,
    )


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    # closed form for mean reduction: (softmax(z) - onehot(y)) / N
    z = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    logits = biograd.tensor(z, requires_grad=True, dtype=np.float64)
    F.cross_entropy(logits, y).backward()
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    close(logits.grad, (p - np.eye(3)[y]) / 2)


@needs_torch
@pytest.mark.parametrize(
    "labels", [[0, 2, 1], np.array([0, 2, 1]), biograd.tensor([0, 2, 1]), np.array([0.0, 2.0, 1.0])]
)
def test_cross_entropy_accepts_lists_arrays_and_tensors(labels):
    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [0.0, 1.0, 0.0]])
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor([0, 2, 1])).item()
    assert F.cross_entropy(biograd.tensor(logits, dtype=np.float64), labels).item() == pytest.approx(
        expected, rel=1e-12
    )


def test_cross_entropy_label_errors():
    logits = biograd.tensor(np.zeros((20, 3)))
    labels = np.zeros(20, dtype=int)
    labels[17] = 3
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\); got 3 at position 17"):
        nn.CrossEntropyLoss()(logits, labels)
    with pytest.raises(ValueError, match=r"got -1 at position 0"):
        nn.CrossEntropyLoss()(logits, np.full(20, -1))
    logits10 = biograd.tensor(np.zeros((10, 3)))
    with pytest.raises(
        ShapeError, match=r"got labels of shape \(10, 1\) for 10 samples: pass a 1-D array of class indices"
    ):
        nn.CrossEntropyLoss()(logits10, np.zeros((10, 1), dtype=int))
    with pytest.raises(ShapeError, match=r"one-hot.*argmax"):
        nn.CrossEntropyLoss()(logits10, np.eye(3)[np.zeros(10, dtype=int)])
    with pytest.raises(TypeError, match=r"integer class labels.*0\.5 at position 1"):
        nn.CrossEntropyLoss()(biograd.tensor(np.zeros((2, 3))), [1.0, 0.5])
    with pytest.raises(TypeError, match="integer class labels"):
        nn.CrossEntropyLoss()(biograd.tensor(np.zeros((2, 3))), ["a", "b"])
    with pytest.raises(ShapeError, match=r"one weight per class, shape \(3,\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])(logits10, np.zeros(10, dtype=int))


def test_reduction_and_smoothing_are_validated_sklearn_style():
    with pytest.raises(ValueError, match=r"The 'reduction' parameter of MSELoss must be .*Got 'avg' instead"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"'label_smoothing' parameter of CrossEntropyLoss"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_get_loss_factory():
    assert isinstance(nn.get_loss("mse"), nn.MSELoss)
    assert isinstance(nn.get_loss("cross_entropy", label_smoothing=0.1), nn.CrossEntropyLoss)
    assert isinstance(nn.get_loss("bce_with_logits"), nn.BCEWithLogitsLoss)
    for name in ("l1", "bce", "nll"):
        assert isinstance(nn.get_loss(name), nn.Module)
    with pytest.raises(
        ValueError, match=r"Unknown loss 'hinge'.*mse, l1, bce, bce_with_logits, cross_entropy, nll"
    ):
        nn.get_loss("hinge")


def test_losses_are_serializable():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5], label_smoothing=0.1, reduction="sum")
    rebuilt = nn.from_config(nn.to_config(loss))
    assert rebuilt.get_config() == loss.get_config()
    assert isinstance(rebuilt, nn.CrossEntropyLoss)


@needs_torch
def test_bce_on_saturated_probabilities_has_pytorchs_finite_gradient():
    """p exactly 0 or 1: the loss is capped at 100 and the gradient (p - y) / max(p(1 - p), 1e-12)."""
    p = np.array([0.0, 1e-9, 0.3, 0.5, 1.0, 1.0, 0.0, 0.999999])
    y = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.25])
    w = np.linspace(0.5, 2.0, len(p))
    for reduction in ("mean", "sum", "none"):
        ours = biograd.tensor(p, requires_grad=True)
        loss = biograd.nn.BCELoss(weight=w, reduction=reduction)(ours, y)
        theirs = torch.tensor(p, requires_grad=True)
        expected = torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction)(theirs, torch.tensor(y))
        upstream = np.random.default_rng(0).normal(size=np.shape(loss.data))
        loss.backward(upstream)
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(loss.data, expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-8)  # ~1e11 values: rounding order
