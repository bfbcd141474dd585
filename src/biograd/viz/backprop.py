"""One real training step, frame by frame: forward pass, loss, backward pass (the chain rule), update.

Every number shown comes from the engine: z and a from the layers' forward computation, every gradient
(dL/da, delta = dL/dz) from the ``biograd.trace()`` record of ``loss.backward()``, the weight gradients from
``.grad``, the derivative act'(z) from the trace's local derivative of the activation, and the new weights
from ``biograd.optim.SGD.step()``. Formulas are written around those numbers; nothing is recomputed by hand.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from biograd.tensor import Tensor, no_grad
from biograd.tracing import Trace
from biograd.viz._draw import (
    BLUE,
    GREY,
    INK,
    ORANGE,
    PALE,
    Picture,
    Scene,
    Shape,
    fmt,
    html_page,
    signed_color,
    text_color_on,
)
from biograd.viz.markup import Markup, html, script_json
from biograd.viz.network import dense_layers, draw_network, layer_title, one_sample

MAX_NEURONS = 16  # a step-by-step page for wider layers would have thousands of frames


def _wrap(formula: str, columns: int) -> list[str]:
    """The lines of a formula, each cut at ``columns`` characters (continuations indented)."""
    out: list[str] = []
    for line in formula.split("\n"):
        out += textwrap.wrap(line, columns, subsequent_indent="    ", drop_whitespace=False) or [""]
    return out


def _f(v: Any) -> str:
    return f"({fmt(v)})" if float(v) < 0 else fmt(v)


def _short(v: float) -> str:
    """A number in at most 5 characters, to fit inside a neuron's circle: -0.02, 1.1, 12.3, -140."""
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    if abs(v) < 9.995:
        return f"{v:.2f}".rstrip("0").rstrip(".") if round(v, 2) != 0 else "0"
    if abs(v) < 99.95:
        return f"{v:.1f}"
    if abs(v) < 9999.5:
        return f"{v:.0f}"
    return f"{v:.0e}"


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
        data = script_json({"frames": self.frames, "numbers": self.numbers}, allow_nan=True)
        n = len(self.frames)
        drawing = copy.copy(self.scene)  # the page has the title as its heading: not twice
        drawing.shapes = [
            s for s in self.scene.shapes if not (s.kind == "text" and s.bold and s.text == self.scene.title)
        ]
        body = html(
            """
<h1>{title}</h1>
<p class="intro">One real training step on your own sample. <b>Forward</b>: each neuron computes
z = w·x + b and a = act(z). <b>Loss</b>: how wrong the output is. <b>Backward</b>:
the chain rule sends the error back, layer by layer: δ = dL/dz, and each weight's
gradient dL/dw = δ × (the input it multiplies). <b>Update</b>:
w ← w − lr × dL/dw. Every number comes from biograd's engine. Use the buttons, the slider or the ← → keys.</p>
<div class="controls">
  <button id="prev" type="button">◀ Previous</button>
  <input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
  <button id="next" type="button">Next ▶</button>
  <span id="counter">Step 1 of {n}</span>
</div>
<div class="wrap">
  <div id="net">{svg}</div>
  <div id="panel"><div id="stage"></div><h2 id="frame-title"></h2><pre id="formula"></pre></div>
</div>
<script type="application/json" id="biograd-backprop-data">{data}</script>
""",
            title=self.title,
            last=n - 1,
            n=n,
            svg=Markup(drawing.to_svg()),  # escaped when drawn
            data=data,
        )
        css = _CSS + f"#net svg{{max-width:{self.scene.width:.0f}px}}"
        return html_page(self.title, body, css=css, script=_JS)

    def _repr_html_(self) -> str:
        return str(
            html(
                '<iframe srcdoc="{}" style="width:100%;height:{:.0f}px;border:0" sandbox="allow-scripts">'
                "</iframe>",
                self.to_html(),  # the whole page, escaped into the attribute
                self.scene.height + 260,
            )
        )

    # -- pictures -----------------------------------------------------------------------------------
    def frame_scene(self, i: int) -> Scene:
        """Frame i as a static scene (network state, highlight, and the formula below)."""
        frame = self.frames[i]
        scene = copy.deepcopy(self.scene)
        # room for the formula panel: as tall as the longest formula of all frames, so frames line up;
        # long lines wrap inside the panel's width
        columns = max(40, int((scene.width - 60) / (12.5 * 0.62)))
        wrapped = [_wrap(f["formula"], columns) for f in self.frames]
        most = min(max(len(lines) for lines in wrapped), 14)
        panel = 60 + most * 15.7
        scene.height += panel + 24
        state = frame["state"]
        highlight = set(frame["highlight"])
        for s in scene.shapes:
            if s.id in state.get("text", {}):
                s.text = state["text"][s.id]
            if s.id in state.get("fill", {}):
                s.fill = state["fill"][s.id]
            for key, value in state.get("style", {}).get(s.id, {}).items():
                setattr(s, key, value)  # stroke, dash or fill of a weight whose sign changed
            if s.id in state.get("tips", {}):
                s.title = state["tips"][s.id]
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
        lines = wrapped[i % len(self.frames)][:14]
        scene.text(30, y + 48, "\n".join(lines), size=12.5, anchor="start")
        scene.text(  # bottom right, where no title or formula reaches
            scene.width - 30,
            y + panel - 10,
            f"step {i + 1} of {len(self.frames)}",
            size=11,
            anchor="end",
            fill=GREY,
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
    feature_names: list[str] | None = None,
    class_names: list[str] | None = None,
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
        feature_names: one name per input (e.g. ``["mean radius", "mean texture"]``): written under the
            input neurons and in the formulas.
        class_names: one name per class (e.g. ``["benign", "malignant"]``): the loss frame names the true
            class and the probability the network gives it.

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
    feature_names = _names("feature_names", feature_names, sizes[0], "inputs")
    class_names = _names("class_names", class_names, None, "classes")
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
    numbers["feature_names"] = feature_names
    numbers["class_names"] = class_names
    numbers["loss_detail"] = _loss_detail(loss_fn, numbers, class_names)
    SGD(work.parameters(), lr=lr).step()
    for i, layer in enumerate(layers):
        numbers["layers"][i]["W_after"] = layer.weight.tolist()
        numbers["layers"][i]["b_after"] = layer.bias.tolist()
    # the second forward pass: the same sample through the updated weights
    with no_grad():
        h = Tensor(xs, dtype=dtype)
        for i, layer in enumerate(layers):
            z = layer.pre_activation(h)
            h = layer.activate(z)
            numbers["layers"][i]["z_after"] = np.asarray(z.data, np.float64).ravel().tolist()
            numbers["layers"][i]["a_after"] = np.asarray(h.data, np.float64).ravel().tolist()
        numbers["output_after"] = np.asarray(h.data, np.float64).ravel().tolist()
        numbers["loss_after"] = float(loss_fn(h, target).data)
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


def _names(param: str, names: Any, n: int | None, what: str) -> list[str] | None:
    """Names given by the user, as a list of strings (checked against the number expected)."""
    if names is None:
        return None
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(f"{param} must be a list of names, one per {what[:-1]}; got {type(names).__name__}.")
    names = [str(v) for v in names]
    if n is not None and len(names) != n:
        raise ValueError(f"{param} has {len(names)} names, but the network has {n} {what}: give one each.")
    return names


def _class(i: int, class_names: list[str] | None) -> str:
    if class_names is not None and 0 <= i < len(class_names):
        return f"{i} ({class_names[i]})"
    return str(i)


def _loss_detail(loss_fn: Any, numbers: dict[str, Any], class_names: list[str] | None) -> dict | None:
    """The loss written out for the losses whose formula fits on a frame (default reduction, no class
    weights): probabilities (softmax or sigmoid), -log p of the true class, and dL/dy_hat in closed form
    (p - y for cross-entropy). ``grad`` is that closed form; the tests check it equals the engine's
    dL/dy_hat, which is what the backward frames use. None for any other loss."""
    name = type(loss_fn).__name__
    if getattr(loss_fn, "reduction", "mean") != "mean" or getattr(loss_fn, "weight", None) is not None:
        return None
    out = np.asarray(numbers["output"], np.float64)
    y = np.asarray(numbers["target"], np.float64)
    n = out.size
    lines: list[str]
    if name == "CrossEntropyLoss" and not getattr(loss_fn, "label_smoothing", 0.0):
        c = int(y[0])
        if not 0 <= c < n:
            return None
        e = np.exp(out - out.max())
        p = e / e.sum()
        grad = p.copy()
        grad[c] -= 1.0
        lines = [
            f"output ŷ = {_vec(out)}   (one score per class, any size: logits)",
            f"softmax: p = exp(ŷ) / Σ exp(ŷ) = {_vec(p)}   (they add up to 1)",
        ]
        if class_names is not None:
            lines.append("   " + ", ".join(f"P({_class(k, class_names)}) = {fmt(p[k])}" for k in range(n)))
        lines += [
            f"true class y = {_class(c, class_names)}",
            f"L = −log p[y] = −log({fmt(p[c])}) = {fmt(-np.log(p[c]))}",
            "",
            f"dL/dŷ = p − onehot(y) = {_vec(p)} − {_vec(np.eye(n)[c])}",
            f"      = {_vec(grad)}",
        ]
        return {"kind": "softmax", "p": p.tolist(), "class": c, "lines": lines, "grad": grad.tolist()}
    if name == "BCEWithLogitsLoss" and getattr(loss_fn, "pos_weight", None) is None:
        p = 1.0 / (1.0 + np.exp(-out))
        grad = (p - y) / n
        positive = f"class {_class(1, class_names)}"
        if n == 1:
            picked = f"−log({fmt(p[0])})" if y[0] == 1 else f"−log(1 − {fmt(p[0])})" if y[0] == 0 else ""
            lines = [
                f"output ŷ = {fmt(out[0])}   (a logit: any number)",
                f"sigmoid: p = 1 / (1 + exp(−ŷ)) = {fmt(p[0])} = P({positive})",
                f"target y = {fmt(y[0])}"
                + (f" ({class_names[int(y[0])]})" if class_names and y[0] in (0, 1) else ""),
                "L = −[y·log p + (1 − y)·log(1 − p)]"
                + (f" = {picked}" if picked else "")
                + f" = {fmt(-(y[0] * np.log(p[0]) + (1 - y[0]) * np.log1p(-p[0])))}",
                "",
                f"dL/dŷ = p − y = {fmt(p[0])} − {_f(y[0])} = {fmt(grad[0])}",
            ]
        else:
            lines = [
                f"output ŷ = {_vec(out)}   (logits)",
                f"sigmoid: p = 1 / (1 + exp(−ŷ)) = {_vec(p)}",
                f"target y = {_vec(y)}",
                f"L = mean over the {n} outputs of −[y·log p + (1 − y)·log(1 − p)]",
                "",
                f"dL/dŷ = (p − y) / {n} = {_vec(grad)}",
            ]
        return {"kind": "sigmoid", "p": p.tolist(), "lines": lines, "grad": grad.tolist()}
    if name == "MSELoss":
        grad = 2.0 * (out - y) / n
        lines = [
            f"output ŷ = {_vec(out)}",
            f"target y = {_vec(y)}",
            f"L = mean((ŷ − y)²) = {fmt(np.mean((out - y) ** 2))}",
            "",
            f"dL/dŷ = 2 (ŷ − y) / {n} = {_vec(grad)}",
        ]
        return {"kind": "mse", "p": None, "lines": lines, "grad": grad.tolist()}
    return None


def _label_boxes(scene: Scene) -> dict[str, tuple[Shape, Shape]]:
    """{label id: (its white halo, its text)} for the weight labels drawn by draw_network."""
    out = {}
    for i, shape in enumerate(scene.shapes):
        if shape.cls == "weight-label" and shape.id and i and scene.shapes[i - 1].cls == "label-halo":
            out[shape.id] = (scene.shapes[i - 1], shape)
    return out


def _text_width(text: str, size: float) -> float:
    """A generous width of a line of text in the drawing's sans-serif font (DejaVu Sans: ~0.62 em per
    character for digits and signs); the page measures the real width and resizes the boxes again."""
    return len(text) * size * 0.64 + 6


def _place_weight_labels(scene: Scene, numbers: dict[str, Any]) -> None:
    """Each weight label sits on its own line, at a point where its box (sized for the longest number it
    will show, before or after the update) overlaps no other label, so labels of crossing lines do not
    land on each other."""
    boxes = _label_boxes(scene)
    lines = {s.id: s for s in scene.shapes if s.cls == "weight" and s.id}
    placed: list[tuple[float, float, float, float]] = []
    for label_id, (halo, text) in boxes.items():
        _, li, k, j = label_id.split("-")
        n = numbers["layers"][int(li) - 1]
        texts = [fmt(n["W_before"][int(k) - 1][int(j) - 1], 2), fmt(n["W_after"][int(k) - 1][int(j) - 1], 2)]
        w = max(_text_width(t, text.size) for t in texts)
        h = text.size * 1.3
        line = lines["w-" + label_id[3:]].geom
        x1, y1, x2, y2 = line["x1"], line["y1"], line["x2"], line["y2"]
        t0 = (text.geom["x"] - x1) / (x2 - x1) if x2 != x1 else 0.5
        candidates = sorted(np.arange(0.12, 0.9, 0.04), key=lambda t: abs(t - t0))
        best = None
        for t in candidates:
            cx, cy = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if not any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3] for b in placed):
                best = box
                break
        if best is None:  # no free spot on this line: keep the first choice
            cx, cy = x1 + t0 * (x2 - x1), y1 + t0 * (y2 - y1)
            best = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        placed.append(best)
        cx, cy = (best[0] + best[2]) / 2, (best[1] + best[3]) / 2
        halo.geom.update(x=best[0], y=best[1], w=w, h=h)
        halo.id = "wh-" + label_id[3:]
        text.geom.update(x=cx, y=cy + text.size * 0.36)


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
        extra_height=24 if numbers["class_names"] else 12,
        extra_width=120,
        with_ids=True,
        grads=[np.asarray(n["dL_dW"]) for n in numbers["layers"]],
        spacing=78.0,  # room for the error δ above each neuron and its bias below
        params=before,  # the labels show the weights the forward pass used; update frames change them
    )
    scene = layout.scene
    _place_weight_labels(scene, numbers)
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
    names = numbers["feature_names"]
    if names:  # under each input, where no line passes; long names are cut, the tooltip has them whole
        for k, (x, y) in enumerate(layout.centres[0]):
            short = names[k] if len(names[k]) <= 14 else names[k][:13] + "…"
            scene.text(
                x, y + layout.radius + 13, short, size=9.5, fill=INK, cls="feature-name", title=names[k]
            )
    classes = numbers["class_names"]
    out_column = layout.centres[-1]
    if classes and len(classes) == len(out_column) and len(out_column) > 1:
        for k, (x, y) in enumerate(out_column):
            scene.text(
                x, y + layout.radius + 24, classes[k], size=9.5, fill=INK, italic=True, cls="class-name"
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
    lx = out_column[0][0] + 120
    ly = float(np.mean([c[1] for c in out_column]))
    longest = max(_loss_texts(numbers), key=len)
    box_w = max(92.0, _text_width(longest, 11.5) + 16)
    box_x = lx - 36
    scene.width = max(scene.width, box_x + box_w + 14)
    for x, y in out_column:
        scene.arrow(x + layout.radius, y, box_x, ly, color=GREY)
    scene.rect(
        box_x,
        ly - 24,
        box_w,
        48,
        rx=8,
        fill="#ffffff",
        stroke=INK,
        width=1.6,
        id="loss-box",
        cls="loss",
        title=f"loss = {fmt(numbers['loss'])}",
    )
    scene.text(box_x + box_w / 2, ly - 6, "loss L", size=12, bold=True, id="loss-label")
    scene.text(box_x + box_w / 2, ly + 12, "?", size=11.5, id="loss-text")
    # values appear as the forward pass reaches them
    for s in scene.shapes:
        if s.id and s.id.startswith("nv-"):
            s.text = ""
        if s.cls in ("neuron",):
            s.fill = "#ffffff"
    return scene, ids


def _loss_texts(numbers: dict[str, Any]) -> list[str]:
    """What the loss box shows: '?', then the loss, then 'before → after'."""
    return ["?", fmt(numbers["loss"]), f"{fmt(numbers['loss'])} → {fmt(numbers['loss_after'])}"]


def _sign_style(v: float) -> dict[str, Any]:
    """Sign shown twice, as everywhere in biograd's pictures: blue and solid >= 0, orange and dashed < 0."""
    return {"stroke": BLUE if v >= 0 else ORANGE, "dash": None if v >= 0 else "6 3"}


def _frames(layers: list[Any], numbers: dict[str, Any], ids: dict[str, Any], loss_name: str) -> list[dict]:
    frames: list[dict[str, Any]] = []
    text: dict[str, str] = {}
    fill: dict[str, str] = {}
    style: dict[str, dict[str, Any]] = {}  # weight lines and labels whose sign changed in the update
    tips: dict[str, str] = {}  # the hover text of every neuron and weight, as of this frame
    names = numbers["feature_names"]
    n_layers = len(layers)

    def unit(ci: int, k: int) -> str:
        if ci == 0:
            return f"input x{k + 1}" + (f" ({names[k]})" if names else "")
        return f"neuron {k + 1} of the {layer_title(layers, ci)}"

    def weight_tip(li: int, k: int, j: int, grad: bool = False, after: bool = False) -> str:
        n = numbers["layers"][li]
        tip = (
            f"weight w[{k + 1},{j + 1}] of layer {li + 1} (from {unit(li, j)} to {unit(li + 1, k)}) "
            f"= {fmt(n['W_before'][k][j])}"
        )
        if grad:
            tip += f"\ngradient dL/dw = {fmt(n['dL_dW'][k][j])}"
        if after:
            tip += f"\nafter the update: w = {fmt(n['W_after'][k][j])}"
        return tip

    def neuron_tip(li: int, k: int, *parts: str) -> str:
        n = numbers["layers"][li]
        return "\n".join([unit(li + 1, k), f"bias b = {fmt(n['b_before'][k])}", *parts])

    inputs = numbers["input"]
    for k, v in enumerate(inputs):
        tips[f"n-0-{k + 1}"] = f"{unit(0, k)} = {fmt(v)}"
    for li, n in enumerate(numbers["layers"]):
        for k in range(len(n["z"])):
            tips[f"n-{li + 1}-{k + 1}"] = neuron_tip(li, k)
            for j in range(len(n["W_before"][k])):
                tips[f"w-{li + 1}-{k + 1}-{j + 1}"] = weight_tip(li, k, j)

    def add(stage: str, title: str, formula: str, highlight: list[str], values: dict[str, Any]) -> None:
        frames.append(
            {
                "stage": stage,
                "title": title,
                "formula": formula,
                "highlight": highlight,
                "values": values,
                "state": {
                    "text": dict(text),
                    "fill": dict(fill),
                    "style": {k: dict(v) for k, v in style.items()},
                    "tips": dict(tips),
                },
            }
        )

    for k, v in enumerate(inputs):
        text[f"nv-0-{k + 1}"] = _short(v)
    first = "x = " + _vec(inputs) + "\nEach input neuron holds one feature of your sample."
    if names:
        first += "\n" + "\n".join(f"  x{k + 1} = {fmt(v)}   ({names[k]})" for k, v in enumerate(inputs))
    add("forward", "the sample enters the network", first, ids["neurons"][0], {"x": inputs})
    a_prev_names = [f"x{j + 1}" for j in range(len(inputs))]
    scales = []
    for li, n in enumerate(numbers["layers"]):
        prev = inputs if li == 0 else numbers["layers"][li - 1]["a"]
        a_scale = max(abs(v) for v in n["a"]) or 1.0
        scales.append(a_scale)
        for k in range(len(n["z"])):
            w, b = n["W_before"][k], n["b_before"][k]
            terms = " + ".join(f"{_f(w[j])} × {_f(prev[j])}" for j in range(min(len(w), 6)))
            if len(w) > 6:
                terms += " + …"
            wnames = " + ".join(f"w{j + 1}·{a_prev_names[j]}" for j in range(min(len(w), 4)))
            wnames += " + …" if len(w) > 4 else ""
            act = n["activation"]
            formula = f"z = {wnames} + b\n  = {terms} + {_f(b)}\n  = {fmt(n['z'][k])}\n" + (
                f"a = {act}(z) = {act}({fmt(n['z'][k])}) = {fmt(n['a'][k])}"
                if act != "no activation"
                else f"a = z = {fmt(n['a'][k])}  (no activation)"
            )
            nid = ids["neurons"][li + 1][k]
            text[f"nv-{li + 1}-{k + 1}"] = _short(n["a"][k])
            fill[nid] = signed_color(n["a"][k], a_scale)
            tips[nid] = neuron_tip(
                li, k, f"z = w·x + b = {fmt(n['z'][k])}", f"activation a = {fmt(n['a'][k])}"
            )
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
    detail = numbers["loss_detail"]
    if detail is not None:
        body = "\n".join(detail["lines"])
    else:
        body = (
            f"output ŷ = {_vec(numbers['output'])}\ntarget y = {_vec(numbers['target'])}\n"
            f"L = {loss_name}(ŷ, y) = {fmt(numbers['loss'])}\n\n"
            f"dL/dŷ = {_vec(numbers['dL_doutput'])}"
        )
    add(
        "loss",
        f"how wrong is the output? ({loss_name})",
        f"{body}\n(dL/dŷ: how much L changes when each output changes a little; the backward pass starts "
        "here)",
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
                lines.append(f"dL/da = dL/dŷ{'' if len(n['z']) == 1 else f'{k + 1}'} = {fmt(n['dL_da'][k])}")
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
                slope = n["act_prime"][k]
                lines.append(
                    f"δ = dL/da · act'(z) = {_f(n['dL_da'][k])} × {_f(slope)} = {fmt(n['delta'][k])}"
                )
                if slope == 0:
                    lines.append(
                        "  (act'(z) = 0: the activation is flat here, so no error passes through this neuron)"
                    )
                elif abs(slope) < 0.1:
                    lines.append(
                        f"  (act'(z) = {fmt(slope, 2)}: the {n['activation']} is nearly flat at z = "
                        f"{fmt(n['z'][k], 3)} (saturated), so only {abs(slope):.1%} of the error reaches z; "
                        "this neuron's weights barely learn from this sample)"
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
            nid = ids["neurons"][li + 1][k]
            tips[nid] = neuron_tip(
                li,
                k,
                f"z = w·x + b = {fmt(n['z'][k])}",
                f"activation a = {fmt(n['a'][k])}",
                f"error δ = dL/dz = {fmt(n['delta'][k])}",
            )
            for j in range(len(w_grad)):
                tips[f"w-{li + 1}-{k + 1}-{j + 1}"] = weight_tip(li, k, j, grad=True)
            highlight = [nid] + [f"w-{li + 1}-{k + 1}-{j + 1}" for j in range(len(w_grad))]
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
                flip = "   (changes sign)" if (wb[j] >= 0) != (wa[j] >= 0) else ""
                lines.append(f"w{j + 1} ← {fmt(wb[j])} − {fmt(lr)} × {_f(wg[j])} = {fmt(wa[j])}{flip}")
            if len(wb) > 7:
                lines.append(f"… ({len(wb) - 7} more)")
            lines.append(
                f"b  ← {fmt(n['b_before'][k])} − {fmt(lr)} × {_f(n['dL_db'][k])} = {fmt(n['b_after'][k])}"
            )
            # the drawing now shows the new values (labels of lines exist for small layers only), and a
            # weight whose sign changed is redrawn in the colour and dash of its new sign
            text[f"nb-{li + 1}-{k + 1}"] = f"b={fmt(n['b_after'][k], 2)}"
            for j in range(len(wa)):
                wid = f"{li + 1}-{k + 1}-{j + 1}"
                text[f"wl-{wid}"] = fmt(wa[j], 2)
                tips[f"w-{wid}"] = weight_tip(li, k, j, grad=True, after=True)
                if (wb[j] >= 0) != (wa[j] >= 0):
                    style[f"w-{wid}"] = _sign_style(wa[j])
                    style[f"wl-{wid}"] = {"fill": _sign_style(wa[j])["stroke"]}
            nid = ids["neurons"][li + 1][k]
            tips[nid] += f"\nafter the update: b = {fmt(n['b_after'][k])}"
            add(
                "update",
                f"{layer_title(layers, li + 1)}, neuron {k + 1}: w ← w − lr × dL/dw",
                "\n".join(lines),
                [nid] + [f"w-{li + 1}-{k + 1}-{j + 1}" for j in range(len(wb))],
                {"W_before": wb, "W_after": wa, "b_before": n["b_before"][k], "b_after": n["b_after"][k]},
            )
    # the second forward pass: the same sample through the new weights
    lines = ["The same sample, forward again through the new weights:"]
    for li, n in enumerate(numbers["layers"]):
        lines.append(f"{layer_title(layers, li + 1)}: a = {_vec(n['a'])} → {_vec(n['a_after'])}")
        for k in range(len(n["z"])):
            nid = ids["neurons"][li + 1][k]
            text[f"nv-{li + 1}-{k + 1}"] = _short(n["a_after"][k])
            fill[nid] = signed_color(n["a_after"][k], scales[li])
            text.pop(f"nd-{li + 1}-{k + 1}", None)  # the errors belonged to the old weights
            tips[nid] += f"\nforward again: z = {fmt(n['z_after'][k])}, a = {fmt(n['a_after'][k])}"
    text["loss-text"] = _loss_texts(numbers)[-1]
    went_down = numbers["loss_after"] < numbers["loss"]
    change = "went down" if went_down else "did not go down (try a smaller lr)"
    lines += [
        "",
        f"loss before the step: {fmt(numbers['loss'])}",
        f"loss after the step (same sample, new weights): {fmt(numbers['loss_after'])}",
        f"The loss {change}. Training repeats this step over many samples.",
    ]
    add(
        "forward again",
        "after the step: forward again with the new weights",
        "\n".join(lines),
        [n for column in ids["neurons"][1:] for n in column] + ["loss-box"],
        {"loss": numbers["loss"], "loss_after": numbers["loss_after"]},
    )
    for i, frame in enumerate(frames):
        frame["index"] = i
    return frames


_CSS = """
h1{font-size:22px;margin:0 0 6px} .intro{max-width:1100px;color:#444;font-size:14px;line-height:1.45}
.controls{margin:10px 0;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.controls button{font-size:15px;padding:6px 14px;border:1px solid #222;background:#fff;
  border-radius:6px;cursor:pointer}
.controls button:focus{outline:3px solid #0072B2} #slider{flex:1 1 160px;max-width:320px;min-width:100px}
#counter{font-weight:bold}
.wrap{display:grid;grid-template-columns:minmax(0,1fr);gap:18px;align-items:start}
@media (min-width:960px){.wrap{grid-template-columns:minmax(0,3fr) minmax(300px,2fr)}
  #panel{position:sticky;top:8px}}
#net{min-width:0} #net svg{display:block;width:100%;height:auto}
#panel{min-width:0;background:#f4f4f4;border:1px solid #999;border-radius:8px;padding:12px 16px}
#stage{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:#555;font-weight:bold}
#frame-title{font-size:16px;margin:4px 0 10px}
#formula{font-size:14px;line-height:1.5;white-space:pre-wrap;overflow-wrap:anywhere;margin:0;
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
  svg.querySelectorAll('[id^="nb-"], [id^="wl-"]').forEach(e => {
    original[e.id] = {text: e.textContent, fill: e.getAttribute('fill')};
  });
  svg.querySelectorAll('line.weight').forEach(e => {
    original[e.id] = {stroke: e.getAttribute('stroke'), dash: e.getAttribute('stroke-dasharray')};
  });
  const box = document.getElementById('loss-box');
  const boxWidth = parseFloat(box.getAttribute('width'));
  const boxCentre = parseFloat(box.getAttribute('x')) + boxWidth / 2;
  let current = 0;
  function tip(e, text){  // the hover text of an element: its <title> child
    let t = e.querySelector('title');
    if (!t) { t = document.createElementNS('http://www.w3.org/2000/svg', 'title'); e.prepend(t); }
    t.textContent = text;
  }
  function fit(){  // every box as large as its text: weight labels' white halos and the loss box
    svg.querySelectorAll('[id^="wh-"]').forEach(h => {
      const t = document.getElementById('wl-' + h.id.slice(3));
      if (!t || !t.textContent) return;
      const b = t.getBBox();
      h.setAttribute('x', b.x - 3); h.setAttribute('y', b.y - 1);
      h.setAttribute('width', b.width + 6); h.setAttribute('height', b.height + 2);
    });
    let need = boxWidth;
    ['loss-text', 'loss-label'].forEach(id => {
      const t = document.getElementById(id);
      if (t) need = Math.max(need, t.getBBox().width + 16);
    });
    box.setAttribute('width', need); box.setAttribute('x', boxCentre - need / 2);
  }
  function show(i){
    current = Math.max(0, Math.min(frames.length - 1, i));
    const f = frames[current];
    const st = f.state;
    svg.querySelectorAll('.hl').forEach(e => e.classList.remove('hl'));
    svg.querySelectorAll('.dim').forEach(e => e.classList.remove('dim'));
    const lit = new Set(f.highlight);
    svg.querySelectorAll('.weight, .neuron, .input-node').forEach(e => {
      if (!lit.has(e.id)) e.classList.add('dim');
    });
    f.highlight.forEach(id => { const e = document.getElementById(id); if (e) e.classList.add('hl'); });
    svg.querySelectorAll('[id^="nv-"], [id^="nd-"], #loss-text').forEach(e => {
      e.textContent = (e.id in st.text) ? st.text[e.id] : (e.id === 'loss-text' ? '?' : '');
    });
    svg.querySelectorAll('[id^="nb-"], [id^="wl-"]').forEach(e => {  // weights and biases: new after update
      e.textContent = (e.id in st.text) ? st.text[e.id] : original[e.id].text;
      const s = st.style[e.id];
      e.setAttribute('fill', (s && s.fill) || original[e.id].fill);
    });
    svg.querySelectorAll('line.weight').forEach(e => {  // colour and dash follow the sign
      const s = st.style[e.id], o = original[e.id];
      e.setAttribute('stroke', (s && s.stroke) || o.stroke);
      const dash = s ? s.dash : o.dash;
      if (dash) e.setAttribute('stroke-dasharray', dash); else e.removeAttribute('stroke-dasharray');
    });
    Object.entries(st.tips).forEach(([id, text]) => {
      const e = document.getElementById(id);
      if (e) tip(e, text);
    });
    svg.querySelectorAll('.neuron').forEach(e => {
      e.setAttribute('fill', st.fill[e.id] || '#ffffff');
    });
    Object.entries(st.fill).forEach(([id, color]) => {
      const label = document.getElementById('nv-' + id.slice(2));
      if (label) label.setAttribute('fill', lum(color) < 0.5 ? '#ffffff' : '#222222');
    });
    fit();
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
