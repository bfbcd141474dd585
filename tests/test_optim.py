"""Optimizers and schedulers against PyTorch (float64): 20 training steps must give the same losses and
weights to 1e-9; schedulers must give the same learning-rate sequence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import biograd
import biograd.optim as optim
from biograd.nn.module import Module, Parameter
from torch_oracle import needs_torch, torch

# --------------------------------------------------------------------------------------------------
# A small MLP built from the engine only (5-8-3, tanh), and its PyTorch twin with the same weights
# --------------------------------------------------------------------------------------------------


class TinyMLP(Module):
    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        w1, b1, w2, b2 = (np.array(w, dtype=np.float64, copy=True) for w in weights)
        self.w1, self.b1 = Parameter(w1, dtype=np.float64), Parameter(b1, dtype=np.float64)
        self.w2, self.b2 = Parameter(w2, dtype=np.float64), Parameter(b2, dtype=np.float64)

    def forward(self, x):
        return biograd.linear(biograd.linear(x, self.w1, self.b1).tanh(), self.w2, self.b2)


def _torch_mlp(seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()


def _copy_weights(tmodel) -> list[np.ndarray]:
    # .copy(): torch's .numpy() shares memory, and biograd updates in place
    return [p.detach().numpy().copy() for p in tmodel.parameters()]


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 5))
    y_class = rng.integers(0, 3, size=16)
    y_value = rng.normal(size=(16, 3))
    return x, y_class, y_value


def _mse(out, y):
    return ((out - y) ** 2).mean()


def _cross_entropy(out, y):
    # -mean log softmax(z)[y], from engine ops only
    logp = out.log_softmax(axis=1)
    onehot = np.eye(3)[y]
    return -(logp * onehot).sum() * (1.0 / len(y))


CONFIGS = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.1, weight_decay=0.05)),
    ("sgd", dict(lr=0.1, momentum=0.8, dampening=0.3)),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam", dict(lr=0.01, amsgrad=True)),
    ("adam", dict(lr=0.02, betas=(0.3, 0.9), weight_decay=0.05, amsgrad=True)),
    ("adamw", dict(lr=0.01)),
    ("adamw", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("rmsprop", dict(lr=0.01)),
    ("rmsprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop", dict(lr=0.01, centered=True)),
    ("rmsprop", dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
]

TORCH_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def _run_pair(name: str, kwargs: dict, loss: str, steps: int = 20):
    x, y_class, y_value = _data()
    tmodel = _torch_mlp()
    model = TinyMLP(_copy_weights(tmodel))
    topt = getattr(torch.optim, TORCH_CLASSES[name])(tmodel.parameters(), **kwargs)
    opt = optim.create(name, model.parameters(), **kwargs)
    tx = torch.tensor(x)
    if loss == "mse":
        ty, y, tloss_fn, loss_fn = torch.tensor(y_value), y_value, torch.nn.functional.mse_loss, _mse
    else:
        ty, y, tloss_fn, loss_fn = (
            torch.tensor(y_class),
            y_class,
            torch.nn.functional.cross_entropy,
            _cross_entropy,
        )
    losses, tlosses = [], []
    for _ in range(steps):
        topt.zero_grad()
        tl = tloss_fn(tmodel(tx), ty)
        tl.backward()
        topt.step()
        tlosses.append(tl.item())
        opt.zero_grad()
        bl = loss_fn(model(x), y)
        bl.backward()
        opt.step()
        losses.append(bl.item())
    return model, tmodel, opt, topt, np.array(losses), np.array(tlosses)


@needs_torch
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_twenty_steps_match_pytorch(name, kwargs, loss):
    model, tmodel, _, _, losses, tlosses = _run_pair(name, kwargs, loss)
    np.testing.assert_allclose(losses, tlosses, rtol=0, atol=1e-9)
    assert losses[-1] < losses[0]  # it learned something
    for p, tp in zip(model.parameters(), tmodel.parameters(), strict=True):
        assert p.data.dtype == np.float64
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-9)


@needs_torch
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_blas_path_for_large_parameters_matches_pytorch(name, kwargs, monkeypatch):
    # parameters with >= _AXPY_MIN_SIZE numbers take the BLAS axpy path; force it on the small MLP
    monkeypatch.setattr(optim.base, "_AXPY_MIN_SIZE", 1)
    model, tmodel, _, _, losses, tlosses = _run_pair(name, kwargs, "cross_entropy")
    np.testing.assert_allclose(losses, tlosses, rtol=0, atol=1e-9)
    for p, tp in zip(model.parameters(), tmodel.parameters(), strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-9)


@needs_torch
@pytest.mark.parametrize("blas", [False, True])
def test_parameters_updated_in_place_and_float32_kept(blas, monkeypatch):
    if blas:
        monkeypatch.setattr(optim.base, "_AXPY_MIN_SIZE", 1)
    start = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    for name in ("SGD", "Adam", "AdamW", "RMSprop"):
        w = biograd.tensor(start.copy(), requires_grad=True)
        tw = torch.nn.Parameter(torch.tensor(start.copy()))
        before = w.data
        opt = getattr(optim, name)([w], lr=0.1)
        topt = getattr(torch.optim, name)([tw], lr=0.1)
        for _ in range(3):
            (w * w * w).sum().backward()
            opt.step()
            opt.zero_grad()
            topt.zero_grad()
            (tw * tw * tw).sum().backward()
            topt.step()
        assert w.data is before and w.data.dtype == np.float32
        assert all(
            v.dtype == np.float32 for st in opt.state for v in st.values() if isinstance(v, np.ndarray)
        )
        assert w.grad is None
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_grad_none_is_skipped_and_grad_untouched():
    a = biograd.tensor([1.0, 2.0], requires_grad=True)
    b = biograd.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.1)
    (a * a).sum().backward()
    grad_before = a.grad.copy()
    opt.step()
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    assert opt.state[1] == {} and opt.state[0]["step"] == 1
    np.testing.assert_array_equal(a.grad, grad_before)  # the optimizer never writes into .grad


def test_plain_sgd_is_the_notes_rule():
    # w <- w - lr * dL/dw, with L = sum(w^2) so dL/dw = 2w (closed form)
    w = biograd.tensor([1.0, -2.0, 0.5], requires_grad=True, dtype=np.float64)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0, 0.5]) * (1 - 0.2), rtol=1e-15)


def test_read_only_parameter_array_gets_its_own_copy():
    arr = np.ones(3, dtype=np.float32)
    arr.flags.writeable = False
    w = biograd.tensor(arr, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, 0.0)
    np.testing.assert_array_equal(arr, 1.0)


# --------------------------------------------------------------------------------------------------
# lr, param_groups, repr
# --------------------------------------------------------------------------------------------------


def test_lr_and_param_groups_stay_in_sync():
    w = biograd.tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    assert opt.lr == 0.1 and opt.param_groups[0]["lr"] == 0.1
    opt.lr = 0.05
    assert opt.param_groups[0]["lr"] == 0.05
    opt.param_groups[0]["lr"] = 0.02
    assert opt.lr == 0.02
    assert opt.param_groups[0]["params"] == [w] and opt.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match=r"The 'lr' parameter of SGD must be > 0. Got -1 instead."):
        opt.lr = -1


def test_repr_is_readable():
    w = biograd.tensor(np.zeros((2, 3)), requires_grad=True)
    text = repr(optim.Adam([w], lr=0.01))
    assert text.startswith("Adam(lr=0.01, betas=(0.9, 0.999)")
    assert "1 parameter tensors, 6 numbers" in text


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _w():
    return [biograd.tensor([1.0], requires_grad=True)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: optim.SGD(_w(), lr=-1), r"The 'lr' parameter of SGD must be > 0. Got -1 instead."),
        (lambda: optim.SGD(_w(), lr=0), r"The 'lr' parameter of SGD must be > 0. Got 0 instead."),
        (lambda: optim.SGD(_w(), lr=float("nan")), r"'lr' parameter of SGD must be > 0"),
        (lambda: optim.SGD(_w(), momentum=-0.1), r"The 'momentum' parameter of SGD must be >= 0. Got -0.1"),
        (
            lambda: optim.SGD(_w(), dampening=2),
            r"'dampening' parameter of SGD must be a float in the range \[0, 1\]",
        ),
        (lambda: optim.SGD(_w(), nesterov=True), r"requires momentum > 0 and dampening = 0"),
        (
            lambda: optim.SGD(_w(), momentum=0.9, dampening=0.1, nesterov=True),
            r"Got momentum=0.9 and dampening=0.1",
        ),
        (lambda: optim.SGD(_w(), weight_decay=-1), r"The 'weight_decay' parameter of SGD must be >= 0"),
        (
            lambda: optim.Adam(_w(), betas=(1.0, 0.9)),
            r"The 'betas' parameter of Adam must be a pair .* \[0, 1\)",
        ),
        (lambda: optim.Adam(_w(), betas=(0.9, -0.1)), r"'betas' parameter of Adam"),
        (lambda: optim.AdamW(_w(), lr=-0.5), r"The 'lr' parameter of AdamW must be > 0. Got -0.5 instead."),
        (lambda: optim.Adam(_w(), eps=-1e-8), r"The 'eps' parameter of Adam must be >= 0"),
        (
            lambda: optim.RMSprop(_w(), alpha=1.0),
            r"The 'alpha' parameter of RMSprop must be a float in the range",
        ),
        (lambda: optim.RMSprop(_w(), momentum=-1), r"The 'momentum' parameter of RMSprop must be >= 0"),
        (lambda: optim.SGD([], lr=0.1), r"empty list of parameters"),
        (lambda: optim.SGD(iter([]), lr=0.1), r"empty list of parameters"),
        (lambda: optim.SGD(_w() * 2, lr=0.1), r"appears twice"),
    ],
)
def test_validation_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: optim.SGD([np.ones(3)], lr=0.1), r"item 0 of the parameter list is a ndarray"),
        (lambda: optim.SGD(biograd.tensor([1.0]), lr=0.1), r"single Tensor"),
        (lambda: optim.SGD(5, lr=0.1), r"iterable of parameters"),
        (lambda: optim.SGD(_w(), lr="fast"), r"The 'lr' parameter of SGD must be > 0. Got 'fast' instead."),
        (lambda: optim.SGD(_w(), lr=True), r"'lr' parameter of SGD"),
        (
            lambda: optim.SGD(_w(), momentum=0.9, nesterov="yes"),
            r"'nesterov' parameter of SGD must be True or False",
        ),
        (lambda: optim.Adam(_w(), betas=0.9), r"'betas' parameter of Adam must be a pair"),
    ],
)
def test_type_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# --------------------------------------------------------------------------------------------------
# create()
# --------------------------------------------------------------------------------------------------


def test_create_by_name_and_defaults():
    assert type(optim.create("ADAM", _w())) is optim.Adam
    assert optim.create(" sgd ", _w()).lr == 0.01
    assert optim.create("adam", _w()).lr == 1e-3
    adamw = optim.create("AdamW", _w())
    assert adamw.lr == 1e-3 and adamw.param_groups[0]["weight_decay"] == 1e-2
    assert optim.create("rmsprop", _w()).lr == 1e-2
    sgd = optim.create("sgd", _w(), lr=0.5, momentum=0.9)
    assert sgd.lr == 0.5 and sgd.param_groups[0]["momentum"] == 0.9
    assert type(optim.create(optim.RMSprop, _w(), lr=0.1)) is optim.RMSprop
    existing = optim.SGD(_w(), lr=0.3)
    assert optim.create(existing, _w()) is existing


def test_create_errors():
    with pytest.raises(
        ValueError, match=r"Unknown optimizer 'adamm'. Valid names: 'sgd', 'adam', 'adamw', 'rmsprop'"
    ):
        optim.create("adamm", _w())
    with pytest.raises(TypeError, match=r"Adam has no setting 'momentum'. Its settings are: lr, betas"):
        optim.create("adam", _w(), momentum=0.9)
    with pytest.raises(ValueError, match=r"got an optimizer object \(SGD\) and settings \(lr\)"):
        optim.create(optim.SGD(_w()), _w(), lr=0.1)
    with pytest.raises(TypeError, match=r"must be a name"):
        optim.create(3, _w())


@needs_torch
def test_torch_defaults_match_ours():
    # our constructors' defaults are PyTorch's (except SGD's lr: 0.01, documented)
    import inspect

    for ours, theirs in [
        (optim.Adam, torch.optim.Adam),
        (optim.AdamW, torch.optim.AdamW),
        (optim.RMSprop, torch.optim.RMSprop),
    ]:
        mine = inspect.signature(ours).parameters
        ref = inspect.signature(theirs).parameters
        for name, p in mine.items():
            if name != "params":
                assert p.default == ref[name].default, (ours.__name__, name)


# --------------------------------------------------------------------------------------------------
# state_dict round trip: continue training identically
# --------------------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
        ("adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
        ("adamw", dict(lr=0.01)),
        ("rmsprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ],
)
def test_state_dict_round_trip_continues_like_pytorch(name, kwargs):
    x, y_class, _ = _data()
    model, tmodel, opt, topt, _, _ = _run_pair(name, kwargs, "cross_entropy", steps=10)
    # JSON for everything but the arrays, as io would store it; arrays through a copy
    saved = opt.state_dict()
    arrays = {
        (i, k): v for i, st in saved["state"].items() for k, v in st.items() if isinstance(v, np.ndarray)
    }
    meta = json.loads(
        json.dumps(
            {
                "type": saved["type"],
                "param_groups": saved["param_groups"],
                "state": {
                    str(i): {k: v for k, v in st.items() if not isinstance(v, np.ndarray)}
                    for i, st in saved["state"].items()
                },
            }
        )
    )
    for (i, k), v in arrays.items():
        meta["state"][str(i)][k] = v.copy()
    model2 = TinyMLP([p.data for p in model.parameters()])
    opt2 = optim.create(name, model2.parameters(), lr=123.0)  # different lr: must be overwritten
    opt2.load_state_dict(meta)
    assert opt2.lr == kwargs["lr"]
    tx, ty = torch.tensor(x), torch.tensor(y_class)
    for _ in range(10):
        topt.zero_grad()
        tl = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        tl.backward()
        topt.step()
        opt2.zero_grad()
        bl = _cross_entropy(model2(x), y_class)
        bl.backward()
        opt2.step()
        assert abs(bl.item() - tl.item()) < 1e-9
    for p, tp in zip(model2.parameters(), tmodel.parameters(), strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=0, atol=1e-9)


def test_state_dict_is_a_copy_and_load_errors():
    w = biograd.tensor(np.ones((2, 2)), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    saved = opt.state_dict()
    saved["state"][0]["exp_avg"][:] = 99.0
    assert not np.any(opt.state[0]["exp_avg"] == 99.0)
    with pytest.raises(ValueError, match=r"saved from Adam, so it cannot be loaded into SGD"):
        optim.SGD([w]).load_state_dict(saved)
    other = biograd.tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(
        ValueError, match=r"'exp_avg' of parameter 0 has shape \(2, 2\), but the parameter has shape \(3, 2\)"
    ):
        optim.Adam([other]).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"state is for 1 parameters, but this optimizer has 2"):
        optim.Adam([w, other]).load_state_dict(saved)


# --------------------------------------------------------------------------------------------------
# Schedulers against PyTorch's learning-rate sequences
# --------------------------------------------------------------------------------------------------


def _pair_optimizers(lr=0.1):
    tparam = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return optim.SGD(_w(), lr=lr), torch.optim.SGD([tparam], lr=lr)


@needs_torch
@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.5), (3, 0.1), (7, 0.9)])
def test_step_lr_matches_pytorch(step_size, gamma):
    opt, topt = _pair_optimizers(0.2)
    sched = optim.StepLR(opt, step_size=step_size, gamma=gamma)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=step_size, gamma=gamma)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
    for _ in range(25):
        topt.step()
        tsched.step()
        sched.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-15)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)


PLATEAU_METRICS = (
    [1.0, 0.9, 0.9, 0.9, 0.95, 0.89, 0.8999, 0.91, 0.92, 0.93, 0.94] + [0.5] * 8 + [0.49995] + [0.4] * 10
)


@needs_torch
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=2),
        dict(patience=1, factor=0.5, cooldown=2),
        dict(patience=0, factor=0.5, min_lr=0.02),
        dict(patience=1, threshold=0.05, threshold_mode="abs"),
        dict(mode="max", patience=1, factor=0.3),
        dict(mode="max", patience=2, threshold_mode="abs", threshold=0.01, cooldown=1),
    ],
)
def test_reduce_lr_on_plateau_matches_pytorch(kwargs):
    opt, topt = _pair_optimizers(0.1)
    sched = optim.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    lrs, tlrs = [], []
    for metric in PLATEAU_METRICS:
        topt.step()
        tsched.step(metric)
        sched.step(metric)
        lrs.append(sched.get_last_lr()[0])
        tlrs.append(tsched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, tlrs, rtol=1e-15)
    assert len(set(lrs)) > 1  # the test exercised at least one reduction
    assert opt.lr == lrs[-1]


@needs_torch
def test_scheduler_state_dict_round_trip():
    opt, _ = _pair_optimizers(0.1)
    sched = optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for m in [1.0, 1.0, 1.0, 0.5]:
        sched.step(m)
    state = sched.state_dict()
    opt2, _ = _pair_optimizers(0.1)
    opt2.lr = opt.lr
    sched2 = optim.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(state)
    for m in [0.6, 0.7, 0.8, 0.9]:
        sched.step(m)
        sched2.step(m)
        assert opt.lr == opt2.lr
    step = optim.StepLR(opt, step_size=2)
    step.step()
    step2 = optim.StepLR(opt2, step_size=5)
    step2.load_state_dict(step.state_dict())
    assert step2.step_size == 2 and step2.last_epoch == 1
    with pytest.raises(ValueError, match="saved from StepLR"):
        sched2.load_state_dict(step.state_dict())


@needs_torch
def test_scheduler_validation():
    opt, _ = _pair_optimizers()
    with pytest.raises(
        ValueError, match=r"The 'step_size' parameter of StepLR must be an int >= 1. Got 0 instead."
    ):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match=r"The 'mode' parameter of ReduceLROnPlateau must be 'min' or 'max'"):
        optim.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(
        ValueError, match=r"The 'factor' parameter of ReduceLROnPlateau must be a float in the range \(0, 1\)"
    ):
        optim.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(TypeError, match=r"needs a biograd optimizer"):
        optim.StepLR(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), step_size=1)
    assert math.isinf(optim.ReduceLROnPlateau(opt).best)
