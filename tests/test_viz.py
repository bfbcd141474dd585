"""biograd.viz: SVG that parses, one circle per neuron and one line per weight, backprop numbers equal to the
engine's gradients and to PyTorch's, non-blank PNG/GIF files, and every plot runs headless (Agg)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import matplotlib
import numpy as np
import pytest

import biograd
from biograd import nn, viz
from torch_oracle import needs_torch, torch

matplotlib.use("Agg")

SVG = "{http://www.w3.org/2000/svg}"


def _elements(svg: str, tag: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [e for e in root.iter(f"{SVG}{tag}") if cls in (e.get("class") or "").split()]


def _pixels_vary(path) -> float:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.float64)
    return float(arr.std())


def test_import_biograd_does_not_import_matplotlib():
    code = "import sys, biograd, biograd.viz; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_biograd_viz_is_there_after_import_biograd_but_loaded_lazily():
    code = (
        "import sys, biograd; lazy = 'biograd.viz' not in sys.modules; "
        "print(lazy, callable(biograd.viz.network), 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]
    with pytest.raises(AttributeError, match="no attribute 'vizz'"):
        biograd.vizz  # a typo must not pass silently


# -- computational graph ----------------------------------------------------------------------------


def test_graph_of_sin_x_squared_shows_chain_rule_gradients():
    x = biograd.tensor(1.5, requires_grad=True, name="x")
    u = x**2
    u.name = "u"
    y = u.sin()
    y.name = "y"
    with pytest.warns(UserWarning, match="backward"):
        before = viz.graph(y)
    assert "dL/d" in before.svg and "grad   (after backward)" in before.svg
    with biograd.trace() as t:
        y.backward()
    pic = viz.graph(y, trace=t)
    ET.fromstring(pic.svg)  # parses as XML
    assert len(_elements(pic.svg, "rect", "value-node")) == 3  # x, u, y
    assert len(_elements(pic.svg, "circle", "op-node")) == 2  # Pow, Sin
    # closed forms: du/dx = 2x, dy/du = cos(u), dy/dx = cos(x^2) 2x
    assert f"grad   {np.cos(2.25) * 3.0:.4g}" in pic.svg
    assert f"grad   {np.cos(2.25):.4g}" in pic.svg
    # after backward the graph kept on y draws the same nodes and gradients without the trace
    after = viz.graph(y)
    assert len(_elements(after.svg, "rect", "value-node")) == 3
    assert len(_elements(after.svg, "circle", "op-node")) == 2
    assert f"grad   {np.cos(2.25) * 3.0:.4g}" in after.svg and f"grad   {np.cos(2.25):.4g}" in after.svg


def test_graph_after_backward_shows_every_gradient_without_a_trace():
    # compute, backpropagate, draw: the order a user tries. f = sum(tanh(w * x + b)), so by hand
    # df/dz = 1 - tanh(z)^2, df/dw = x (1 - tanh(z)^2), df/db = 1 - tanh(z)^2, df/dp = 1 for p = w*x.
    x = biograd.tensor(np.array([0.3, -1.2], dtype=np.float64), name="x")
    w = biograd.tensor(np.array([0.7, 0.4], dtype=np.float64), requires_grad=True, name="w")
    b = biograd.tensor(np.array([0.1, -0.2], dtype=np.float64), requires_grad=True, name="b")
    p = w * x
    p.name = "p"
    z = p + b
    z.name = "z"
    f = z.tanh().sum()
    f.name = "f"
    f.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every gradient is known: no 'backward() has not been called'
        pic = viz.graph(f)
    ET.fromstring(pic.svg)
    assert len(_elements(pic.svg, "rect", "value-node")) == 7  # x, w, p, b, z, tanh(z), f
    zv = np.array([0.7 * 0.3 + 0.1, 0.4 * -1.2 - 0.2])
    dz = 1 - np.tanh(zv) ** 2
    shown = re.findall(r">grad   ([^<]*)<", pic.svg)
    for grad in (dz, np.array([0.3, -1.2]) * dz, np.ones(2)):  # z, p and b share dz; w; tanh(z)
        assert "[" + ", ".join(f"{v:.3g}" for v in grad) + "]" in shown
    assert shown.count("[" + ", ".join(f"{v:.3g}" for v in dz) + "]") == 3  # p, b, z
    assert "1" in shown and "not needed (data)" in shown  # df/df; x is data


def test_graph_after_backward_of_a_large_graph_says_how_to_draw_it():
    from biograd.backward import DRAWING_BUDGET

    w = biograd.tensor(np.ones((DRAWING_BUDGET, 2), dtype=np.float32), requires_grad=True)
    loss = (w * 2.0).sum()
    loss.backward()
    np.testing.assert_allclose(w.grad, 2.0)
    with pytest.raises(RuntimeError, match=r"too large to keep.*trace=t"):
        viz.graph(loss)


def test_graph_of_one_neuron_labels_parameters(tmp_path):
    biograd.manual_seed(0)
    neuron = nn.Neuron(2, activation="sigmoid")
    loss = ((neuron(biograd.tensor([[1.0, 2.0]], name="x")) - 1.0) ** 2).mean()
    with biograd.trace() as t:
        loss.backward()
    pic = viz.graph(loss, trace=t, model=neuron)
    assert ">weight<" in pic.svg and ">bias<" in pic.svg and ">x<" in pic.svg
    for suffix in ("svg", "html", "png"):
        path = pic.save(tmp_path / f"g.{suffix}")
        assert path.stat().st_size > 500
    assert _pixels_vary(tmp_path / "g.png") > 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gradients are known: no warning
        viz.graph(loss, trace=t)


# -- network diagrams -------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[3, 4, 2], [2, 5, 3, 1]])
def test_network_has_one_circle_per_neuron_and_one_line_per_weight(sizes):
    biograd.manual_seed(1)
    model = nn.MLP(sizes, activation="tanh")
    pic = viz.network(model, x=np.linspace(-1, 1, sizes[0]))
    ET.fromstring(pic.svg)
    assert len(_elements(pic.svg, "circle", "neuron")) == sum(sizes[1:])
    assert len(_elements(pic.svg, "circle", "input-node")) == sizes[0]
    lines = _elements(pic.svg, "line", "weight")
    assert len(lines) == sum(a * b for a, b in itertools.pairwise(sizes))
    # each line carries its weight: compare with the model's weight matrices
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for line in lines:
        w = linears[int(line.get("data-layer")) - 1].weight.data
        k, j = int(line.get("data-to")) - 1, int(line.get("data-from")) - 1
        assert float(line.get("data-value")) == pytest.approx(float(w[k, j]), rel=1e-6)
        assert (line.get("stroke-dasharray") is not None) == (w[k, j] < 0)  # sign is also the dash


def test_network_activations_match_the_model_and_gradients_mode():
    biograd.manual_seed(2)
    model = nn.MLP([3, 4, 2], activation="relu")
    x = np.array([0.5, -1.0, 2.0])
    pic = viz.network(model, x=x, show="activations")
    neurons = _elements(pic.svg, "circle", "neuron")
    hidden = model[1](model[0](biograd.tensor(x[None, :]))).data.ravel()
    out = model(biograd.tensor(x[None, :])).data.ravel()
    got = [float(c.get("data-activation")) for c in neurons]
    np.testing.assert_allclose(got, np.concatenate([hidden, out]), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="backward"):
        viz.network(model, show="gradients")
    nn.CrossEntropyLoss()(model(x[None, :]), [1]).backward()
    grads = viz.network(model, show="gradients")
    lines = _elements(grads.svg, "line", "weight")
    g0 = model[0].weight.grad
    first = [ln for ln in lines if ln.get("data-layer") == "1"]
    assert sorted(float(ln.get("data-value")) for ln in first) == pytest.approx(sorted(g0.ravel().tolist()))


def test_network_large_layers_become_heatmaps_and_single_neuron_works(tmp_path):
    biograd.manual_seed(0)
    pic = viz.network(nn.MLP([20, 32, 3]))
    assert not _elements(pic.svg, "line", "weight")  # no hairball
    assert len(_elements(pic.svg, "rect", "weight-cell")) == 32 * 20 + 3 * 32
    single = viz.network(nn.Neuron(3, activation="sigmoid"), x=[1.0, 2.0, 3.0])
    assert len(_elements(single.svg, "circle", "neuron")) == 1
    assert len(_elements(single.svg, "line", "weight")) == 3
    single.save(tmp_path / "n.png")
    assert _pixels_vary(tmp_path / "n.png") > 5
    with pytest.raises(ValueError, match="show"):
        viz.network(nn.Neuron(2), show="weight")
    with pytest.raises(ValueError, match="one sample"):
        viz.network(nn.MLP([2, 3, 1]), x=np.ones((4, 2)))


# -- backprop step by step --------------------------------------------------------------------------


def _page_data(page: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="biograd-backprop-data">(.*?)</script>', page, re.S
    )
    assert match, "the page embeds its numbers as JSON"
    return json.loads(match.group(1).replace("<\\/", "</"))


def _torch_step(model, x, y, loss_name, lr):
    """The same step in PyTorch float64: gradients and updated weights per Linear layer."""

    linears = [m for m in model if isinstance(m, nn.Linear)]
    acts = {"ReLU": torch.relu, "Tanh": torch.tanh, "Sigmoid": torch.sigmoid}
    params = []
    for lin in linears:
        params.append(
            (
                torch.tensor(lin.weight.data, dtype=torch.float64, requires_grad=True),
                torch.tensor(lin.bias.data, dtype=torch.float64, requires_grad=True),
            )
        )
    h = torch.tensor(np.asarray(x, dtype=np.float64)[None, :])
    modules = list(model)
    li = 0
    for m in modules:
        if isinstance(m, nn.Linear):
            w, b = params[li]
            h = h @ w.T + b
            li += 1
        else:
            h = acts[type(m).__name__](h)
    if loss_name == "mse":
        loss = ((h - torch.tensor(np.asarray(y, dtype=np.float64).reshape(h.shape))) ** 2).mean()
    else:
        loss = torch.nn.functional.cross_entropy(h, torch.tensor([int(y)]))
    loss.backward()
    return loss.item(), [
        (w.grad.numpy(), b.grad.numpy(), (w - lr * w.grad).detach().numpy()) for w, b in params
    ]


@needs_torch
@pytest.mark.parametrize(
    "sizes, act, loss_fn, y, loss_name",
    [
        ([2, 3, 1], "relu", nn.MSELoss(), [0.7], "mse"),
        ([3, 4, 3], "tanh", nn.CrossEntropyLoss(), 2, "ce"),
        ([2, 2, 2, 1], "sigmoid", nn.MSELoss(), [1.5], "mse"),
    ],
)
def test_backprop_page_numbers_equal_engine_and_torch(tmp_path, sizes, act, loss_fn, y, loss_name):
    biograd.manual_seed(4)
    model = nn.MLP(sizes, activation=act).double()
    x = np.linspace(-1.0, 1.5, sizes[0])
    lr = 0.1
    before = {k: v.copy() for k, v in model.state_dict().items()}
    steps = viz.backprop(model, x, y, loss_fn, lr=lr)
    for k, v in model.state_dict().items():  # the model itself is untouched
        np.testing.assert_array_equal(v, before[k])
    path = steps.save(tmp_path / "step.html")
    page = path.read_text()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained, no CDN
    data = _page_data(page)["numbers"]

    # the engine on its own: a fresh copy, loss.backward(), .grad
    engine = nn.MLP(sizes, activation=act).double()
    engine.load_state_dict(before)
    target = np.array([y]) if loss_name == "ce" else np.asarray(y, dtype=np.float64).reshape(1, -1)
    loss = loss_fn(engine(x[None, :]), target)
    loss.backward()
    torch_loss, torch_grads = _torch_step(engine, x, y, loss_name, lr)
    assert data["loss"] == pytest.approx(float(loss.data), rel=1e-12)
    assert data["loss"] == pytest.approx(torch_loss, rel=1e-9)
    linears = [m for m in engine if isinstance(m, nn.Linear)]
    for layer, lin, (tw, tb, tw_after) in zip(data["layers"], linears, torch_grads, strict=True):
        np.testing.assert_allclose(layer["dL_dW"], lin.weight.grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer["dL_db"], lin.bias.grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer["dL_dW"], tw, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer["dL_db"], tb, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer["W_after"], tw_after, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer["W_after"], lin.weight.data - lr * lin.weight.grad, rtol=1e-12)
        # delta is dL/dz, and dL/dW is the outer product delta x (input activation)
        np.testing.assert_allclose(layer["dL_db"], layer["delta"], rtol=1e-12)
    # the same numbers sit on the drawn lines (data-grad) of the page's SVG
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    for line in _elements(svg, "line", "weight"):
        li, k, j = (int(line.get(a)) - 1 for a in ("data-layer", "data-to", "data-from"))
        assert float(line.get("data-grad")) == pytest.approx(torch_grads[li][0][k, j], rel=1e-9, abs=1e-12)
    # frames: forward per neuron, loss, backward per neuron, update per neuron, plus start and end
    n_neurons = sum(sizes[1:])
    assert len(steps) == 1 + n_neurons + 1 + n_neurons + n_neurons + 1
    stages = [f["stage"] for f in steps.frames]
    assert stages.index("loss") < stages.index("backward") < stages.index("update")


def test_backprop_single_neuron_inplace_and_exports(tmp_path):
    biograd.manual_seed(0)
    neuron = nn.Neuron(2, activation="sigmoid").double()
    w0 = neuron.weight.data.copy()
    steps = viz.backprop(neuron, [1.0, -2.0], [1.0], nn.MSELoss(), lr=0.5, inplace=True)
    grad = np.asarray(steps.numbers["layers"][0]["dL_dW"]).ravel()
    np.testing.assert_allclose(neuron.weight.data, w0 - 0.5 * grad, rtol=1e-12)
    # closed form for one sigmoid neuron and squared error: dL/dw = 2 (a - y) a (1 - a) x
    a = 1 / (1 + np.exp(-(w0 @ np.array([1.0, -2.0]))))
    np.testing.assert_allclose(grad, 2 * (a - 1.0) * a * (1 - a) * np.array([1.0, -2.0]), rtol=1e-10)
    assert steps.numbers["loss_after"] < steps.numbers["loss"]
    pngs = steps.save(tmp_path / "frame.png")
    assert len(pngs) == len(steps) and all(_pixels_vary(p) > 5 for p in pngs)
    gif = steps.save(tmp_path / "step.gif")
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == len(steps)
    assert _pixels_vary(gif) > 5


def test_backprop_errors_speak_in_user_terms():
    model = nn.MLP([2, 3, 1])
    with pytest.raises(ValueError, match="'lr' parameter of backprop must be > 0"):
        viz.backprop(model, [1.0, 2.0], [1.0], nn.MSELoss(), lr=-1)
    with pytest.raises(ValueError, match="one value per network output"):
        viz.backprop(model, [1.0, 2.0], [1.0, 2.0], nn.MSELoss())
    with pytest.raises(ValueError, match="at most 16 neurons"):
        viz.backprop(nn.MLP([2, 40, 1]), [1.0, 2.0], [1.0], nn.MSELoss())


# -- plots ------------------------------------------------------------------------------------------


def _check_figure(fig, tmp_path, name):
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        assert ax.get_title() or fig._suptitle is not None, "every plot has a title"
        assert ax.get_xlabel(), "every axis is labelled"
        if len([ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]) > 1:
            assert ax.get_legend() is not None or fig.axes[0].get_legend() is not None or fig.legends
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert _pixels_vary(path) > 5


@pytest.mark.parametrize(
    "name",
    [
        "activation_functions",
        "gradient_descent_variants",
        "learning_rates",
        "optimizer_paths",
        "regression_fit",
        "fitting_regimes",
    ],
)
def test_teaching_plots_run_headless(tmp_path, name):
    _check_figure(getattr(viz, name)(), tmp_path, name)
    assert matplotlib.get_backend().lower() == "agg"


@needs_torch
def test_activation_derivatives_come_from_the_engine_and_match_torch():

    fig = viz.activation_functions()
    z = torch.linspace(-4, 4, 401, dtype=torch.float64, requires_grad=True)
    fns = [
        torch.relu,
        torch.sigmoid,
        torch.tanh,
        lambda t: torch.nn.functional.leaky_relu(t, 0.1),
        torch.nn.functional.gelu,
    ]
    for ax, fn in zip(fig.axes, fns, strict=True):
        z.grad = None
        fn(z).sum().backward()
        derivative = ax.get_lines()[3].get_ydata()  # two axis lines, then f, then f'
        np.testing.assert_allclose(derivative, z.grad.numpy(), atol=1e-9)


def test_learning_rate_plot_marks_divergence():
    fig = viz.learning_rates()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("diverged" in t for t in labels) and sum("diverged" in t for t in labels) == 1


def test_loss_curves_and_decision_boundary_from_a_real_fit(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(160, 2))
    y = (x[:, 0] ** 2 + x[:, 1] > 0.5).astype(int)
    biograd.manual_seed(0)
    model = nn.MLP([2, 16, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = biograd.fit(model, x, y, epochs=40, verbose=False, seed=0)
    _check_figure(viz.loss_curves(history), tmp_path, "loss")
    _check_figure(viz.decision_boundary(model, x, y), tmp_path, "boundary")
    with pytest.raises(ValueError, match="2 features"):
        viz.decision_boundary(model, np.ones((5, 3)), np.zeros(5))


def test_loss_curves_shade_overfitting_and_mark_early_stop(tmp_path):
    history = biograd.History(monitor="val_loss")
    for epoch, (tr, va) in enumerate(
        zip(np.linspace(1, 0.1, 20), [*np.linspace(1, 0.4, 8), *np.linspace(0.42, 0.8, 12)], strict=True), 1
    ):
        history.record(epoch, {"loss": tr, "val_loss": va})
    history.stop_reason = "early_stopping"
    fig = viz.loss_curves(history)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("best epoch 8" in t for t in labels)
    assert any("overfitting" in t for t in labels) and any("early stop" in t for t in labels)
    _check_figure(fig, tmp_path, "overfit")


# -- what the pictures say in words and numbers -------------------------------------------------------


def test_weight_matrix_has_a_colorbar_with_the_largest_weight():
    """The heatmap's sign is shown by color, so its legend says which color is which and how large."""
    biograd.manual_seed(0)
    model = nn.MLP([20, 32, 3])
    svg = viz.network(model).svg
    largest = max(float(np.abs(m.weight.data).max()) for m in model if isinstance(m, nn.Linear))
    from biograd.viz._draw import fmt

    assert f">−{fmt(largest, 2)}<" in svg and f">+{fmt(largest, 2)}<" in svg
    assert "weight in a matrix cell" in svg
    assert len(_elements(svg, "rect", "colorbar")) == 9  # one scale: no neuron fill without x


@needs_torch
def test_graph_of_arrays_shows_shape_and_norm_of_value_and_gradient():

    biograd.manual_seed(0)
    layer = nn.Linear(4, 3)
    x = np.arange(8.0).reshape(2, 4) / 8
    loss = (layer(biograd.tensor(x)) ** 2).sum()
    with biograd.trace() as t:
        loss.backward()
    svg = viz.graph(loss, trace=t, model=layer).svg
    w = torch.tensor(layer.weight.data, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(layer.bias.data, dtype=torch.float64, requires_grad=True)
    ((torch.tensor(x) @ w.T + b) ** 2).sum().backward()
    assert f"value  shape (3, 4), ‖·‖ {np.linalg.norm(layer.weight.data):.3g}" in svg
    assert f"grad   shape (3, 4), ‖·‖ {float(w.grad.norm()):.3g}" in svg


def _numbers_after(line: str) -> float:
    return float(line.rsplit("=", 1)[1].split()[0])


@needs_torch
def test_formulas_on_the_frames_show_torchs_gradients_and_updates():
    """Read the numbers as a learner sees them (the formula text) and compare them with PyTorch."""
    biograd.manual_seed(4)
    model = nn.MLP([2, 3, 1], activation="tanh").double()
    x, y, lr = np.array([0.5, -1.2]), [0.3], 0.2
    steps = viz.backprop(model, x, y, nn.MSELoss(), lr=lr)
    _, torch_layers = _torch_step(model, x, y, "mse", lr)
    seen = 0
    for frame in steps.frames:
        layer = 0 if "hidden layer 1" in frame["title"] else 1
        k = int(re.search(r"neuron (\d+)", frame["title"]).group(1)) - 1 if "neuron" in frame["title"] else 0
        for line in frame["formula"].split("\n"):
            grad = re.match(r"dL/dw(\d+) = ", line)
            new = re.match(r"w(\d+) ← ", line)
            if frame["stage"] == "backward" and grad:
                expected = torch_layers[layer][0][k, int(grad.group(1)) - 1]
                assert _numbers_after(line) == pytest.approx(expected, rel=1e-3, abs=1e-4)
                seen += 1
            if frame["stage"] == "update" and new:
                expected = torch_layers[layer][2][k, int(new.group(1)) - 1]
                assert _numbers_after(line) == pytest.approx(expected, rel=1e-3, abs=1e-4)
                seen += 1
    assert seen == 2 * (2 * 3 + 3 * 1)  # every weight: its gradient and its new value


def test_update_frames_relabel_biases_with_the_new_values_and_frame_pictures():
    biograd.manual_seed(1)
    model = nn.MLP([2, 2, 1], activation="sigmoid").double()
    first_layer = model[0]
    first_layer.bias.data[:] = [0.25, -0.5]
    steps = viz.backprop(model, [1.0, 2.0], [0.0], nn.MSELoss(), lr=0.5)
    from biograd.viz._draw import fmt

    # before the update: the labels show the biases the forward pass used (not the updated ones)
    labels = {e.get("id"): e.text for e in _elements(steps.scene.to_svg(), "text", "bias-label")}
    assert labels["nb-1-1"] == "b=0.25" and labels["nb-1-2"] == "b=-0.5"
    # the closed form of the SGD update: b - lr * dL/db
    grad_b = np.asarray(steps.numbers["layers"][0]["dL_db"])
    new_b = first_layer.bias.data - 0.5 * grad_b
    last = steps.frames[-1]["state"]["text"]
    assert last["nb-1-1"] == f"b={fmt(new_b[0], 2)}" and last["nb-1-2"] == f"b={fmt(new_b[1], 2)}"
    first = steps.frames[0]["state"]["text"]
    assert "nb-1-1" not in first  # unchanged until its update frame
    pic = steps.frame(len(steps) - 1)
    assert isinstance(pic, viz.Picture) and "after the step" in pic.svg
    with pytest.raises(IndexError, match="frames"):
        steps.frame(len(steps))


def test_decision_boundary_colors_each_class_like_its_markers_and_names_classes(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(int)
    biograd.manual_seed(0)
    model = nn.MLP([2, 4, 2])
    fig = viz.decision_boundary(model, x, y, class_names=["benign", "malignant"])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["benign", "malignant"]
    from matplotlib.colors import to_hex

    shade = ax.collections[0]
    low, high = (to_hex(shade.cmap(v)) for v in (0.0, 1.0))
    markers = [to_hex(c.get_facecolor()[0]) for c in ax.collections if c.get_label() in labels]
    assert (low, high) == (markers[0], markers[1])  # class 0 region = class 0 markers, likewise class 1
    assert "malignant" in fig.axes[1].get_ylabel()
    _check_figure(fig, tmp_path, "named")
