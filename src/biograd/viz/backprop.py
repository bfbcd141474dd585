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
from biograd.viz._draw import GREY, INK, PALE, Picture, Scene, fmt, html_page, text_color_on
from biograd.viz.backprop_scene import MAX_NEURONS, _f, _frames, _scene, _vec
from biograd.viz.layers import dense_layers, one_sample
from biograd.viz.markup import Markup, html, script_json
from biograd.viz.network import layer_title


def _wrap(formula: str, columns: int) -> list[str]:
    """The lines of a formula, each cut at ``columns`` characters (continuations indented)."""
    out: list[str] = []
    for line in formula.split("\n"):
        out += textwrap.wrap(line, columns, subsequent_indent="    ", drop_whitespace=False) or [""]
    return out


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
