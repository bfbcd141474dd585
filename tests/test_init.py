"""Initialization: sample variances against their closed forms, gains and fans against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import biograd
from biograd import nn
from biograd.nn import init
from torch_oracle import needs_torch, torch

SHAPE = (300, 500)  # 150,000 draws: the sample variance is within ~1% of the true one
FAN_IN, FAN_OUT = SHAPE[1], SHAPE[0]


def param(shape=SHAPE, dtype=np.float64) -> nn.Parameter:
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def assert_variance(values: np.ndarray, expected: float) -> None:
    # The sample variance of n draws has relative standard error about sqrt(2 / n) (less for uniform):
    # 5 of those, ~1.8% here, makes a false failure practically impossible while a wrong formula (a
    # factor of 2 or 3 off) fails by far.
    n = values.size
    assert abs(values.var() / expected - 1) < 5 * math.sqrt(2 / n), (values.var(), expected)
    assert abs(values.mean()) < 5 * math.sqrt(expected / n)


@pytest.mark.parametrize(
    ("fill", "expected_var"),
    [
        (lambda p: init.xavier_uniform_(p, seed=0), 2 / (FAN_IN + FAN_OUT)),
        (lambda p: init.xavier_normal_(p, seed=0), 2 / (FAN_IN + FAN_OUT)),
        (lambda p: init.xavier_uniform_(p, gain=5 / 3, seed=0), (5 / 3) ** 2 * 2 / (FAN_IN + FAN_OUT)),
        (lambda p: init.kaiming_uniform_(p, seed=0), 2 / FAN_IN),
        (lambda p: init.kaiming_normal_(p, seed=0), 2 / FAN_IN),
        (lambda p: init.kaiming_normal_(p, mode="fan_out", seed=0), 2 / FAN_OUT),
        (lambda p: init.kaiming_uniform_(p, a=0.2, nonlinearity="leaky_relu", seed=0), 2 / (1.04 * FAN_IN)),
        (lambda p: init.kaiming_normal_(p, nonlinearity="tanh", seed=0), (5 / 3) ** 2 / FAN_IN),
        (lambda p: init.uniform_(p, -2.0, 2.0, seed=0), 16 / 12),
        (lambda p: init.normal_(p, 0.0, 0.3, seed=0), 0.09),
    ],
)
def test_initializers_have_the_closed_form_variance(fill, expected_var):
    p = param()
    assert fill(p) is p
    assert_variance(p.data, expected_var)


def test_uniform_bounds_and_normal_mean():
    p = init.uniform_(param(), 1.0, 3.0, seed=1)
    assert p.data.min() >= 1.0 and p.data.max() < 3.0
    assert abs(init.normal_(param(), mean=5.0, std=0.1, seed=1).data.mean() - 5.0) < 1e-3
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    x = init.xavier_uniform_(param(), seed=2).data
    assert -bound <= x.min() and x.max() <= bound and x.max() > 0.99 * bound


def test_constant_initializers_keep_dtype_and_shape():
    p = param((3, 2), dtype=np.float32)
    assert np.array_equal(init.ones_(p).data, np.ones((3, 2))) and p.dtype == np.float32
    assert np.array_equal(init.zeros_(p).data, np.zeros((3, 2)))
    assert np.array_equal(init.constant_(p, 0.5).data, np.full((3, 2), 0.5))


@needs_torch
@pytest.mark.parametrize(
    ("name", "arg"),
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv1d", None),
    ],
)
def test_calculate_gain_matches_torch(name, arg):
    assert init.calculate_gain(name, arg) == pytest.approx(torch.nn.init.calculate_gain(name, arg), rel=1e-12)


def test_calculate_gain_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"Unknown nonlinearity 'swish'.*tanh"):
        init.calculate_gain("swish")


@needs_torch
@pytest.mark.parametrize("shape", [(7, 3), (8, 4, 5), (6, 2, 3, 3)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fans(param(shape)) == expected


def test_fans_of_a_single_neuron_and_a_scalar():
    assert init._calculate_fans(param((4,))) == (4, 1)
    with pytest.raises(ValueError, match="scalar"):
        init.xavier_uniform_(param(()))


def test_seeds_and_generators_are_reproducible():
    a = init.kaiming_normal_(param((5, 4)), seed=7).data.copy()
    b = init.kaiming_normal_(param((5, 4)), seed=7).data.copy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(
        init.xavier_uniform_(param((5, 4)), seed=g1).data, init.xavier_uniform_(param((5, 4)), seed=g2).data
    )
    biograd.manual_seed(11)
    c = init.normal_(param((5, 4))).data.copy()
    biograd.manual_seed(11)
    np.testing.assert_array_equal(c, init.normal_(param((5, 4))).data)


def test_layer_defaults_follow_the_activation():
    biograd.manual_seed(0)
    # MLP: He for ReLU layers, Xavier for tanh layers and for an output without activation; zero biases
    relu_net = nn.MLP([400, 300, 200], activation="relu").double()
    assert_variance(relu_net[0].weight.data, 2 / 400)
    assert_variance(relu_net[2].weight.data, 2 / (300 + 200))
    tanh_net = nn.MLP([400, 300, 10], activation="tanh")
    assert_variance(tanh_net[0].weight.data.astype(np.float64), 2 / (400 + 300))
    assert all(not np.any(m.bias.data) for m in (relu_net[0], relu_net[2], tanh_net[0]))
    # plain Linear: PyTorch's U(-1/sqrt(in), 1/sqrt(in)) for weights and biases (variance 1 / (3 in))
    layer = nn.Linear(400, 300)
    assert_variance(layer.weight.data.astype(np.float64), 1 / (3 * 400))
    assert np.abs(layer.bias.data).max() <= 1 / math.sqrt(400) and np.any(layer.bias.data)
    assert_variance(nn.Linear(400, 300, init="kaiming").weight.data.astype(np.float64), 2 / 400)
    assert_variance(nn.Linear(400, 300, init="xavier").weight.data.astype(np.float64), 2 / 700)
    # single neurons: He for ReLU (fan_in = inputs), Xavier for sigmoid (fan_out = 1)
    weights = np.stack([nn.Neuron(50, "relu").weight.data for _ in range(2000)]).astype(np.float64)
    assert_variance(weights, 2 / 50)
    weights = np.stack([nn.Neuron(50, "sigmoid").weight.data for _ in range(2000)]).astype(np.float64)
    assert_variance(weights, 2 / 51)
