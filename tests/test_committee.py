"""nn.Committee and nn.SelectFeatures against PyTorch: averaged probabilities, gradients, saving."""

from __future__ import annotations

import numpy as np
import pytest

import biograd
from biograd import nn
from torch_oracle import needs_torch, torch


def _members(sizes, n=4, seed=0):
    biograd.manual_seed(seed)
    return [nn.MLP(sizes, activation="tanh") for _ in range(n)]


def _torch_outputs(members, x):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    outs = []
    for m in members:
        h = xt
        for layer in m:
            if isinstance(layer, nn.Linear):
                w = torch.tensor(layer.weight.data, dtype=torch.float64)
                b = torch.tensor(layer.bias.data, dtype=torch.float64)
                h = h @ w.T + b
            else:
                h = torch.tanh(h)
        outs.append(h)
    return xt, torch.stack(outs)


@pytest.mark.parametrize("combine,width", [("softmax", 3), ("sigmoid", 1), ("mean", 2)])
@needs_torch
def test_committee_output_and_input_gradient_equal_pytorch(combine, width):
    members = _members([4, 5, width])
    committee = nn.Committee(members, combine=combine)
    x = np.random.default_rng(1).normal(size=(6, 4))
    xt, outs = _torch_outputs(members, x)
    if combine == "softmax":
        want = torch.log(torch.softmax(outs, dim=-1).mean(dim=0))
    elif combine == "sigmoid":
        p = torch.sigmoid(outs).mean(dim=0)
        want = torch.log(p) - torch.log1p(-p)
    else:
        want = outs.mean(dim=0)
    upstream = np.random.default_rng(2).normal(size=tuple(want.shape))
    (want * torch.tensor(upstream)).sum().backward()

    xb = biograd.tensor(x.astype(np.float32), requires_grad=True)
    got = committee(xb)
    (got * biograd.tensor(upstream.astype(np.float32))).sum().backward()
    np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-3, atol=1e-5)


@needs_torch
def test_predict_proba_is_the_average_of_member_probabilities_and_disagreement_is_their_spread():
    members = _members([4, 6, 3], n=5, seed=3)
    committee = nn.Committee(members)
    x = np.random.default_rng(4).normal(size=(10, 4))
    _, outs = _torch_outputs(members, x)
    probs = torch.softmax(outs, dim=-1).detach().numpy()  # (members, samples, classes)
    mean = probs.mean(axis=0)
    got = np.asarray(committee(biograd.tensor(x.astype(np.float32))).softmax(axis=-1).data)
    np.testing.assert_allclose(got, mean, rtol=1e-4, atol=1e-6)
    d = committee.disagreement(x)
    chosen = mean.argmax(axis=1)
    np.testing.assert_allclose(d["spread"], probs[:, np.arange(10), chosen].std(axis=0), atol=1e-5)
    np.testing.assert_allclose(d["agreement"], (probs.argmax(axis=2) == chosen).mean(axis=0))


def test_one_member_committee_is_that_member():
    (member,) = _members([3, 4, 2], n=1)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    log_p = nn.Committee([member])(biograd.tensor(x)).data
    np.testing.assert_allclose(log_p, member(biograd.tensor(x)).log_softmax(axis=-1).data, atol=1e-6)


def test_committee_with_feature_selection_saves_and_loads_without_pickle(tmp_path):
    biograd.manual_seed(0)
    members = [nn.Sequential(nn.SelectFeatures([0, 2, 5], 6), nn.MLP([3, 4, 2])) for _ in range(3)]
    committee = nn.Committee(members, combine="softmax")
    x = np.random.default_rng(5).normal(size=(7, 6)).astype(np.float32)
    before = committee(biograd.tensor(x)).data
    biograd.save(committee, tmp_path / "model")
    loaded = biograd.load(tmp_path / "model")
    assert isinstance(loaded, nn.Committee) and len(loaded) == 3
    np.testing.assert_allclose(loaded(biograd.tensor(x)).data, before, atol=1e-6)


def test_select_features_passes_zero_gradient_to_dropped_columns():
    layer = nn.SelectFeatures([1, 3], 4)
    x = biograd.tensor(np.arange(8, dtype=np.float32).reshape(2, 4), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0, 1], [0, 1, 0, 1]])
    with pytest.raises(ValueError, match=r"0\.\.3"):
        nn.SelectFeatures([4], 4)


def test_committee_errors_name_the_fix():
    with pytest.raises(ValueError, match="one or more"):
        nn.Committee([])
    with pytest.raises(ValueError, match="'softmax' for"):
        nn.Committee(_members([2, 2, 2], n=1), combine="vote")


@needs_torch
def test_standardize_layer_equals_pytorch_affine_and_round_trips(tmp_path):
    layer = nn.Standardize([1.0, -2.0, 0.5], [2.0, 0.5, 1.0])
    x = np.random.default_rng(0).normal(size=(4, 3))
    xt = torch.tensor(x, requires_grad=True)
    want = (xt - torch.tensor([1.0, -2.0, 0.5])) / torch.tensor([2.0, 0.5, 1.0])
    want.sum().backward()
    xb = biograd.tensor(x, requires_grad=True)
    got = layer(xb)
    got.sum().backward()
    np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xb.grad, xt.grad.numpy(), rtol=1e-12)
    model = nn.Sequential(layer, nn.Linear(3, 1))
    biograd.save(model, tmp_path / "m")
    back = biograd.load(tmp_path / "m")
    np.testing.assert_allclose(back(biograd.tensor(x)).data, model(biograd.tensor(x)).data, rtol=1e-6)
    with pytest.raises(ValueError, match="scales > 0"):
        nn.Standardize([0.0], [0.0])
