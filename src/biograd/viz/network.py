"""A network drawn as neurons and connections, with its real weights, gradients and activations.

Each neuron is a circle, in columns by layer (inputs on the left). Each weight is one line from an input
to the neuron that uses it: blue and solid when positive, orange and dashed when negative, thicker when
larger. Given a sample ``x``, neurons are filled by their activation a = act(z), z = w·x + b. Hover over
anything for its exact numbers. Layers wider than 10 neurons would be a hairball of lines, so their weights
are drawn as a heatmap of the weight matrix instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from biograd.tensor import Tensor, no_grad
from biograd.viz._draw import BLUE, GREY, INK, ORANGE, PALE, Picture, Scene, fmt, signed_color, text_color_on

SMALL = 10  # layers up to this many neurons are drawn neuron by neuron, with numbers
_SHOW = ("weights", "gradients", "activations")


@dataclass
class DenseLayer:
    """One fully connected layer as the pictures see it: z = x @ W^T + b, then a = activation(z)."""

    module: Any  # the Linear or Neuron
    activation: Any  # an activation module, or None (a = z)
    number: int  # 1, 2, ... in the network

    @property
    def is_neuron(self) -> bool:
        return self.module.weight.ndim == 1

    @property
    def weight(self) -> np.ndarray:
        """W as (out, in): row k holds neuron k's weights."""
        w = np.asarray(self.module.weight.data, dtype=np.float64)
        return w[None, :] if w.ndim == 1 else w

    @property
    def bias(self) -> np.ndarray:
        b = self.module.bias
        if b is None:
            return np.zeros(self.weight.shape[0])
        return np.asarray(b.data, dtype=np.float64).reshape(-1)

    @property
    def weight_grad(self) -> np.ndarray | None:
        g = self.module.weight.grad
        return None if g is None else np.asarray(g, dtype=np.float64).reshape(self.weight.shape)

    @property
    def bias_grad(self) -> np.ndarray | None:
        b = self.module.bias
        if b is None or b.grad is None:
            return None
        return np.asarray(b.grad, dtype=np.float64).reshape(-1)

    @property
    def activation_name(self) -> str:
        if self.activation is None or type(self.activation).__name__ == "Identity":
            return "no activation"
        return type(self.activation).__name__

    def pre_activation(self, x: Tensor) -> Tensor:
        """z = x @ W^T + b computed by the engine, exactly as the layer computes it."""
        if self.is_neuron:
            return x @ self.module.weight + self.module.bias
        return self.module(x)

    def activate(self, z: Tensor) -> Tensor:
        return z if self.activation is None else self.activation(z)


def dense_layers(model: Any) -> list[DenseLayer]:
    """Split a Neuron, Linear, Sequential or MLP into fully connected layers with their activations.

    Dropout and Flatten are skipped (pictures show the network as it predicts). Anything else raises a
    ValueError naming the layer.
    """
    from biograd.nn.activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
    from biograd.nn.layers import Dropout, Flatten, Linear, Neuron, Sequential

    activations = (GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh)
    if isinstance(model, (Neuron, Linear)):
        modules = [model]
    elif isinstance(model, Sequential):
        modules = list(model)
    else:
        raise TypeError(
            "biograd.viz draws fully connected networks: a Neuron, a Linear layer, or a Sequential/MLP of "
            f"Linear layers and activations. Got {type(model).__name__}."
        )
    layers: list[DenseLayer] = []
    for position, module in enumerate(modules):
        if isinstance(module, (Linear, Neuron)):
            act = module.activation if isinstance(module, Neuron) else None
            layers.append(DenseLayer(module, act, len(layers) + 1))
        elif isinstance(module, activations):
            if not layers or layers[-1].activation is not None:
                raise ValueError(
                    f"Layer {position} ({type(module).__name__}) is an activation that does not follow a "
                    "Linear layer; biograd.viz draws Linear -> activation pairs."
                )
            layers[-1].activation = module
        elif isinstance(module, (Dropout, Flatten)):
            continue
        else:
            raise ValueError(
                f"Layer {position} of the model is a {type(module).__name__}, which biograd.viz cannot draw "
                "as neurons; it draws Linear/Neuron layers with activations (ReLU, Sigmoid, Tanh, ...)."
            )
    if not layers:
        raise ValueError("The model has no Linear or Neuron layer to draw.")
    for previous, layer in itertools.pairwise(layers):
        if previous.weight.shape[0] != layer.weight.shape[1]:
            raise ValueError(
                f"Layer {layer.number} expects {layer.weight.shape[1]} inputs but layer {previous.number} "
                f"has {previous.weight.shape[0]} outputs."
            )
    return layers


def one_sample(x: Any, n_in: int, dtype: Any) -> np.ndarray:
    """One sample as a (1, n_in) array, with an error in the user's terms otherwise."""
    arr = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=dtype)
    if arr.ndim == 1 and arr.shape[0] == n_in:
        return arr[None, :]
    if arr.ndim == 2 and arr.shape == (1, n_in):
        return arr
    raise ValueError(
        f"x must be one sample with {n_in} features (shape ({n_in},) or (1, {n_in})); got shape {arr.shape}. "
        "Pick one row, e.g. x[0]."
    )


def forward_values(layers: list[DenseLayer], x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(z, a) of every layer for one sample, computed by the engine without recording a graph."""
    out = []
    with no_grad():
        h = Tensor(x, dtype=layers[0].module.weight.dtype)
        for layer in layers:
            z = layer.pre_activation(h)
            h = layer.activate(z)
            out.append(
                (np.asarray(z.data, np.float64).reshape(-1), np.asarray(h.data, np.float64).reshape(-1))
            )
    return out


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------


@dataclass
class Layout:
    """Where everything went: neuron centres per column, and the scene."""

    scene: Scene
    centres: list[list[tuple[float, float]]]
    small: list[bool]
    radius: float
    top: float
    bottom: float


def layer_title(layers: list[DenseLayer], i: int) -> str:
    if i == 0:
        return "inputs"
    if i == len(layers):
        return "output layer"
    return f"hidden layer {i}"


def draw_network(
    layers: list[DenseLayer],
    line_values: list[np.ndarray],
    line_label: str,
    inputs: np.ndarray | None = None,
    forward: list[tuple[np.ndarray, np.ndarray]] | None = None,
    title: str = "",
    subtitle: str = "",
    small_limit: int = SMALL,
    extra_height: float = 0.0,
    extra_width: float = 0.0,
    with_ids: bool = False,
    grads: list[np.ndarray | None] | None = None,
) -> Layout:
    """Lay out and draw the network; ``line_values[l]`` (out, in) colors the lines into layer l + 1."""
    sizes = [layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in layers]
    small = [n <= small_limit for n in sizes]
    col_gap = 210.0
    spacing = 58.0
    radius = 17.0
    strip_h = 330.0
    col_heights = [n * spacing if s else strip_h for n, s in zip(sizes, small, strict=True)]
    inner_h = max(max(col_heights), 3 * spacing)
    top = 112.0
    width = 80 + col_gap * (len(sizes) - 1) + 150 + extra_width
    height = top + inner_h + 150 + extra_height
    scene = Scene(max(width, 640), height, title)
    scene.text(20, 30, title, size=18, anchor="start", bold=True)
    if subtitle:
        scene.text(20, 52, subtitle, size=12, anchor="start", fill=GREY)
    mid = top + inner_h / 2
    xs = [80 + col_gap * i for i in range(len(sizes))]
    centres: list[list[tuple[float, float]]] = []
    for n, s, x in zip(sizes, small, xs, strict=True):
        if s:
            y0 = mid - (n - 1) * spacing / 2
            centres.append([(x, y0 + k * spacing) for k in range(n)])
        else:
            cell = strip_h / n
            y0 = mid - strip_h / 2
            centres.append([(x, y0 + (k + 0.5) * cell) for k in range(n)])
    scale = max((float(np.max(np.abs(v))) for v in line_values if v.size), default=1.0) or 1.0
    # connections
    for li, layer in enumerate(layers):
        values = line_values[li]
        src, dst = centres[li], centres[li + 1]
        if small[li] and small[li + 1]:
            label_them = values.size <= 6  # more labels than that overlap: hover instead
            for k in range(values.shape[0]):
                for j in range(values.shape[1]):
                    v = float(values[k, j])
                    x1, y1 = src[j]
                    x2, y2 = dst[k]
                    tip = (
                        f"weight w[{k + 1},{j + 1}] of layer {li + 1} (from {_unit(layers, li, j)} to "
                        f"{_unit(layers, li + 1, k)}) = {fmt(layer.weight[k, j])}"
                    )
                    g = grads[li] if grads else layer.weight_grad
                    if g is not None:
                        tip += f"\ngradient dL/dw = {fmt(g[k, j])}"
                    data = {"layer": li + 1, "to": k + 1, "from": j + 1, "value": float(v)}
                    scene.line(
                        x1 + radius,
                        y1,
                        x2 - radius,
                        y2,
                        stroke=BLUE if v >= 0 else ORANGE,
                        width=0.7 + 6.0 * abs(v) / scale,
                        dash=None if v >= 0 else "6 3",
                        cls="weight",
                        title=tip,
                        data=data,
                        id=f"w-{li + 1}-{k + 1}-{j + 1}" if with_ids else None,
                        opacity=0.85,
                    )
                    if label_them:
                        t = 0.22 + 0.22 * (j % 2) + 0.1 * (k % 2)
                        lx, ly = x1 + radius + t * (x2 - x1 - 2 * radius), y1 + t * (y2 - y1)
                        scene.text(
                            lx,
                            ly - 3,
                            fmt(v, 2),
                            size=9.5,
                            fill=BLUE if v >= 0 else ORANGE,
                            cls="weight-label",
                        )
        else:
            _heatmap(scene, values, xs[li] + 24, xs[li + 1] - 24, top, inner_h, li + 1, scale, line_label)
    # neurons
    for ci, s in enumerate(small):
        if ci == 0:
            vals = None if inputs is None else inputs.reshape(-1)
        else:
            vals = None if forward is None else forward[ci - 1][1]
        vscale = float(np.max(np.abs(vals))) if vals is not None and vals.size else 1.0
        layer = layers[ci - 1] if ci else None
        if s:
            for k, (x, y) in enumerate(centres[ci]):
                v = None if vals is None else float(vals[k])
                fill = "#ffffff" if v is None else signed_color(v, vscale or 1.0)
                tip = _unit(layers, ci, k)
                if layer is not None:
                    tip += f"\nbias b = {fmt(layer.bias[k])}"
                if v is not None:
                    z = forward[ci - 1][0][k] if ci and forward else None
                    tip += (f"\nz = w·x + b = {fmt(z)}" if z is not None else "") + (
                        f"\nactivation a = {fmt(v)}" if ci else f"\nvalue = {fmt(v)}"
                    )
                scene.circle(
                    x,
                    y,
                    radius,
                    fill=fill,
                    stroke=INK,
                    width=1.6,
                    cls="neuron" if ci else "input-node",
                    title=tip,
                    id=f"n-{ci}-{k + 1}" if with_ids else None,
                    data={"layer": ci, "index": k + 1, **({"activation": v} if v is not None else {})},
                )
                if v is not None:
                    scene.text(
                        x,
                        y + 4,
                        fmt(v, 2),
                        size=9.5,
                        fill=text_color_on(fill),
                        id=f"nv-{ci}-{k + 1}" if with_ids else None,
                    )
                elif not ci:
                    scene.text(x, y + 4, f"x{k + 1}", size=10, fill=INK, italic=True)
                if layer is not None:
                    scene.text(
                        x + radius + 3,
                        y + radius + 9,
                        f"b={fmt(layer.bias[k], 2)}",
                        size=9,
                        anchor="start",
                        fill=GREY,
                        cls="bias-label",
                    )
        else:
            _strip(scene, centres[ci], vals, vscale, layer, ci, layers)
    # column captions
    for ci, x in enumerate(xs):
        caption = layer_title(layers, ci)
        detail = f"{sizes[ci]} {'features' if ci == 0 else 'neurons' if sizes[ci] > 1 else 'neuron'}"
        if ci:
            detail += f", {layers[ci - 1].activation_name}"
        scene.text(x, top - 28, caption, size=12, bold=True)
        scene.text(x, top - 14, detail, size=10.5, fill=GREY)
    _legend(scene, top + inner_h + 50, line_label, scale, inputs is not None or forward is not None)
    return Layout(scene, centres, small, radius, top, top + inner_h)


def _unit(layers: list[DenseLayer], column: int, k: int) -> str:
    if column == 0:
        return f"input {k + 1}"
    return f"neuron {k + 1} of the {layer_title(layers, column)}"


def _blocks(matrix: np.ndarray, max_cells: int = 48) -> np.ndarray:
    """Average a large matrix in blocks so that at most max_cells x max_cells cells remain."""
    m = np.atleast_2d(matrix)
    rows = np.array_split(np.arange(m.shape[0]), min(m.shape[0], max_cells))
    cols = np.array_split(np.arange(m.shape[1]), min(m.shape[1], max_cells))
    return np.array([[m[np.ix_(r, c)].mean() for c in cols] for r in rows])


def _heatmap(
    scene: Scene,
    values: np.ndarray,
    x0: float,
    x1: float,
    top: float,
    height: float,
    layer: int,
    scale: float,
    label: str,
) -> None:
    cells = _blocks(values)
    n_out, n_in = cells.shape
    w = (x1 - x0) / n_in
    h = min(height / n_out, w * 3)
    y0 = top + (height - h * n_out) / 2
    averaged = cells.shape != values.shape
    for k in range(n_out):
        for j in range(n_in):
            v = float(cells[k, j])
            scene.rect(
                x0 + j * w,
                y0 + k * h,
                w,
                h,
                fill=signed_color(v, scale),
                cls="weight-cell",
                title=f"{'block mean of ' if averaged else ''}{label} [{k + 1},{j + 1}] = {fmt(v)}",
                data={"layer": layer, "value": v},
            )
    scene.rect(x0, y0, x1 - x0, h * n_out, stroke=GREY, width=1, cls="heatmap-frame")
    note = f"{label} matrix {values.shape[0]}x{values.shape[1]}" + (" (block means)" if averaged else "")
    scene.text((x0 + x1) / 2, y0 + h * n_out + 14, note, size=9.5, fill=GREY)
    scene.text((x0 + x1) / 2, y0 + h * n_out + 26, "rows: neurons, columns: inputs", size=9, fill=GREY)


def _strip(
    scene: Scene,
    centres: list[tuple[float, float]],
    vals: np.ndarray | None,
    vscale: float,
    layer: DenseLayer | None,
    column: int,
    layers: list[DenseLayer],
) -> None:
    """A wide layer as a column of cells, one per neuron, filled by activation (or by bias)."""
    n = len(centres)
    cell = centres[1][1] - centres[0][1] if n > 1 else 10.0
    x = centres[0][0]
    shown = vals if vals is not None else (layer.bias if layer is not None else None)
    sc = float(np.max(np.abs(shown))) if shown is not None and shown.size else 1.0
    for k, (cx, cy) in enumerate(centres):
        v = None if shown is None else float(shown[k])
        tip = _unit(layers, column, k)
        if layer is not None:
            tip += f"\nbias b = {fmt(layer.bias[k])}"
        if vals is not None:
            tip += f"\n{'activation' if column else 'value'} = {fmt(vals[k])}"
        scene.rect(
            cx - 9,
            cy - cell / 2,
            18,
            cell,
            fill="#ffffff" if v is None else signed_color(v, sc or 1.0),
            stroke="none",
            cls="neuron-cell" if column else "input-cell",
            title=tip,
        )
    scene.rect(x - 9, centres[0][1] - cell / 2, 18, cell * n, stroke=INK, width=1.2)
    what = "activation" if vals is not None else ("bias" if layer is not None else "")
    if what:
        scene.text(x, centres[-1][1] + cell / 2 + 14, f"fill: {what}", size=9.5, fill=GREY)


def _legend(scene: Scene, y: float, label: str, scale: float, filled: bool) -> None:
    scene.line(24, y, 64, y, stroke=BLUE, width=4)
    scene.text(72, y + 4, f"positive {label}", size=11, anchor="start")
    scene.line(24, y + 22, 64, y + 22, stroke=ORANGE, width=4, dash="6 3")
    scene.text(72, y + 26, f"negative {label} (dashed)", size=11, anchor="start")
    scene.text(
        24,
        y + 48,
        f"line thickness ∝ |{label}|; thickest = {fmt(scale, 3)}. Hover for exact numbers.",
        size=11,
        anchor="start",
        fill=GREY,
    )
    if filled:
        x0 = 330
        for i, v in enumerate(np.linspace(-1, 1, 9)):
            scene.rect(x0 + i * 16, y - 8, 16, 16, fill=signed_color(v, 1.0), stroke=PALE)
        scene.text(x0, y + 24, "fill of neurons and matrix cells", size=11, anchor="start")
        scene.text(x0 - 4, y + 4, "−", size=14, anchor="end")
        scene.text(x0 + 9 * 16 + 4, y + 4, "+", size=14, anchor="start")


def network(model: Any, x: Any = None, show: str = "weights", title: str | None = None) -> Picture:
    """Draw a network's neurons and weights with their real numbers.

    Args:
        model: a :class:`~biograd.nn.Neuron`, :class:`~biograd.nn.Linear`, or a Sequential/MLP of Linear
            layers and activations.
        x: one sample (shape (n_features,)); neurons are then filled by their activation a = act(w·x + b).
        show: what the lines show: ``"weights"`` (w), ``"gradients"`` (dL/dw, after ``loss.backward()``) or
            ``"activations"`` (lines show the weights, neurons the activations for ``x``, which is required).
        title: the picture's title.

    Returns:
        A :class:`~biograd.viz.Picture`: displays in Jupyter, ``.save("net.svg" | ".png" | ".html")``.
        In its SVG every neuron is a ``<circle class="neuron">`` (inputs: ``class="input-node"``) and every
        weight a ``<line class="weight">`` (layers wider than 10 neurons: heatmap cells
        ``class="weight-cell"``).
    """
    if show not in _SHOW:
        raise ValueError(
            f"The 'show' parameter of network must be a str among {set(_SHOW)}. Got {show!r} instead."
        )
    layers = dense_layers(model)
    if show == "activations" and x is None:
        raise ValueError("show='activations' needs a sample: pass x=, one row of your data (e.g. x[0]).")
    inputs = forward = None
    if x is not None:
        inputs = one_sample(x, layers[0].weight.shape[1], np.float64)
        forward = forward_values(layers, inputs.astype(layers[0].module.weight.dtype))
    if show == "gradients":
        grads = [layer.weight_grad for layer in layers]
        if any(g is None for g in grads):
            raise ValueError(
                "show='gradients' needs gradients, but the model has none yet: compute a loss and call "
                "loss.backward() first (or see every step with viz.backprop)."
            )
        values, label = grads, "gradient dL/dw"
    else:
        values, label = [layer.weight for layer in layers], "weight"
    what = {"weights": "weights", "gradients": "gradients dL/dw", "activations": "activations"}[show]
    subtitle = "Each circle is a neuron, each line a weight (the input is multiplied by it)."
    if x is not None:
        subtitle += "\nFill: each neuron's activation a = act(w·x + b) for this sample."
    layout = draw_network(
        layers,
        values,
        label,
        inputs=inputs,
        forward=forward,
        title=title or f"Network {what}",
        subtitle=subtitle,
    )
    return Picture(layout.scene)
