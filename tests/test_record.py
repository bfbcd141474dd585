"""The recorded training step (biograd.record_step) against the eager step, which is the reference.

Each case trains two copies of the same model from the same weights and the same random stream: one with
``record_step`` (one eager recorded step, then replays), one with the plain eager loop
(zero_grad, loss.backward(), step). Their losses and weights must agree to float32 rounding after every
step, for every layer, loss and optimizer, with dropout. The eager engine itself is checked against
PyTorch elsewhere; one case here also goes to PyTorch directly. Then every fallback must trigger.
"""

from __future__ import annotations

import numpy as np
import pytest

import biograd
from biograd import functional as F
from biograd import nn, optim

N_STEPS = 6


def _close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-7)


def _batches(shape, y_kind: str, n: int = N_STEPS, seed: int = 0, n_out: int = 3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.normal(size=shape).astype(np.float32)
        if y_kind == "labels":
            y = rng.integers(0, n_out, size=shape[0])
        elif y_kind == "binary":
            y = rng.integers(0, 2, size=(shape[0], n_out)).astype(np.float32)
        else:
            y = rng.normal(size=(shape[0], n_out)).astype(np.float32)
        out.append((x, y))
    return out


def _eager_step(model, loss_fn, opt, x, y) -> float:
    opt.zero_grad()
    loss = loss_fn(model(biograd.tensor(x)), y)
    value = loss.item()
    loss.backward()
    opt.step()
    return value


def _compare(make_model, loss_fn, make_opt, batches, seed: int = 7):
    """Train a recorded and an eager copy on the same batches; assert equal losses and weights."""
    biograd.manual_seed(123)
    recorded = make_model()
    biograd.manual_seed(123)
    eager = make_model()
    step = biograd.record_step(recorded, loss_fn, make_opt(recorded))
    opt = make_opt(eager)
    biograd.manual_seed(seed)
    rec_losses = [step(x, y) for x, y in batches]
    biograd.manual_seed(seed)
    eager_losses = [_eager_step(eager, loss_fn, opt, x, y) for x, y in batches]
    _close(np.array(rec_losses), np.array(eager_losses))
    for (_name, p), (_, q) in zip(recorded.named_parameters(), eager.named_parameters(), strict=True):
        _close(p.data, q.data)
        _close(p.grad, q.grad)
    return step, recorded, eager, opt


# --------------------------------------------------------------------------------------------------
# Same numbers: layers, losses, optimizers
# --------------------------------------------------------------------------------------------------

LAYERS = {
    "mlp_relu": (lambda: nn.MLP([4, 8, 8, 3]), (16, 4)),
    "tanh_sigmoid": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 3)),
        (16, 4),
    ),
    "leaky_gelu": (
        lambda: nn.Sequential(
            nn.Linear(4, 8), nn.LeakyReLU(0.1), nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 3)
        ),
        (16, 4),
    ),
    "gelu_tanh_identity": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU("tanh"), nn.Identity(), nn.Linear(8, 3)),
        (16, 4),
    ),
    "dropout": (lambda: nn.MLP([4, 16, 16, 3], dropout=0.3), (16, 4)),
    "flatten_first": (
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)),
        (16, 2, 4),
    ),
    "conv_maxpool": (
        lambda: nn.Sequential(
            nn.Conv1d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2), nn.Flatten(), nn.Linear(6 * 5, 3)
        ),
        (8, 4, 10),
    ),
    "conv_global_pool": (
        lambda: nn.Sequential(nn.Conv1d(4, 8, 5, stride=2), nn.ReLU(), nn.GlobalMaxPool1d(), nn.Linear(8, 3)),
        (8, 4, 21),
    ),
    "conv_dropout_same": (
        lambda: nn.Sequential(
            nn.Conv1d(4, 5, 4, padding="same"),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.GlobalMaxPool1d(),
            nn.Linear(5, 3),
        ),
        (8, 4, 12),
    ),
    "softmax_layer": (lambda: nn.Sequential(nn.Linear(4, 8), nn.Softmax(axis=1), nn.Linear(8, 3)), (16, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_gives_the_eager_weights(name):
    make_model, shape = LAYERS[name]
    batches = _batches(shape, "labels")
    step, *_ = _compare(
        make_model, nn.CrossEntropyLoss(), lambda m: optim.Adam(m.parameters(), lr=1e-2), batches
    )
    assert step.counts == {"recorded": 1, "replayed": N_STEPS - 1, "eager": 0}, step.reason


def _neuron_model():
    return nn.Neuron(4, activation="tanh")


def test_neuron_and_mse_on_a_vector_output():
    batches = [(x, y[:, 0]) for x, y in _batches((16, 4), "values")]
    step, *_ = _compare(_neuron_model, nn.MSELoss(), lambda m: optim.SGD(m.parameters(), lr=0.1), batches)
    assert step.counts["replayed"] == N_STEPS - 1


def _mse_penalty_free(out, y):
    return ((out - y) ** 2).mean() * 0.5


LOSSES = {
    "mse": (nn.MSELoss(), "values", None),
    "mse_sum": (nn.MSELoss(reduction="sum"), "values", None),
    "l1": (nn.L1Loss(), "values", None),
    "bce_with_logits": (
        nn.BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 0.5], weight=[1.0, 0.5, 2.0]),
        "binary",
        None,
    ),
    "bce": (nn.BCELoss(), "binary", nn.Sigmoid),
    "cross_entropy": (nn.CrossEntropyLoss(), "labels", None),
    "cross_entropy_weighted_sum": (
        nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5], reduction="sum"),
        "labels",
        None,
    ),
    "cross_entropy_smoothing": (nn.CrossEntropyLoss(label_smoothing=0.1), "labels", None),
    "nll": (nn.NLLLoss(weight=[1.0, 3.0, 1.0]), "labels", nn.LogSoftmax),
    "custom_function": (_mse_penalty_free, "values", None),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_gives_the_eager_weights(name):
    loss_fn, y_kind, last = LOSSES[name]

    def make_model():
        layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)]
        return nn.Sequential(*layers, *([last()] if last else []))

    step, *_ = _compare(
        make_model, loss_fn, lambda m: optim.SGD(m.parameters(), lr=0.05), _batches((16, 4), y_kind)
    )
    assert step.counts == {"recorded": 1, "replayed": N_STEPS - 1, "eager": 0}, step.reason


def test_float_labels_holding_whole_numbers_replay_like_eager():
    batches = [(x, y.astype(np.float32)) for x, y in _batches((16, 4), "labels")]
    step, *_ = _compare(
        lambda: nn.MLP([4, 8, 3]), nn.CrossEntropyLoss(), lambda m: optim.SGD(m.parameters()), batches
    )
    assert step.counts["replayed"] == N_STEPS - 1


OPTIMIZERS = {
    "sgd": lambda m: optim.SGD(m.parameters(), lr=0.05),
    "sgd_momentum": lambda m: optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
    "sgd_nesterov_decay": lambda m: optim.SGD(
        m.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "sgd_dampening": lambda m: optim.SGD(
        m.parameters(), lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1
    ),
    "adam": lambda m: optim.Adam(m.parameters(), lr=1e-2),
    "adam_decay_amsgrad": lambda m: optim.Adam(m.parameters(), lr=1e-2, weight_decay=0.1, amsgrad=True),
    "adamw": lambda m: optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1),
    "rmsprop_centered_momentum": lambda m: optim.RMSprop(
        m.parameters(), lr=1e-3, centered=True, momentum=0.9
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_gives_the_eager_weights_and_state(name):
    step, _recorded, _eager, opt = _compare(
        lambda: nn.MLP([4, 8, 8, 3]), nn.CrossEntropyLoss(), OPTIMIZERS[name], _batches((16, 4), "labels")
    )
    assert step.counts["replayed"] == N_STEPS - 1
    mine, theirs = step.optimizer.state_dict(), opt.state_dict()
    assert mine["param_groups"] == theirs["param_groups"]
    for i, entries in theirs["state"].items():
        assert set(mine["state"][i]) == set(entries)
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                _close(mine["state"][i][key], value)
            else:
                assert mine["state"][i][key] == value


def test_a_large_model_goes_through_the_chunked_update():
    # 80 x 80 weights: above the optimizer's chunking threshold, plain SGD without scratch
    batches = _batches((8, 80), "labels")
    _compare(lambda: nn.MLP([80, 80, 3]), nn.CrossEntropyLoss(), lambda m: optim.SGD(m.parameters()), batches)


def test_a_scheduler_changing_lr_is_followed():
    biograd.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    twin = nn.MLP([4, 8, 3])
    twin.load_state_dict(model.state_dict())
    opt, opt2 = optim.SGD(model.parameters(), lr=0.1), optim.SGD(twin.parameters(), lr=0.1)
    sched, sched2 = optim.StepLR(opt, 1, gamma=0.5), optim.StepLR(opt2, 1, gamma=0.5)
    step = biograd.record_step(model, nn.CrossEntropyLoss(), opt)
    for x, y in _batches((16, 4), "labels"):
        step(x, y)
        _eager_step(twin, nn.CrossEntropyLoss(), opt2, x, y)
        sched.step()
        sched2.step()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        _close(p.data, q.data)
    assert step.counts["replayed"] == N_STEPS - 1


def test_recorded_steps_match_pytorch():
    torch = pytest.importorskip("torch")
    biograd.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for tp, (_, p) in zip(tmodel.parameters(), model.named_parameters(), strict=True):
            tp.copy_(torch.from_numpy(p.data.copy()))
    step = biograd.record_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2))
    topt = torch.optim.Adam(tmodel.parameters(), lr=1e-2)
    for x, y in _batches((16, 4), "labels", n=8):
        loss = step(x, y)
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
        tloss.backward()
        topt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-5)
    for tp, p in zip(tmodel.parameters(), model.parameters(), strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-4, atol=1e-6)
    assert step.counts["replayed"] == 7


def test_parameters_become_views_of_one_flat_array_with_their_values():
    biograd.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    before = {k: v.copy() for k, v in model.state_dict().items()}
    step = biograd.record_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e-9))
    x, y = _batches((16, 4), "labels", n=1)[0]
    step(x, y)
    bases = [p.data.base for p in model.parameters()]
    assert bases[0] is not None and all(b is bases[0] for b in bases)
    grads = [p.grad.base for p in model.parameters()]
    assert grads[0] is not None and all(g is grads[0] for g in grads)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, before[name], atol=1e-6)


# --------------------------------------------------------------------------------------------------
# Fallbacks: each must make the step run eagerly, and the weights must stay the eager ones
# --------------------------------------------------------------------------------------------------


def _pair(
    make_model=lambda: nn.MLP([4, 8, 8, 3], dropout=0.2),
    make_opt=lambda m: optim.Adam(m.parameters(), lr=1e-2),
):
    biograd.manual_seed(1)
    model = make_model()
    biograd.manual_seed(1)
    twin = make_model()
    loss_fn = nn.CrossEntropyLoss()
    return biograd.record_step(model, loss_fn, make_opt(model)), model, twin, make_opt(twin), loss_fn


def _same(model, twin):
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        _close(p.data, q.data)


def test_a_short_batch_runs_eagerly_and_the_full_batches_replay():
    step, model, twin, opt, loss_fn = _pair()
    batches = _batches((16, 4), "labels", n=4)
    x_short, y_short = batches[1][0][:5], batches[1][1][:5]
    plan = [batches[0], batches[1], (x_short, y_short), batches[2], batches[3]]
    biograd.manual_seed(3)
    paths = []
    for x, y in plan:
        step(x, y)
        paths.append(step.path)
    biograd.manual_seed(3)
    for x, y in plan:
        _eager_step(twin, loss_fn, opt, x, y)
    assert paths == ["recorded", "replayed", "eager", "replayed", "replayed"]
    _same(model, twin)


def test_a_new_shape_seen_repeatedly_is_recorded_in_place_of_the_old():
    step, _model, _twin, _opt, _loss_fn = _pair()
    small = _batches((5, 4), "labels", n=5)
    big = _batches((16, 4), "labels", n=1)
    paths = []
    for x, y in big + small:
        step(x, y)
        paths.append(step.path)
    assert paths == ["recorded", "eager", "eager", "recorded", "replayed", "replayed"]


@pytest.mark.parametrize(
    "change",
    ["eval", "load_state_dict", "freeze", "to_float64", "append_layer", "hook", "optimizer_state"],
)
def test_every_model_or_optimizer_change_falls_back_then_records_again(change):
    step, model, twin, opt, loss_fn = _pair(
        make_model=lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    )
    batches = _batches((16, 4), "labels", n=5)
    biograd.manual_seed(3)
    for x, y in batches[:2]:
        step(x, y)
    assert step.path == "replayed"
    biograd.manual_seed(3)
    for x, y in batches[:2]:
        _eager_step(twin, loss_fn, opt, x, y)

    state = {k: v.copy() for k, v in twin.state_dict().items()}
    for m in (model, twin):
        if change == "eval":
            m.eval()
        elif change == "load_state_dict":
            m.load_state_dict(state)
        elif change == "freeze":
            m[0].weight.requires_grad = False
        elif change == "to_float64":
            m.double()
        elif change == "append_layer":
            m.append(nn.Identity())
        elif change == "hook":
            object.__setattr__(m[1], "forward", lambda x: F.relu(x) * 1.0)
    if change == "optimizer_state":
        step.optimizer.load_state_dict(opt.state_dict())
    x, y = batches[2]
    if change == "to_float64":
        x = x.astype(np.float64)
    biograd.manual_seed(4)
    step(x, y)
    assert step.path == "eager", change
    assert step.reason
    step(*batches[3])
    expected_next = "eager" if change == "hook" else "recorded"
    assert step.path == expected_next, (change, step.reason)
    if change == "hook":
        assert "hook" in step.reason or "forward" in step.reason
    biograd.manual_seed(4)
    _eager_step(twin, loss_fn, opt, x, y)
    _eager_step(twin, loss_fn, opt, *batches[3])
    _same(model, twin)
    if change == "freeze":
        np.testing.assert_array_equal(model[0].weight.data, state["0.weight"])


def test_no_grad_runs_eagerly_and_fails_like_the_eager_step():
    step, _model, *_ = _pair()
    x, y = _batches((16, 4), "labels", n=1)[0]
    step(x, y)
    with biograd.no_grad(), pytest.raises(RuntimeError, match="does not require gradients"):
        step(x, y)
    assert step.path == "eager" and "no_grad" in step.reason


def test_a_trace_sees_an_eager_step():
    step, _model, *_ = _pair()
    x, y = _batches((16, 4), "labels", n=1)[0]
    step(x, y)
    with biograd.trace() as t:
        step(x, y)
    assert step.path == "eager" and "trace" in step.reason
    assert len(t) > 0
    step(x, y)
    assert step.path == "replayed"


def test_labels_out_of_range_get_the_eager_error():
    step, *_ = _pair()
    x, y = _batches((16, 4), "labels", n=1)[0]
    step(x, y)
    bad = y.copy()
    bad[3] = 7
    with pytest.raises(ValueError, match="labels must be integers in"):
        step(x, bad)
    assert step.path == "eager"


class _Gated(nn.Module):
    """Uses biograd.where with a condition computed from the batch: cannot be replayed."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        z = self.lin(x)
        return biograd.where(z.data > 0, z, z * 0.1)


class _ArrayFromData(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x) * (x.data[:, :3] > 0)  # an array made from this batch's values


def _penalized(model):
    def loss(out, y):
        return F.cross_entropy(out, y) + 0.01 * (model[0].weight ** 2).sum()

    return loss


@pytest.mark.parametrize("case", ["where", "array_from_data", "loss_with_penalty"])
def test_what_cannot_be_recorded_runs_eagerly_with_the_reason(case):
    if case == "loss_with_penalty":
        make = lambda: nn.MLP([4, 8, 3])  # noqa: E731
    else:
        make = {"where": _Gated, "array_from_data": _ArrayFromData}[case]
    biograd.manual_seed(0)
    model, twin = make(), make()
    twin.load_state_dict(model.state_dict())
    loss_fn = _penalized(model) if case == "loss_with_penalty" else nn.CrossEntropyLoss()
    twin_loss = _penalized(twin) if case == "loss_with_penalty" else nn.CrossEntropyLoss()
    step = biograd.record_step(model, loss_fn, optim.SGD(model.parameters(), lr=0.1))
    opt = optim.SGD(twin.parameters(), lr=0.1)
    for x, y in _batches((16, 4), "labels", n=3):
        step(x, y)
        _eager_step(twin, twin_loss, opt, x, y)
        assert step.path == "eager", case
    assert step.counts == {"recorded": 0, "replayed": 0, "eager": 3}
    assert step.reason
    assert step.reason in str(step)
    _same(model, twin)


# --------------------------------------------------------------------------------------------------
# Readable: the tape printed as the chain rule
# --------------------------------------------------------------------------------------------------


def test_print_shows_the_tape_as_the_chain_rule():
    step, _model, *_ = _pair()
    assert "first call records" in str(step)
    x, y = _batches((16, 4), "labels", n=1)[0]
    step(x, y)
    text = str(step)
    assert "v1 = Linear(x, 0.weight, 0.bias)" in text
    assert "new dropout mask, p=0.2" in text
    assert "L = CrossEntropy(out; labels y)" in text
    assert "dL/d0.weight = dL/dv1 * x" in text
    assert "dL/dv1 = dL/dv2 * (1 if v1 > 0 else 0)" in text
    assert "Adam on one flat array of" in text
    assert text.index("forward") < text.index("loss") < text.index("backward") < text.index("update")
    assert repr(step).startswith("<RecordedStep of MLP: 1 recorded")


def test_bad_arguments_are_explained():
    model = nn.MLP([2, 3])
    with pytest.raises(TypeError, match="biograd Module"):
        biograd.record_step(object(), nn.MSELoss(), optim.SGD(model.parameters()))
    with pytest.raises(TypeError, match="loss function"):
        biograd.record_step(model, 3, optim.SGD(model.parameters()))
    with pytest.raises(TypeError, match="biograd optimizer"):
        biograd.record_step(model, nn.MSELoss(), "adam")
    step = biograd.record_step(model, lambda out, y: out, optim.SGD(model.parameters()))
    with pytest.raises(TypeError, match="one number"):
        step(np.zeros((4, 2), np.float32), np.zeros(4))


def test_a_target_tensor_made_before_the_model_runs_is_part_of_the_loss():
    # fit passes regression targets as tensors created before model(x): they belong to the loss
    batches = [(x, biograd.tensor(y)) for x, y in _batches((16, 4), "values")]
    step, *_ = _compare(lambda: nn.MLP([4, 8, 3]), nn.MSELoss(), lambda m: optim.SGD(m.parameters()), batches)
    assert step.counts["replayed"] == N_STEPS - 1


def test_non_finite_logits_give_the_eager_loss_and_gradients():
    def make_model():
        model = nn.MLP([4, 3])
        model[0].weight.data[0] = 3e38  # overflows to inf for some rows
        return model

    biograd.manual_seed(0)
    model, twin = make_model(), make_model()
    twin.load_state_dict(model.state_dict())
    step = biograd.record_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e-3))
    opt = optim.SGD(twin.parameters(), lr=1e-3)
    with np.errstate(all="ignore"):
        for x, y in _batches((16, 4), "labels", n=3):
            mine, theirs = step(x, y), _eager_step(twin, nn.CrossEntropyLoss(), opt, x, y)
            np.testing.assert_array_equal(mine, theirs)
            assert not np.isfinite(mine)
    assert step.counts["replayed"] == 2
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad)
