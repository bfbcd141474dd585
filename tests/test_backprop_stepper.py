"""viz.backprop's frames teach with the right numbers: the loss written out (probabilities, -log p,
dL/dy_hat = p - y) against PyTorch, feature and class names, a note where an activation passes little
error back, a second forward pass after the update, hover texts and sign colours that follow the frame, and
weight labels that do not land on each other. (tests/test_backprop_browser.py measures the page in Chromium.)
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import biograd
from biograd import nn, viz
from biograd.viz._draw import BLUE, ORANGE, fmt
from biograd.viz.backprop_scene import _short

torch = pytest.importorskip("torch")


def _frame(steps, stage):
    return next(f for f in steps.frames if f["stage"] == stage)


def _torch_forward(steps, x, after=False):
    """The network of the step in PyTorch float64 (weights before or after the update): its output."""
    key = "W_after" if after else "W_before"
    h = torch.tensor(np.asarray(x, dtype=np.float64)[None, :])
    acts = {"Tanh": torch.tanh, "ReLU": torch.relu, "Sigmoid": torch.sigmoid, "no activation": lambda t: t}
    for layer in steps.numbers["layers"]:
        w = torch.tensor(layer[key], dtype=torch.float64)
        b = torch.tensor(layer["b_after" if after else "b_before"], dtype=torch.float64)
        h = acts[layer["activation"]](h @ w.T + b)
    return h


def test_cross_entropy_frame_shows_softmax_minus_log_p_and_p_minus_y_as_pytorch_computes_them():
    biograd.manual_seed(0)
    model = nn.MLP([2, 3, 2], activation="tanh").double()
    x, y = np.array([1.1, -2.1]), 1
    steps = viz.backprop(
        model, x, y, nn.CrossEntropyLoss(), lr=0.1, feature_names=["radius", "texture"],
        class_names=["benign", "malignant"],
    )  # fmt: skip
    logits = _torch_forward(steps, x).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y]))
    loss.backward()
    p = torch.softmax(logits, dim=1).detach().numpy().ravel()
    formula = _frame(steps, "loss")["formula"]
    assert f"softmax: p = exp(ŷ) / Σ exp(ŷ) = [{fmt(p[0])}, {fmt(p[1])}]" in formula
    assert f"P(1 (malignant)) = {fmt(p[1])}" in formula and "true class y = 1 (malignant)" in formula
    assert f"L = −log p[y] = −log({fmt(p[1])}) = {fmt(loss.item())}" in formula
    # dL/dy_hat = p - onehot(y): the closed form on the frame, the engine's gradient, PyTorch's gradient
    detail = steps.numbers["loss_detail"]
    np.testing.assert_allclose(detail["grad"], logits.grad.numpy().ravel(), rtol=1e-10)
    np.testing.assert_allclose(steps.numbers["dL_doutput"], logits.grad.numpy().ravel(), rtol=1e-10)
    shown = re.search(r"      = \[([^\]]+)\]", formula)[1]
    assert shown == ", ".join(fmt(v) for v in logits.grad.numpy().ravel())


def test_bce_with_logits_frame_shows_sigmoid_and_p_minus_y():
    biograd.manual_seed(2)
    model = nn.MLP([2, 3, 1]).double()
    x = np.array([0.3, -0.8])
    steps = viz.backprop(model, x, [1.0], nn.BCEWithLogitsLoss(), lr=0.5, class_names=["benign", "malignant"])
    logit = _torch_forward(steps, x).requires_grad_(True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
    loss.backward()
    p = torch.sigmoid(logit).item()
    formula = _frame(steps, "loss")["formula"]
    assert f"sigmoid: p = 1 / (1 + exp(−ŷ)) = {fmt(p)} = P(class 1 (malignant))" in formula
    assert f"= −log({fmt(p)}) = {fmt(loss.item())}" in formula
    assert f"dL/dŷ = p − y = {fmt(p)} − 1 = {fmt(logit.grad.item())}" in formula
    assert steps.numbers["loss_detail"]["grad"][0] == pytest.approx(logit.grad.item(), rel=1e-10)


def test_feature_names_are_drawn_and_written_and_checked():
    biograd.manual_seed(0)
    model = nn.MLP([2, 2, 1])
    steps = viz.backprop(model, [0.5, -1.0], [1.0], nn.MSELoss(), feature_names=["mean radius", "GC content"])
    svg = steps.scene.to_svg()
    assert re.findall(r'class="feature-name"[^>]*><title>([^<]+)</title>', svg) == [
        "mean radius",
        "GC content",
    ]
    first = steps.frames[0]["formula"]
    assert "x1 = 0.5   (mean radius)" in first and "x2 = -1   (GC content)" in first
    with pytest.raises(ValueError, match="feature_names has 1 names, but the network has 2 inputs"):
        viz.backprop(model, [0.5, -1.0], [1.0], nn.MSELoss(), feature_names=["only one"])


def test_a_saturated_activation_gets_a_comment_with_the_share_of_error_it_passes():
    model = nn.MLP([1, 1, 1], activation="tanh").double()
    model[0].weight.data[:] = 3.0  # z = 3 x = 3: tanh is flat there
    model[0].bias.data[:] = 0.0
    steps = viz.backprop(model, [1.0], [0.0], nn.MSELoss(), lr=0.1)
    slope = 1 - np.tanh(3.0) ** 2  # closed form: tanh'(z) = 1 - tanh(z)^2
    hidden = next(f for f in steps.frames if f["stage"] == "backward" and "hidden layer 1" in f["title"])
    assert f"act'(z) = {fmt(slope, 2)}: the Tanh is nearly flat at z = 3 (saturated)" in hidden["formula"]
    assert f"only {slope:.1%} of the error reaches z" in hidden["formula"]
    # a steep activation gets no such comment
    model[0].weight.data[:] = 0.1
    calm = viz.backprop(model, [1.0], [0.0], nn.MSELoss(), lr=0.1)
    assert not any("nearly flat" in f["formula"] for f in calm.frames)


def test_after_the_update_a_second_forward_pass_redraws_the_neurons_and_the_loss():
    biograd.manual_seed(0)
    model = nn.MLP([2, 3, 2], activation="tanh").double()
    x = np.array([1.1, -2.1])
    steps = viz.backprop(model, x, 1, nn.CrossEntropyLoss(), lr=0.1)
    after = _torch_forward(steps, x, after=True)
    loss_after = torch.nn.functional.cross_entropy(after, torch.tensor([1])).item()
    assert steps.numbers["loss_after"] == pytest.approx(loss_after, rel=1e-10)
    np.testing.assert_allclose(steps.numbers["output_after"], after.numpy().ravel(), rtol=1e-10)
    last = steps.frames[-1]
    assert last["stage"] == "forward again"
    out = steps.numbers["layers"][-1]
    for k, a in enumerate(out["a_after"]):
        assert last["state"]["text"][f"nv-2-{k + 1}"] == _short(a)
        assert (
            f"forward again: z = {fmt(out['z_after'][k])}, a = {fmt(a)}"
            in last["state"]["tips"][f"n-2-{k + 1}"]
        )
    assert f"{fmt(steps.numbers['loss'])} → {fmt(loss_after)}" == last["state"]["text"]["loss-text"]
    # before the update the circles showed the old activations
    update = [f for f in steps.frames if f["stage"] == "update"][-1]
    assert update["state"]["text"]["nv-2-1"] != last["state"]["text"]["nv-2-1"]


def test_hover_texts_follow_the_frame():
    biograd.manual_seed(0)
    model = nn.MLP([2, 2, 1]).double()
    steps = viz.backprop(model, [0.5, -1.0], [1.0], nn.MSELoss(), lr=0.1)
    layer = steps.numbers["layers"][0]
    first, last = steps.frames[0]["state"]["tips"], steps.frames[-1]["state"]["tips"]
    assert f"= {fmt(layer['W_before'][0][0])}" in first["w-1-1-1"] and "gradient" not in first["w-1-1-1"]
    assert "activation" not in first["n-1-1"]  # the forward pass has not reached it yet
    assert f"gradient dL/dw = {fmt(layer['dL_dW'][0][0])}" in last["w-1-1-1"]
    assert f"after the update: w = {fmt(layer['W_after'][0][0])}" in last["w-1-1-1"]
    assert f"error δ = dL/dz = {fmt(layer['delta'][0])}" in last["n-1-1"]
    # the static frame pictures carry the same hover texts
    svg = steps.frame(len(steps) - 1).svg
    assert f"after the update: w = {fmt(layer['W_after'][0][0])}" in svg


def _model_with_a_weight_that_changes_sign(lr):
    """A 2-3-2 network whose first weight is set so that one SGD step moves it across 0: w = lr g / 2
    (repeated, because g depends on w a little)."""
    biograd.manual_seed(0)
    model = nn.MLP([2, 3, 2], activation="tanh").double()
    x = np.array([1.1, -2.1])
    for _ in range(6):
        g = viz.backprop(model, x, 1, nn.CrossEntropyLoss(), lr=lr).numbers["layers"][0]["dL_dW"][0][0]
        model[0].weight.data[0, 0] = 0.5 * lr * g
    return model, x


def test_a_weight_that_changes_sign_is_redrawn_in_its_new_colour_and_dash():
    lr = 1.0
    model, x = _model_with_a_weight_that_changes_sign(lr)
    steps = viz.backprop(model, x, 1, nn.CrossEntropyLoss(), lr=lr)
    layer = steps.numbers["layers"][0]
    before, after = layer["W_before"][0][0], layer["W_after"][0][0]
    assert np.sign(before) == -np.sign(after) != 0, "the setup must flip the weight's sign"
    style = steps.frames[-1]["state"]["style"]["w-1-1-1"]
    assert style["stroke"] == (BLUE if after >= 0 else ORANGE)
    assert (style["dash"] is None) == (after >= 0)
    assert steps.frames[-1]["state"]["style"]["wl-1-1-1"]["fill"] == style["stroke"]
    assert "w-1-1-1" not in steps.frames[0]["state"]["style"]  # before the update: the old sign
    line = re.search(r'<line [^>]*id="w-1-1-1"[^>]*>', steps.frame(len(steps) - 1).svg)[0]
    assert f'stroke="{style["stroke"]}"' in line and ("stroke-dasharray" in line) == (after < 0)
    assert "(changes sign)" in next(f for f in steps.frames if f["stage"] == "update")["formula"]


def test_weight_labels_do_not_overlap():
    from biograd.viz.backprop_scene import _label_boxes

    biograd.manual_seed(0)
    for sizes in ([2, 3, 2], [3, 2, 3], [2, 2, 2, 1]):
        steps = viz.backprop(
            nn.MLP(sizes, activation="tanh"), np.linspace(-1, 1, sizes[0]), 0, nn.CrossEntropyLoss()
        )
        boxes = [halo.geom for halo, _ in _label_boxes(steps.scene).values()]
        assert boxes
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                apart = apart or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
                assert apart, (sizes, a, b)
