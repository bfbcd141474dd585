"""One real training step, frame by frame: forward pass, loss, backward pass (the chain rule), update.

Every number shown comes from the engine: z and a from the layers' forward computation, every gradient
(dL/da, delta = dL/dz) from the ``biograd.trace()`` record of ``loss.backward()``, the weight gradients from
``.grad``, the derivative act'(z) from the trace's local derivative of the activation, and the new weights
from ``biograd.optim.SGD.step()``. Formulas are written around those numbers; nothing is recomputed by hand.
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from biograd.tensor import Tensor, no_grad
from biograd.tracing import Trace
from biograd.viz._draw import GREY, INK, PALE, Picture, Scene, fmt, html_page, signed_color, text_color_on
from biograd.viz.network import dense_layers, draw_network, layer_title, one_sample

MAX_NEURONS = 16  # a step-by-step page for wider layers would have thousands of frames


def _f(v: Any) -> str:
    return f"({fmt(v)})" if float(v) < 0 else fmt(v)


def _vec(v: np.ndarray) -> str:
    return "[" + ", ".join(fmt(x) for x in np.asarray(v).ravel()) + "]"


class BackpropSteps:
    """The frames of one training step. Display in Jupyter, or save as ``.html`` (interactive page),
    ``.gif`` (animation) or ``.png`` (one file per frame: ``name_001.png``, ...).

    Attributes:
        frames: one dict per frame: ``stage``, ``title``, ``formula``, ``highlight`` (element ids) and
            ``values`` (the numbers shown).
        numbers: every number of the step per layer (weights before/after, z, a, dL/da, act'(z), delta,
            dL/dW, dL/db), plus the loss; the page embeds it as JSON.
    """

    def __init__(
        self, scene: Scene, frames: list[dict[str, Any]], numbers: dict[str, Any], title: str
    ) -> None:
        self.scene = scene
        self.frames = frames
        self.numbers = numbers
        self.title = title

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        loss = fmt(self.numbers["loss"])
        return f"<BackpropSteps: {len(self.frames)} frames of one training step, loss {loss}>"

    # -- HTML ---------------------------------------------------------------------------------------
    def to_html(self) -> str:
        """One self-contained page: the network, the formula of the highlighted element, and controls."""
        data = json.dumps({"frames": self.frames, "numbers": self.numbers}, allow_nan=True)
        data = data.replace("</", "<\\/")
        n = len(self.frames)
        drawing = copy.copy(self.scene)  # the page has the title as its heading: not twice
        drawing.shapes = [
            s for s in self.scene.shapes if not (s.kind == "text" and s.bold and s.text == self.scene.title)
        ]
        body = f"""
<h1>{html.escape(self.title)}</h1>
<p class="intro">One real training step on your own sample. <b>Forward</b>: each neuron computes
z = w·x + b and a = act(z). <b>Loss</b>: how wrong the output is. <b>Backward</b>:
the chain rule sends the error back, layer by layer: δ = dL/dz, and each weight's
gradient dL/dw = δ × (the input it multiplies). <b>Update</b>:
w ← w − lr × dL/dw. Every number comes from biograd's engine. Use the buttons, the slider or the ← → keys.</p>
<div class="controls">
  <button id="prev" type="button">◀ Previous</button>
  <input id="slider" type="range" min="0" max="{n - 1}" value="0" aria-label="step">
  <button id="next" type="button">Next ▶</button>
  <span id="counter">Step 1 of {n}</span>
</div>
<div class="wrap">
  <div id="net">{drawing.to_svg()}</div>
  <div id="panel"><div id="stage"></div><h2 id="frame-title"></h2><pre id="formula"></pre></div>
</div>
<script type="application/json" id="biograd-backprop-data">{data}</script>
"""
        return html_page(self.title, body, css=_CSS, script=_JS)

    def _repr_html_(self) -> str:
        page = html.escape(self.to_html(), quote=True)
        return (
            f'<iframe srcdoc="{page}" style="width:100%;height:{self.scene.height + 260:.0f}px;border:0" '
            'sandbox="allow-scripts"></iframe>'
        )

    # -- pictures -----------------------------------------------------------------------------------
    def frame_scene(self, i: int) -> Scene:
        """Frame i as a static scene (network state, highlight, and the formula below)."""
        frame = self.frames[i]
        scene = copy.deepcopy(self.scene)
        # room for the formula panel: as tall as the longest formula of all frames, so frames line up
        most = min(max(len(f["formula"].split("\n")) for f in self.frames), 11)
        panel = 60 + most * 15.7
        scene.height += panel + 24
        state = frame["state"]
        highlight = set(frame["highlight"])
        for s in scene.shapes:
            if s.id in state.get("text", {}):
                s.text = state["text"][s.id]
            if s.id in state.get("fill", {}):
                s.fill = state["fill"][s.id]
            if s.id and s.id.startswith("nv-") and "n-" + s.id[3:] in state.get("fill", {}):
                s.fill = text_color_on(state["fill"]["n-" + s.id[3:]])
            if s.id and highlight:
                if s.id in highlight:
                    if s.kind == "circle" or s.kind == "rect":
                        s.stroke, s.width = INK, 4.5
                    else:
                        s.width, s.opacity = max(s.width, 4.0), 1.0
                elif s.cls == "weight":
                    s.opacity = 0.25
                elif s.cls in ("neuron", "input-node"):
                    s.opacity = 0.5
        y = scene.height - panel - 14
        scene.rect(16, y, scene.width - 32, panel, rx=8, fill=PALE, stroke=GREY)
        scene.text(
            30, y + 24, f"{frame['stage'].upper()}  ·  {frame['title']}", size=14, anchor="start", bold=True
        )
        lines = frame["formula"].split("\n")[:11]
        scene.text(30, y + 48, "\n".join(lines), size=12.5, anchor="start")
        scene.text(
            scene.width - 30, y + 24, f"step {i + 1} of {len(self.frames)}", size=11, anchor="end", fill=GREY
        )
        return scene

    def frame(self, i: int) -> Picture:
        """Frame i (0-based) as a :class:`~biograd.viz.Picture`: ``steps.frame(9).save("step10.png")``."""
        if not -len(self.frames) <= i < len(self.frames):
            raise IndexError(f"There are {len(self.frames)} frames (0 to {len(self.frames) - 1}); got {i}.")
        return Picture(self.frame_scene(i % len(self.frames)))

    def save(self, path: str | Path, dpi: float = 100.0) -> Path | list[Path]:
        """``.html``: the interactive page; ``.gif``: an animation (1.5 s per frame); ``.png``: one image per
        frame, named ``<stem>_001.png``, ... (returns the list of paths)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            path.write_text(self.to_html(), encoding="utf-8")
            return path
        if suffix == ".png":
            paths = []
            for i in range(len(self.frames)):
                p = path.with_name(f"{path.stem}_{i + 1:03d}.png")
                self.frame_scene(i).to_figure().savefig(p, dpi=dpi, facecolor="white")
                paths.append(p)
            return paths
        if suffix == ".gif":
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from PIL import Image

            images = []
            for i in range(len(self.frames)):
                fig = self.frame_scene(i).to_figure(dpi=dpi * 0.8)
                canvas = FigureCanvasAgg(fig)
                canvas.draw()
                images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]))
            images[0].save(path, save_all=True, append_images=images[1:], duration=1500, loop=0)
            return path
        raise ValueError(
            f"Cannot save the backprop steps as {path.name!r}: use a name ending in .html (interactive "
            "page), "
            ".gif (animation) or .png (one image per frame)."
        )


def backprop(
    model: Any,
    x: Any,
    y: Any,
    loss_fn: Any,
    lr: float = 0.1,
    inplace: bool = False,
    title: str | None = None,
) -> BackpropSteps:
    """Show one training step of ``model`` on the sample (x, y), with every number filled in.

    Args:
        model: a Neuron, Linear, or Sequential/MLP of Linear layers and activations (<= 16 neurons per layer).
        x: one sample, shape (n_features,).
        y: its target: a class index for CrossEntropyLoss/NLLLoss, numbers of the output's shape otherwise.
        loss_fn: a loss module, e.g. ``biograd.nn.MSELoss()`` or ``biograd.nn.CrossEntropyLoss()``.
        lr: the learning rate of the plain gradient-descent update w <- w - lr * dL/dw (> 0).
        inplace: apply the update to ``model`` itself; by default the step runs on a copy and the model is
            left unchanged.
        title: the page title.

    Returns:
        :class:`BackpropSteps` (``.save("step.html" | ".gif" | ".png")``; shows itself in Jupyter).

    >>> model = biograd.nn.MLP([2, 3, 1])                                       # doctest: +SKIP
    >>> steps = viz.backprop(model, [0.5, -1.0], [1.0], biograd.nn.MSELoss(), lr=0.1)
    >>> steps.save("backprop.html")
    """
    from biograd.optim import SGD

    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"The 'lr' parameter of backprop must be > 0. Got {lr!r} instead.")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a loss such as biograd.nn.MSELoss(); got {type(loss_fn).__name__}.")
    dense_layers(model)  # validates before copying
    work = model if inplace else copy.deepcopy(model)
    layers = dense_layers(work)
    sizes = [layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in layers]
    if max(sizes) > MAX_NEURONS:
        raise ValueError(
            f"backprop shows every neuron, so each layer may have at most {MAX_NEURONS} neurons; this "
            f"network has "
            f"layers of {sizes}. Use viz.network for large networks, or a smaller model to learn the steps."
        )
    was_training = work.training
    work.eval()  # dropout off: the step is deterministic and every number can be checked
    dtype = layers[0].module.weight.dtype
    xs = one_sample(x, sizes[0], dtype)
    work.zero_grad()
    before = [(layer.weight.copy(), layer.bias.copy()) for layer in layers]

    # forward, layer by layer, recording the graph
    h = Tensor(xs, dtype=dtype)
    zs, acts = [], []
    for layer in layers:
        z = layer.pre_activation(h)
        h = layer.activate(z)
        zs.append(z)
        acts.append(h)
    output = acts[-1]
    target = _target(loss_fn, y, output)
    loss = loss_fn(output, target)
    with Trace() as record:
        loss.backward()
    step_of = {id(s.output_tensor): s for s in record.steps}

    def grad_of(t: Tensor) -> np.ndarray:
        return np.asarray(step_of[id(t)].upstream, dtype=np.float64).reshape(-1)

    numbers: dict[str, Any] = {"lr": float(lr), "loss": float(loss.data), "layers": []}
    numbers["input"] = xs.astype(np.float64).ravel().tolist()
    numbers["output"] = np.asarray(output.data, np.float64).ravel().tolist()
    numbers["target"] = np.asarray(target, np.float64).ravel().tolist()
    numbers["dL_doutput"] = grad_of(output).tolist()
    for i, layer in enumerate(layers):
        z, a = zs[i], acts[i]
        act_prime = _act_prime(layer, z, a, step_of)
        numbers["layers"].append(
            {
                "name": layer_title(layers, i + 1),
                "activation": layer.activation_name,
                "W_before": before[i][0].tolist(),
                "b_before": before[i][1].tolist(),
                "z": np.asarray(z.data, np.float64).ravel().tolist(),
                "a": np.asarray(a.data, np.float64).ravel().tolist(),
                "dL_da": grad_of(a).tolist(),
                "act_prime": None if act_prime is None else act_prime.tolist(),
                "delta": grad_of(z).tolist(),
                "dL_dW": layer.weight_grad.tolist(),
                "dL_db": (
                    layer.bias_grad if layer.bias_grad is not None else np.zeros(sizes[i + 1])
                ).tolist(),
            }
        )
    SGD(work.parameters(), lr=lr).step()
    for i, layer in enumerate(layers):
        numbers["layers"][i]["W_after"] = layer.weight.tolist()
        numbers["layers"][i]["b_after"] = layer.bias.tolist()
    with no_grad():
        numbers["loss_after"] = float(loss_fn(work(Tensor(xs, dtype=dtype)), target).data)
    work.train(was_training)

    scene, ids = _scene(layers, before, numbers, title or "Backpropagation, step by step")
    frames = _frames(layers, numbers, ids, type(loss_fn).__name__)
    return BackpropSteps(scene, frames, numbers, title or "Backpropagation, step by step")


def _target(loss_fn: Any, y: Any, output: Tensor) -> np.ndarray:
    name = type(loss_fn).__name__
    arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if name in ("CrossEntropyLoss", "NLLLoss"):
        if arr.size != 1:
            raise ValueError(f"{name} needs one class index as y for one sample; got {arr.size} values.")
        return arr.reshape(1).astype(np.int64)
    if arr.size != output.data.size:
        raise ValueError(
            f"y must have one value per network output ({output.data.size}); got {arr.size} values. "
            "For class labels use CrossEntropyLoss."
        )
    return arr.astype(output.data.dtype).reshape(output.shape)


def _act_prime(layer: Any, z: Tensor, a: Tensor, step_of: dict[int, Any]) -> np.ndarray | None:
    """act'(z) from the engine: the trace's local derivative when the activation is one primitive (ReLU,
    sigmoid, tanh, leaky ReLU), otherwise the engine's backward through the activation alone (GELU).
    None for softmax, whose outputs each depend on every z (no single act'(z) per neuron)."""
    if a is z:
        return np.ones(z.data.size)
    if layer.activation_name == "Softmax":
        return None
    step = step_of.get(id(a))
    single_op = step is not None and len(step.input_tensors) == 1 and step.input_tensors[0] is z
    if single_op and step.local_values[0] is not None:
        return np.asarray(step.local_values[0], np.float64).reshape(-1)
    probe = Tensor(np.array(z.data, copy=True), requires_grad=True)
    layer.activation(probe).backward(np.ones_like(probe.data))
    return np.asarray(probe.grad, np.float64).reshape(-1)


# --------------------------------------------------------------------------------------------------
# The picture and the frames
# --------------------------------------------------------------------------------------------------


def _scene(
    layers: list[Any], before: list[tuple[np.ndarray, np.ndarray]], numbers: dict[str, Any], title: str
):
    layout = draw_network(
        layers,
        [w for w, _ in before],
        "weight",
        inputs=np.asarray(numbers["input"]),
        forward=[(np.asarray(n["z"]), np.asarray(n["a"])) for n in numbers["layers"]],
        title=title,
        subtitle="Inside each circle: its activation a. Above it: its error δ = dL/dz (backward pass).",
        small_limit=MAX_NEURONS,
        extra_height=0,
        extra_width=120,
        with_ids=True,
        grads=[np.asarray(n["dL_dW"]) for n in numbers["layers"]],
        spacing=78.0,  # room for the error δ above each neuron and its bias below
        params=before,  # the labels show the weights the forward pass used; update frames change them
    )
    scene = layout.scene
    ids: dict[str, Any] = {"neurons": [], "deltas": []}
    for ci, column in enumerate(layout.centres):
        ids["neurons"].append([f"n-{ci}-{k + 1}" for k in range(len(column))])
        ids["deltas"].append([])
        for k, (x, y) in enumerate(column):
            if ci:
                ids["deltas"][ci].append(f"nd-{ci}-{k + 1}")
                scene.text(
                    x, y - layout.radius - 6, "", size=10.5, fill=INK, bold=True, id=f"nd-{ci}-{k + 1}"
                )
    # data-* numbers on each weight line: before, gradient, after (read back by the tests)
    for s in scene.shapes:
        if s.cls == "weight" and s.id:
            _, li, k, j = s.id.split("-")
            n = numbers["layers"][int(li) - 1]
            s.data.update(
                before=n["W_before"][int(k) - 1][int(j) - 1],
                grad=n["dL_dW"][int(k) - 1][int(j) - 1],
                after=n["W_after"][int(k) - 1][int(j) - 1],
            )
        if s.cls == "neuron" and s.id:
            _, ci, k = s.id.split("-")
            n = numbers["layers"][int(ci) - 1]
            s.data.update(
                z=n["z"][int(k) - 1], delta=n["delta"][int(k) - 1], bias_grad=n["dL_db"][int(k) - 1]
            )
    last = layout.centres[-1]
    lx = last[0][0] + 120
    ly = float(np.mean([c[1] for c in last]))
    for x, y in last:
        scene.arrow(x + layout.radius, y, lx - 36, ly, color=GREY)
    scene.rect(
        lx - 36,
        ly - 24,
        92,
        48,
        rx=8,
        fill="#ffffff",
        stroke=INK,
        width=1.6,
        id="loss-box",
        cls="loss",
        title=f"loss = {fmt(numbers['loss'])}",
    )
    scene.text(lx + 10, ly - 6, "loss L", size=12, bold=True)
    scene.text(lx + 10, ly + 12, "?", size=11.5, id="loss-text")
    # values appear as the forward pass reaches them
    for s in scene.shapes:
        if s.id and s.id.startswith("nv-"):
            s.text = ""
        if s.cls in ("neuron",):
            s.fill = "#ffffff"
    return scene, ids


def _frames(layers: list[Any], numbers: dict[str, Any], ids: dict[str, Any], loss_name: str) -> list[dict]:
    frames: list[dict[str, Any]] = []
    text: dict[str, str] = {}
    fill: dict[str, str] = {}

    def add(stage: str, title: str, formula: str, highlight: list[str], values: dict[str, Any]) -> None:
        frames.append(
            {
                "stage": stage,
                "title": title,
                "formula": formula,
                "highlight": highlight,
                "values": values,
                "state": {"text": dict(text), "fill": dict(fill)},
            }
        )

    inputs = numbers["input"]
    for k, v in enumerate(inputs):
        text[f"nv-0-{k + 1}"] = fmt(v, 2)
    add(
        "forward",
        "the sample enters the network",
        "x = " + _vec(inputs) + "\nEach input neuron holds one feature of your sample.",
        ids["neurons"][0],
        {"x": inputs},
    )
    n_layers = len(layers)
    a_prev_names = [f"x{j + 1}" for j in range(len(inputs))]
    for li, n in enumerate(numbers["layers"]):
        prev = inputs if li == 0 else numbers["layers"][li - 1]["a"]
        a_scale = max(abs(v) for v in n["a"]) or 1.0
        for k in range(len(n["z"])):
            w, b = n["W_before"][k], n["b_before"][k]
            terms = " + ".join(f"{_f(w[j])} × {_f(prev[j])}" for j in range(min(len(w), 6)))
            if len(w) > 6:
                terms += " + …"
            names = " + ".join(f"w{j + 1}·{a_prev_names[j]}" for j in range(min(len(w), 4)))
            names += " + …" if len(w) > 4 else ""
            act = n["activation"]
            formula = f"z = {names} + b\n  = {terms} + {_f(b)}\n  = {fmt(n['z'][k])}\n" + (
                f"a = {act}(z) = {act}({fmt(n['z'][k])}) = {fmt(n['a'][k])}"
                if act != "no activation"
                else f"a = z = {fmt(n['a'][k])}  (no activation)"
            )
            nid = ids["neurons"][li + 1][k]
            text[f"nv-{li + 1}-{k + 1}"] = fmt(n["a"][k], 2)
            fill[nid] = signed_color(n["a"][k], a_scale)
            add(
                "forward",
                f"{layer_title(layers, li + 1)}, neuron {k + 1}",
                formula,
                [nid] + [f"w-{li + 1}-{k + 1}-{j + 1}" for j in range(len(w))],
                {"z": n["z"][k], "a": n["a"][k]},
            )
        a_prev_names = [f"a{j + 1}" for j in range(len(n["z"]))]
    text["loss-text"] = fmt(numbers["loss"])
    out_ids = ids["neurons"][-1]
    add(
        "loss",
        f"how wrong is the output? ({loss_name})",
        f"output ŷ = {_vec(numbers['output'])}\ntarget y = {_vec(numbers['target'])}\n"
        f"L = {loss_name}(ŷ, y) = {fmt(numbers['loss'])}\n\n"
        f"The backward pass starts here: dL/dŷ = {_vec(numbers['dL_doutput'])}\n"
        "(how much L changes when each output changes a little)",
        [*out_ids, "loss-box"],
        {"loss": numbers["loss"], "dL_doutput": numbers["dL_doutput"]},
    )
    for li in range(n_layers - 1, -1, -1):
        n = numbers["layers"][li]
        prev = inputs if li == 0 else numbers["layers"][li - 1]["a"]
        prev_name = "x" if li == 0 else "a"
        for k in range(len(n["z"])):
            lines = []
            if li == n_layers - 1:
                lines.append(f"dL/da = {fmt(n['dL_da'][k])}   (from the loss)")
            else:
                nxt = numbers["layers"][li + 1]
                terms = " + ".join(
                    f"{_f(nxt['W_before'][m][k])} × {_f(nxt['delta'][m])}"
                    for m in range(min(len(nxt["delta"]), 5))
                )
                if len(nxt["delta"]) > 5:
                    terms += " + …"
                lines.append(f"dL/da = Σ w·δ(next layer) = {terms}\n      = {fmt(n['dL_da'][k])}")
            if n["act_prime"] is None:
                lines.append(f"δ = dL/dz = {fmt(n['delta'][k])}   (softmax: each output depends on every z)")
            else:
                lines.append(
                    f"δ = dL/da · act'(z) = {_f(n['dL_da'][k])} × {_f(n['act_prime'][k])} "
                    f"= {fmt(n['delta'][k])}"
                )
                if n["act_prime"][k] == 0:
                    lines.append(
                        "  (act'(z) = 0: the activation is flat here, so no error passes through this neuron)"
                    )
            w_grad = n["dL_dW"][k]
            for j in range(min(len(w_grad), 6)):
                lines.append(
                    f"dL/dw{j + 1} = δ · {prev_name}{j + 1} = {_f(n['delta'][k])} × {_f(prev[j])} "
                    f"= {fmt(w_grad[j])}"
                )
            if len(w_grad) > 6:
                lines.append(f"… ({len(w_grad) - 6} more weights; hover over a line for its numbers)")
            lines.append(f"dL/db = δ = {fmt(n['dL_db'][k])}")
            text[f"nd-{li + 1}-{k + 1}"] = f"δ={fmt(n['delta'][k], 2)}"
            highlight = [ids["neurons"][li + 1][k]] + [
                f"w-{li + 1}-{k + 1}-{j + 1}" for j in range(len(w_grad))
            ]
            if li < n_layers - 1:
                highlight += [
                    f"w-{li + 2}-{m + 1}-{k + 1}" for m in range(len(numbers["layers"][li + 1]["z"]))
                ]
            add(
                "backward",
                f"{layer_title(layers, li + 1)}, neuron {k + 1}: its error δ and its weights' gradients",
                "\n".join(lines),
                highlight,
                {"dL_da": n["dL_da"][k], "delta": n["delta"][k], "dL_dw": w_grad, "dL_db": n["dL_db"][k]},
            )
    lr = numbers["lr"]
    for li, n in enumerate(numbers["layers"]):
        for k in range(len(n["z"])):
            lines = []
            wb, wg, wa = n["W_before"][k], n["dL_dW"][k], n["W_after"][k]
            for j in range(min(len(wb), 7)):
                lines.append(f"w{j + 1} ← {fmt(wb[j])} − {fmt(lr)} × {_f(wg[j])} = {fmt(wa[j])}")
            if len(wb) > 7:
                lines.append(f"… ({len(wb) - 7} more)")
            lines.append(
                f"b  ← {fmt(n['b_before'][k])} − {fmt(lr)} × {_f(n['dL_db'][k])} = {fmt(n['b_after'][k])}"
            )
            # the drawing now shows the new values (labels of lines exist for small layers only)
            text[f"nb-{li + 1}-{k + 1}"] = f"b={fmt(n['b_after'][k], 2)}"
            for j in range(len(wa)):
                text[f"wl-{li + 1}-{k + 1}-{j + 1}"] = fmt(wa[j], 2)
            add(
                "update",
                f"{layer_title(layers, li + 1)}, neuron {k + 1}: w ← w − lr × dL/dw",
                "\n".join(lines),
                [ids["neurons"][li + 1][k]] + [f"w-{li + 1}-{k + 1}-{j + 1}" for j in range(len(wb))],
                {"W_before": wb, "W_after": wa, "b_before": n["b_before"][k], "b_after": n["b_after"][k]},
            )
    text["loss-text"] = f"{fmt(numbers['loss'])} → {fmt(numbers['loss_after'])}"
    change = "went down" if numbers["loss_after"] < numbers["loss"] else "did not go down (try a smaller lr)"
    add(
        "update",
        "after the step",
        f"loss before the step: {fmt(numbers['loss'])}\nloss after the step (same sample, new weights): "
        f"{fmt(numbers['loss_after'])}\nThe loss {change}. Training repeats this step over many samples.",
        ["loss-box"],
        {"loss": numbers["loss"], "loss_after": numbers["loss_after"]},
    )
    for i, frame in enumerate(frames):
        frame["index"] = i
    return frames


_CSS = """
h1{font-size:22px;margin:0 0 6px} .intro{max-width:1100px;color:#444;font-size:14px;line-height:1.45}
.controls{margin:10px 0;display:flex;gap:10px;align-items:center}
.controls button{font-size:15px;padding:6px 14px;border:1px solid #222;background:#fff;
  border-radius:6px;cursor:pointer}
.controls button:focus{outline:3px solid #0072B2} #slider{width:320px} #counter{font-weight:bold}
.wrap{display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap}
#panel{flex:1;min-width:360px;max-width:720px;background:#f4f4f4;border:1px solid #999;
  border-radius:8px;padding:12px 16px}
#stage{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#555;font-weight:bold}
#frame-title{font-size:16px;margin:4px 0 10px}
#formula{font-size:14px;line-height:1.5;white-space:pre-wrap;margin:0;
  font-family:DejaVu Sans Mono,Menlo,monospace}
svg line.dim{opacity:.22} svg circle.dim{opacity:.5} svg circle.hl,svg rect.hl{stroke:#000;stroke-width:4.5px}
svg line.hl{opacity:1;stroke-width:5px}
"""

_JS = r"""
(function(){
  const data = JSON.parse(document.getElementById('biograd-backprop-data').textContent);
  const frames = data.frames;
  const svg = document.querySelector('#net svg');
  const slider = document.getElementById('slider');
  const original = {};
  svg.querySelectorAll('[id^="nb-"], [id^="wl-"]').forEach(e => { original[e.id] = e.textContent; });
  let current = 0;
  function show(i){
    current = Math.max(0, Math.min(frames.length - 1, i));
    const f = frames[current];
    svg.querySelectorAll('.hl').forEach(e => e.classList.remove('hl'));
    svg.querySelectorAll('.dim').forEach(e => e.classList.remove('dim'));
    const lit = new Set(f.highlight);
    svg.querySelectorAll('.weight, .neuron, .input-node').forEach(e => {
      if (!lit.has(e.id)) e.classList.add('dim');
    });
    f.highlight.forEach(id => { const e = document.getElementById(id); if (e) e.classList.add('hl'); });
    svg.querySelectorAll('[id^="nv-"], [id^="nd-"], #loss-text').forEach(e => {
      e.textContent = (e.id in f.state.text) ? f.state.text[e.id] : (e.id === 'loss-text' ? '?' : '');
    });
    svg.querySelectorAll('[id^="nb-"], [id^="wl-"]').forEach(e => {  // weights and biases: new after update
      e.textContent = (e.id in f.state.text) ? f.state.text[e.id] : original[e.id];
    });
    svg.querySelectorAll('.neuron').forEach(e => {
      e.setAttribute('fill', f.state.fill[e.id] || '#ffffff');
    });
    Object.entries(f.state.fill).forEach(([id, color]) => {
      const label = document.getElementById('nv-' + id.slice(2));
      if (label) label.setAttribute('fill', lum(color) < 0.5 ? '#ffffff' : '#222222');
    });
    document.getElementById('stage').textContent = f.stage;
    document.getElementById('frame-title').textContent = f.title;
    document.getElementById('formula').textContent = f.formula;
    document.getElementById('counter').textContent = 'Step ' + (current + 1) + ' of ' + frames.length;
    document.body.dataset.step = String(current);
    document.body.dataset.highlight = f.highlight.join(' ');
    slider.value = String(current);
  }
  function lum(hex){
    const c = [1,3,5].map(i => parseInt(hex.slice(i, i + 2), 16) / 255);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  document.getElementById('prev').addEventListener('click', () => show(current - 1));
  document.getElementById('next').addEventListener('click', () => show(current + 1));
  slider.addEventListener('input', () => show(parseInt(slider.value, 10)));
  document.addEventListener('keydown', ev => {
    if (ev.target === slider) return;  // the slider moves itself with the arrow keys
    if (ev.key === 'ArrowRight') { show(current + 1); ev.preventDefault(); }
    if (ev.key === 'ArrowLeft') { show(current - 1); ev.preventDefault(); }
  });
  show(0);
})();
"""
