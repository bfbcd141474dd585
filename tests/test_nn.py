"""Layers, activations, dropout, containers and configs against PyTorch (float64) and closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import biograd
import biograd.functional as F
from biograd import nn
from biograd.errors import ShapeError
from torch_oracle import needs_torch, torch

RTOL = 1e-10


def close(a, b, rtol=RTOL, atol=1e-12):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def torch_state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def compare_forward_backward(ours, theirs, x):
    """Same input through both; compare outputs and dL/dx for a non-uniform upstream gradient."""
    xb = biograd.tensor(x, requires_grad=True, dtype=np.float64)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yb, yt = ours(xb), theirs(xt)
    close(yb.data, yt.detach().numpy())
    upstream = np.random.default_rng(1).normal(size=yt.shape)
    yb.backward(upstream)
    yt.backward(torch.tensor(upstream))
    close(xb.grad, xt.grad.numpy())


# -- neurons and linear layers ------------------------------------------------------------------------


def test_neuron_is_activation_of_weighted_sum(rng):
    neuron = nn.Neuron(3, activation="sigmoid").double()
    assert neuron.weight.shape == (3,) and neuron.bias.shape == ()
    x = rng.normal(size=(5, 3))
    y = neuron(biograd.tensor(x, dtype=np.float64))
    assert y.shape == (5,)
    w, b = neuron.weight.data, neuron.bias.data
    close(y.data, 1 / (1 + np.exp(-(x @ w + b))))  # closed form: sigmoid(x·w + b)


def test_linear_equals_a_stack_of_neurons(rng):
    layer = nn.Linear(4, 3).double()
    neurons = [nn.Neuron(4, activation="identity").double() for _ in range(3)]
    for k, neuron in enumerate(neurons):
        neuron.load_state_dict({"weight": layer.weight.data[k], "bias": layer.bias.data[k]})
    x = biograd.tensor(rng.normal(size=(6, 4)), dtype=np.float64)
    stacked = np.stack([n(x).data for n in neurons], axis=1)
    close(layer(x).data, stacked)


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_values_and_gradients(rng, bias):
    theirs = torch.nn.Linear(5, 3, bias=bias).double()
    ours = nn.Linear(5, 3, bias=bias)
    ours.double().load_state_dict(torch_state(theirs))
    x = rng.normal(size=(4, 5))
    compare_forward_backward(ours, theirs, x)
    xb = biograd.tensor(x, dtype=np.float64)
    xt = torch.tensor(x)
    ours(xb).sum().backward()
    theirs(xt).sum().backward()
    close(ours.weight.grad, theirs.weight.grad.numpy())
    if bias:
        close(ours.bias.grad, theirs.bias.grad.numpy())
    else:
        assert ours.bias is None and list(ours.state_dict()) == ["weight"]


def test_linear_validates_and_explains_wrong_input_width():
    with pytest.raises(ValueError, match=r"'out_features' parameter of Linear must be an int >= 1. Got 0"):
        nn.Linear(3, 0)
    with pytest.raises(ValueError, match="'init' parameter of Linear"):
        nn.Linear(3, 2, init="he")
    with pytest.raises(ShapeError, match="in_features"):
        nn.Linear(3, 2)(np.zeros((4, 5)))


def test_linear_takes_numpy_input_in_its_own_dtype():
    out = nn.Linear(3, 2)(np.zeros((4, 3), dtype=np.float64))
    assert out.dtype == np.float32


# -- activations -----------------------------------------------------------------------------------

# ours, and the name and arguments of PyTorch's twin (made inside the test: torch may be absent)
ACTIVATIONS = [
    (nn.ReLU(), "ReLU", {}),
    (nn.LeakyReLU(0.2), "LeakyReLU", {"negative_slope": 0.2}),
    (nn.LeakyReLU(), "LeakyReLU", {}),
    (nn.Sigmoid(), "Sigmoid", {}),
    (nn.Tanh(), "Tanh", {}),
    (nn.GELU(), "GELU", {}),
    (nn.GELU(approximate="tanh"), "GELU", {"approximate": "tanh"}),
    (nn.Softmax(axis=1), "Softmax", {"dim": 1}),
    (nn.Softmax(axis=0), "Softmax", {"dim": 0}),
    (nn.LogSoftmax(axis=1), "LogSoftmax", {"dim": 1}),
    (nn.Identity(), "Identity", {}),
]


@needs_torch
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), ACTIVATIONS, ids=repr)
def test_activation_modules_match_torch(rng, ours, theirs, kwargs):
    x = rng.normal(scale=3, size=(6, 5))
    x[0, :3] = [0.5, -0.5, 7.0]
    compare_forward_backward(ours, getattr(torch.nn, theirs)(**kwargs), x)


@needs_torch
@pytest.mark.parametrize(
    ("fn", "tfn"),
    [
        (F.relu, lambda x: torch.relu(x)),
        (lambda x: F.leaky_relu(x, 0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1)),
        (F.sigmoid, lambda x: torch.sigmoid(x)),
        (F.tanh, lambda x: torch.tanh(x)),
        (F.gelu, lambda x: torch.nn.functional.gelu(x)),
        (lambda x: F.gelu(x, "tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
        (lambda x: F.softmax(x, -1), lambda x: torch.softmax(x, -1)),
        (lambda x: F.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    ],
)
def test_activation_functions_match_torch(rng, fn, tfn):
    compare_forward_backward(fn, tfn, rng.normal(scale=2, size=(4, 7)))


@needs_torch
def test_gelu_extreme_inputs_match_torch():
    x = np.array([-40.0, -6.0, 0.0, 6.0, 40.0])
    close(F.gelu(biograd.tensor(x, dtype=np.float64)).data, torch.nn.functional.gelu(torch.tensor(x)).numpy())


def test_gelu_validates_approximate():
    with pytest.raises(ValueError, match="'approximate' parameter of GELU"):
        nn.GELU(approximate="fast")


def test_get_activation_factory():
    assert isinstance(nn.get_activation("relu"), nn.ReLU)
    assert isinstance(nn.get_activation("Leaky_ReLU"), nn.LeakyReLU)
    for name, cls in [("sigmoid", nn.Sigmoid), ("tanh", nn.Tanh), ("gelu", nn.GELU), ("softmax", nn.Softmax)]:
        assert isinstance(nn.get_activation(name), cls)
    for name in ("identity", "linear", None):
        assert isinstance(nn.get_activation(name), nn.Identity)
    module = nn.LeakyReLU(0.3)
    assert nn.get_activation(module) is module
    with pytest.raises(
        ValueError, match=r"Unknown activation 'swish'.*relu, leaky_relu, sigmoid, tanh, gelu"
    ):
        nn.get_activation("swish")


# -- dropout ----------------------------------------------------------------------------------------


def test_dropout_is_identity_in_eval_mode(rng):
    x = biograd.tensor(rng.normal(size=(50, 4)))
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x or np.array_equal(drop(x).data, x.data)
    np.testing.assert_array_equal(F.dropout(x, 0.9, training=False).data, x.data)


def test_dropout_keeps_1_minus_p_and_preserves_the_mean():
    p, n = 0.3, 200_000
    biograd.manual_seed(0)
    x = biograd.tensor(np.ones(n), requires_grad=True)
    y = nn.Dropout(p)(x)  # modules start in train mode
    kept = y.data != 0
    # Binomial(n, 1 - p): the kept fraction lies within 5 standard deviations of 1 - p
    assert abs(kept.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.data[kept], 1 / (1 - p), rtol=1e-6)  # inverted scaling
    assert abs(y.data.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / n)  # E[y] = x
    y.sum().backward()  # dy/dx = mask / (1 - p)
    np.testing.assert_allclose(x.grad, y.data, rtol=1e-6)


def test_dropout_mask_is_reproducible_from_the_global_seed():
    x = biograd.ones(1000)
    biograd.manual_seed(42)
    a = nn.Dropout(0.5)(x).data
    biograd.manual_seed(42)
    b = nn.Dropout(0.5)(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dropout(0.5)(x).data)
    np.testing.assert_array_equal(F.dropout(x, 0.5, seed=3).data, F.dropout(x, 0.5, seed=3).data)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, "half", True])
def test_dropout_validates_p(p):
    with pytest.raises(
        ValueError, match=r"The 'p' parameter of Dropout must be a float in the range \[0, 1\)"
    ):
        nn.Dropout(p)


# -- containers ---------------------------------------------------------------------------------------


def test_sequential_indexing_len_iteration_and_keys():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert len(model) == 3
    assert isinstance(model[0], nn.Linear) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    with pytest.raises(IndexError, match="3 layers"):
        model[5]
    with pytest.raises(TypeError, match="biograd modules"):
        nn.Sequential(nn.Linear(2, 2), np.tanh)


@needs_torch
@pytest.mark.parametrize(
    ("activation", "torch_act", "dropout", "out_act", "torch_out"),
    [
        ("relu", lambda: torch.nn.ReLU(), 0.0, None, None),
        ("tanh", lambda: torch.nn.Tanh(), 0.2, "sigmoid", lambda: torch.nn.Sigmoid()),
        ("gelu", lambda: torch.nn.GELU(), 0.0, "softmax", lambda: torch.nn.Softmax(dim=-1)),
    ],
)
def test_mlp_matches_torch_sequential_with_copied_weights(
    rng, activation, torch_act, dropout, out_act, torch_out
):
    sizes = [5, 8, 6, 3]
    layers: list[torch.nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch_act())
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
        elif torch_out is not None:
            layers.append(torch_out())
    theirs = torch.nn.Sequential(*layers).double().eval()
    ours = nn.MLP(sizes, activation=activation, dropout=dropout, output_activation=out_act).double().eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())  # documented layout: same keys
    ours.load_state_dict(torch_state(theirs))
    x = rng.normal(size=(7, 5))
    compare_forward_backward(ours, theirs, x)
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_mlp_validates_its_arguments():
    with pytest.raises(ValueError, match="'sizes' parameter of MLP"):
        nn.MLP([4])
    with pytest.raises(ValueError, match="'sizes' parameter of MLP must be an int >= 1"):
        nn.MLP([4, 0, 1])
    with pytest.raises(ValueError, match="'p' parameter of MLP"):
        nn.MLP([4, 2], dropout=1.0)
    with pytest.raises(ValueError, match="Unknown activation"):
        nn.MLP([4, 2], activation="rleu")


@needs_torch
def test_flatten_matches_torch(rng):
    compare_forward_backward(nn.Flatten(), torch.nn.Flatten(), rng.normal(size=(2, 3, 4)))
    assert nn.Flatten(start_axis=2)(biograd.zeros(2, 3, 4, 5)).shape == (2, 3, 20)


# -- Module behaviour -------------------------------------------------------------------------------


def test_load_state_dict_errors_name_the_problem():
    model = nn.MLP([3, 4, 2])
    good = model.state_dict()
    bad = dict(good, **{"0.weight": np.zeros((5, 3))})
    with pytest.raises(ShapeError, match=r"'0\.weight'.*\(4, 3\).*\(5, 3\)"):
        model.load_state_dict(bad)
    missing = {k: v for k, v in good.items() if k != "2.bias"}
    with pytest.raises(KeyError, match=r"missing keys: 2\.bias"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys: 4\.weight"):
        model.load_state_dict(dict(good, **{"4.weight": np.zeros(1)}))
    result = model.load_state_dict(missing, strict=False)
    assert result["missing_keys"] == ["2.bias"]


def test_unknown_attribute_raises_attribute_error():
    layer = nn.Linear(2, 3)
    with pytest.raises(AttributeError, match="weigth"):
        layer.weigth
    assert not hasattr(nn.MLP([2, 2]), "hidden")


def test_repr_is_indented():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): Tanh()\n"
        "    (1): Dropout(p=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


def test_train_and_eval_reach_every_layer():
    model = nn.MLP([3, 4, 4, 1], dropout=0.5)
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


@needs_torch
def test_parameters_count_matches_torch():
    ours = nn.MLP([10, 32, 16, 1])
    theirs = torch.nn.Sequential(
        torch.nn.Linear(10, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 1),
    )
    assert len(list(ours.parameters())) == 6
    assert (
        ours.num_parameters()
        == sum(p.numel() for p in theirs.parameters())
        == 10 * 32 + 32 + 32 * 16 + 16 + 17
    )


def test_same_seed_gives_identical_models():
    biograd.manual_seed(0)
    a = nn.MLP([4, 8, 2], activation="tanh")
    n1 = nn.Neuron(3)
    biograd.manual_seed(0)
    b = nn.MLP([4, 8, 2], activation="tanh")
    n2 = nn.Neuron(3)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    np.testing.assert_array_equal(n1.weight.data, n2.weight.data)
    c = nn.MLP([4, 8, 2], activation="tanh")
    assert not np.array_equal(c.state_dict()["0.weight"], a.state_dict()["0.weight"])


def test_double_and_float_convert_parameters():
    model = nn.MLP([2, 3, 1]).double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(p.dtype == np.float32 for p in model.float().parameters())
    with pytest.raises(TypeError, match="floating-point"):
        model.to(np.int32)


# -- architectures as data ------------------------------------------------------------------------


def roundtrip(model: nn.Module) -> nn.Module:
    config = json.loads(json.dumps(nn.to_config(model)))  # must be JSON-safe
    rebuilt = nn.from_config(config)
    rebuilt.load_state_dict(model.state_dict())
    return rebuilt


def test_config_round_trip_gives_identical_predictions(rng):
    models = [
        nn.MLP([5, 8, 4, 2], activation=nn.LeakyReLU(0.2), dropout=0.1, output_activation="sigmoid"),
        nn.Sequential(nn.Linear(5, 4, bias=False), nn.GELU("tanh"), nn.Flatten(), nn.Neuron(4, "tanh")),
        nn.Sequential(nn.MLP([5, 3]), nn.Softmax(axis=1)),
        nn.Linear(5, 2, init="xavier"),
    ]
    x = biograd.tensor(rng.normal(size=(6, 5)))
    for model in models:
        rebuilt = roundtrip(model)
        assert type(rebuilt) is type(model)
        assert repr(rebuilt) == repr(model)
        assert nn.to_config(rebuilt) == json.loads(json.dumps(nn.to_config(model)))
        model.eval(), rebuilt.eval()
        np.testing.assert_array_equal(rebuilt(x).data, model(x).data)
    config = nn.to_config(models[0])
    assert config["type"] == "MLP"
    assert config["config"]["activation"] == {"type": "LeakyReLU", "config": {"negative_slope": 0.2}}
    assert nn.to_config(nn.Sequential(nn.ReLU()))["config"]["layers"] == [{"type": "ReLU", "config": {}}]


def test_custom_modules_need_get_config_and_registration():
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    with pytest.raises(TypeError, match=r"Doubler is a custom module without get_config\(\).*register_layer"):
        nn.to_config(nn.Sequential(nn.Linear(2, 2), Doubler()))

    class Scale(nn.Module):
        def __init__(self, factor: float = 2.0):
            super().__init__()
            self.factor = factor

        def forward(self, x):
            return x * self.factor

        def get_config(self):
            return {"factor": self.factor}

    with pytest.raises(TypeError, match="not registered"):
        nn.to_config(Scale())
    nn.register_layer(Scale)
    rebuilt = roundtrip(nn.Sequential(Scale(3.0)))
    assert rebuilt[0].factor == 3.0 and type(rebuilt[0]) is Scale
    with pytest.raises(ValueError, match=r"Unknown layer type 'Nope'.*Linear.*register_layer"):
        nn.from_config({"type": "Nope", "config": {}})
    with pytest.raises(ValueError, match="built-in biograd layer"):
        nn.register_layer(type("Linear", (nn.Module,), {}))


def test_custom_activation_works_in_mlp_but_is_not_saveable_without_config(rng):
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    model = nn.MLP([3, 4, 1], activation=Square())
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model(rng.normal(size=(2, 3))).shape == (2, 1)
    with pytest.raises(TypeError, match="Square is a custom module without get_config"):
        nn.to_config(model)


@needs_torch
def test_softmax_modules_take_pytorchs_dim_as_well_as_axis():
    x = np.random.default_rng(0).normal(size=(3, 4))
    for ours, theirs in ((nn.Softmax, torch.nn.Softmax), (nn.LogSoftmax, torch.nn.LogSoftmax)):
        for dim in (0, 1):
            expected = theirs(dim=dim)(torch.tensor(x)).numpy()
            np.testing.assert_allclose(ours(dim=dim)(biograd.tensor(x)).data, expected, rtol=1e-12)
            np.testing.assert_allclose(ours(axis=dim)(biograd.tensor(x)).data, expected, rtol=1e-12)
