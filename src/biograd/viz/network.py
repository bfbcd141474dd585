"""A network drawn as neurons and connections, with its real weights, gradients and activations.

Each neuron is a circle, in columns by layer (inputs on the left). Each weight is one line from an input
to the neuron that uses it: blue and solid when positive, orange and dashed when negative, thicker when
larger. Given a sample ``x``, neurons are filled by their activation a = act(z), z = w·x + b. Hover over
anything for its exact numbers. Layers wider than 10 neurons would be a hairball of lines, so their weights
are drawn as a heatmap of the weight matrix instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biograd.tensor import Tensor, no_grad
from biograd.viz._draw import Picture, Scene, fmt, signed_color, text_color_on
from biograd.viz.layers import DenseLayer, dense_layers, forward_values, input_steps, one_network, one_sample
from biograd.viz.palette import BLUE, GREY, INK, ORANGE, PALE

SMALL = 10  # layers up to this many neurons are drawn neuron by neuron, with numbers
_SHOW = ("weights", "gradients", "activations")


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


def _label_box(scene: Scene, x: float, y: float, text: str, size: float, **kw: Any) -> None:
    """Text on a white, slightly transparent box, so it reads on top of lines."""
    w = len(text) * size * 0.6 + 4
    scene.rect(x - w / 2, y - size * 0.85, w, size * 1.15, fill="#ffffff", cls="label-halo", opacity=0.85)
    scene.text(x, y, text, size=size, **kw)


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
    params: list[tuple[np.ndarray, np.ndarray]] | None = None,
    spacing: float = 58.0,
    input_names: Sequence[str] | None = None,
    per_layer_scale: bool = False,
) -> Layout:
    """Lay out and draw the network; ``line_values[l]`` (out, in) colors the lines into layer l + 1.

    ``params`` are the (W, b) written in labels and hover texts (default: the layers' current values;
    the backprop pictures pass the values from before the update). ``input_names`` label the input
    neurons (column names instead of x1, x2, ...). ``per_layer_scale``: each layer's lines and matrix
    cells are scaled to that layer's largest |value| (a hidden layer of small weights stays visible
    next to an output layer rescaled to a target's units); the legend says so.
    """
    params = params or [(layer.weight, layer.bias) for layer in layers]
    sizes = [layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in layers]
    small = [n <= small_limit for n in sizes]
    col_gap = 210.0
    radius = 17.0
    strip_h = 330.0
    col_heights = [n * spacing if s else strip_h for n, s in zip(sizes, small, strict=True)]
    inner_h = max(max(col_heights), 3 * spacing)
    filled = inputs is not None or forward is not None
    any_lines = any(small[i] and small[i + 1] for i in range(len(layers)))
    any_heatmap = not all(small[i] and small[i + 1] for i in range(len(layers)))
    top = 148.0 if any_heatmap else 112.0  # room for the matrix captions above the matrices
    legend_h = legend_height(any_lines, any_heatmap, filled)
    width = 80 + col_gap * (len(sizes) - 1) + 150 + extra_width
    height = top + inner_h + 70 + legend_h + extra_height
    scene = Scene(max(width, 660), height, title)
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
    scales = [
        (float(np.max(np.abs(v))) if v.size else 0.0) or 1.0 if per_layer_scale else scale
        for v in line_values
    ]
    # connections
    for li, layer in enumerate(layers):
        values = line_values[li]
        weight, _ = params[li]
        src, dst = centres[li], centres[li + 1]
        if small[li] and small[li + 1]:
            label_them = values.size <= 6  # more labels than that overlap: hover instead
            labels = []
            for k in range(values.shape[0]):
                for j in range(values.shape[1]):
                    v = float(values[k, j])
                    x1, y1 = src[j]
                    x2, y2 = dst[k]
                    tip = (
                        f"weight w[{k + 1},{j + 1}] of layer {li + 1} (from {_unit(layers, li, j)} to "
                        f"{_unit(layers, li + 1, k)}) = {fmt(weight[k, j])}"
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
                        width=0.7 + 6.0 * abs(v) / scales[li],
                        dash=None if v >= 0 else "6 3",
                        cls="weight",
                        title=tip,
                        data=data,
                        id=f"w-{li + 1}-{k + 1}-{j + 1}" if with_ids else None,
                        opacity=0.85,
                    )
                    if label_them:
                        # each destination neuron's lines are labelled at their own distance along the
                        # line, so labels of lines that cross do not land on each other
                        t = 0.2 + 0.6 * (k + 0.5) / values.shape[0]
                        lx = x1 + radius + t * (x2 - x1 - 2 * radius)
                        ly = y1 + t * (y2 - y1)
                        labels.append((lx, ly + 3.5, v, f"wl-{li + 1}-{k + 1}-{j + 1}"))
            for lx, ly, v, label_id in labels:  # on top of every line of this layer
                _label_box(
                    scene,
                    lx,
                    ly,
                    fmt(v, 2),
                    9.5,
                    fill=BLUE if v >= 0 else ORANGE,
                    bold=True,
                    cls="weight-label",
                    id=label_id if with_ids else None,
                )
        else:
            _heatmap(
                scene,
                values,
                xs[li] + 24,
                xs[li + 1] - 24,
                dst,
                small[li + 1],
                spacing,
                li + 1,
                scales[li],
                layers,
            )
    # neurons
    for ci, s in enumerate(small):
        if ci == 0:
            vals = None if inputs is None else inputs.reshape(-1)
        else:
            vals = None if forward is None else forward[ci - 1][1]
        vscale = float(np.max(np.abs(vals))) if vals is not None and vals.size else 1.0
        layer = layers[ci - 1] if ci else None
        bias = params[ci - 1][1] if ci else None
        if s:
            for k, (x, y) in enumerate(centres[ci]):
                v = None if vals is None else float(vals[k])
                fill = "#ffffff" if v is None else signed_color(v, vscale or 1.0)
                tip = _unit(layers, ci, k)
                if not ci and input_names is not None:
                    tip = f"input {k + 1}: {input_names[k]}"
                if bias is not None:
                    tip += f"\nbias b = {fmt(bias[k])}"
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
                elif not ci and input_names is not None:
                    name = str(input_names[k])
                    name = name if len(name) <= 12 else name[:11] + "…"
                    scene.text(x - radius - 4, y + 4, name, size=10, fill=INK, anchor="end", cls="input-name")
                elif not ci:
                    scene.text(x, y + 4, f"x{k + 1}", size=10, fill=INK, italic=True)
                if bias is not None:  # below the circle, where no line passes
                    scene.text(
                        x,
                        y + radius + 11,
                        f"b={fmt(bias[k], 2)}",
                        size=9,
                        fill=GREY,
                        cls="bias-label",
                        id=f"nb-{ci}-{k + 1}" if with_ids else None,
                    )
        else:
            _strip(scene, centres[ci], vals, bias, ci, layers)
    # column captions
    for ci, x in enumerate(xs):
        caption = layer_title(layers, ci)
        detail = f"{sizes[ci]} {'feature' if ci == 0 else 'neuron'}{'s' if sizes[ci] > 1 else ''}"
        if ci:
            detail += f", {layers[ci - 1].activation_name}"
        scene.text(x, 84, caption, size=12, bold=True)
        scene.text(x, 98, detail, size=10.5, fill=GREY)
    _legend(
        scene,
        top + inner_h + 62,
        line_label,
        None if per_layer_scale else scale,
        any_lines,
        any_heatmap,
        filled,
    )
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
    dst: list[tuple[float, float]],
    dst_small: bool,
    spacing: float,
    layer: int,
    scale: float,
    layers: list[DenseLayer],
) -> None:
    """The weight (or gradient) matrix W of one layer as colored cells. Row k holds the weights into neuron
    k of the next layer and sits at that neuron's height; column j is input j."""
    cells = _blocks(values)
    n_out, n_in = cells.shape
    w = (x1 - x0) / n_in
    step = spacing if dst_small or len(dst) < 2 else dst[1][1] - dst[0][1]
    y0, y1 = dst[0][1] - step / 2, dst[-1][1] + step / 2
    h = (y1 - y0) / n_out
    averaged = cells.shape != values.shape
    what = layer_title(layers, layer)
    for k in range(n_out):
        for j in range(n_in):
            v = float(cells[k, j])
            where = f"row {k + 1}, column {j + 1}" if averaged else f"from input {j + 1} to neuron {k + 1}"
            scene.rect(
                x0 + j * w,
                y0 + k * h,
                w,
                h,
                fill=signed_color(v, scale),
                cls="weight-cell",
                title=f"{'block mean of ' if averaged else ''}weight {where} of the {what} = {fmt(v)}",
                data={"layer": layer, "value": v},
            )
    scene.rect(x0, y0, x1 - x0, y1 - y0, stroke=GREY, width=1, cls="heatmap-frame")
    shape = f"{values.shape[0]} neurons × {values.shape[1]} inputs"
    # above the matrix: below it the captions of the neighbouring columns would collide with these
    scene.text((x0 + x1) / 2, y0 - 20, f"matrix: {shape}" + (" (block means)" if averaged else ""), size=9.5)
    scene.text((x0 + x1) / 2, y0 - 8, "one row = one neuron's weights", size=9, fill=GREY)


def _strip(
    scene: Scene,
    centres: list[tuple[float, float]],
    vals: np.ndarray | None,
    bias: np.ndarray | None,
    column: int,
    layers: list[DenseLayer],
) -> None:
    """A wide layer as a column of cells, one per neuron, filled by its value (or by its bias)."""
    n = len(centres)
    cell = centres[1][1] - centres[0][1] if n > 1 else 10.0
    x = centres[0][0]
    shown = vals if vals is not None else bias
    sc = float(np.max(np.abs(shown))) if shown is not None and shown.size else 1.0
    for k, (cx, cy) in enumerate(centres):
        v = None if shown is None else float(shown[k])
        tip = _unit(layers, column, k)
        if bias is not None:
            tip += f"\nbias b = {fmt(bias[k])}"
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
    bottom = centres[-1][1] + cell / 2
    scene.rect(x - 9, centres[0][1] - cell / 2, 18, cell * n, stroke=INK, width=1.2)
    if shown is not None:
        what = ("activation" if column else "input value") if vals is not None else "bias"
        scene.text(x, bottom + 14, f"fill: {what}", size=9.5, fill=GREY)
        scene.text(x, bottom + 26, f"darkest = ±{fmt(sc, 2)}", size=9, fill=GREY)


def _colorbar(scene: Scene, x0: float, y: float, scale: float | None, label: str, note: str = "") -> None:
    """A label, then nine cells from orange (negative) through white (0) to blue (positive), with the
    numbers the ends stand for (or just − and + when each layer has its own scale)."""
    scene.text(x0 - 30, y, label, size=11, anchor="start")
    bar = y + 18
    for i, v in enumerate(np.linspace(-1, 1, 9)):
        scene.rect(x0 + i * 16, bar - 8, 16, 16, fill=signed_color(v, 1.0), stroke=PALE, cls="colorbar")
    lo, hi = (f"−{fmt(scale, 2)}", f"+{fmt(scale, 2)}") if scale else ("−", "+")
    scene.text(x0 - 4, bar + 4, lo, size=11, anchor="end")
    scene.text(x0 + 9 * 16 + 4, bar + 4, hi, size=11, anchor="start")
    scene.text(x0 + 72, bar + 20, "0", size=9, fill=GREY)
    if note:
        scene.text(x0 - 30, bar + 36, note, size=9.5, anchor="start", fill=GREY)


def _legend(
    scene: Scene,
    y: float,
    label: str,
    scale: float | None,
    lines: bool,
    heatmap: bool,
    filled: bool,
) -> None:
    """Line styles on the left; color scales (matrix cells, neuron fill) stacked on the right. ``scale``
    None: each layer has its own scale."""
    x_bars = 54.0
    if lines:
        scene.line(24, y, 64, y, stroke=BLUE, width=4)
        scene.text(72, y + 4, f"positive {label}", size=11, anchor="start")
        scene.line(24, y + 22, 64, y + 22, stroke=ORANGE, width=4, dash="6 3")
        scene.text(72, y + 26, f"negative {label} (dashed)", size=11, anchor="start")
        scene.text(
            24,
            y + 46,
            f"line thickness ∝ |{label}|; thickest = {fmt(scale, 3)}"
            if scale is not None
            else f"line thickness ∝ |{label}| within each layer (each layer its own scale)",
            size=10.5,
            anchor="start",
            fill=GREY,
        )
        scene.text(
            24,
            y + 61,
            "In the SVG or HTML file, hover for exact numbers.",
            size=10.5,
            anchor="start",
            fill=GREY,
        )
        x_bars = 370.0
    row = y - 4
    if heatmap:
        _colorbar(
            scene,
            x_bars,
            row,
            scale,
            f"{label} in a matrix cell",
            "" if scale is not None else "darkest = the largest |value| in its layer",
        )
        row += 54
    if filled:
        note = "darkest = the largest |value| in its layer"
        _colorbar(scene, x_bars, row, None, "neuron fill: activation (inputs: value)", note)


def legend_height(lines: bool, heatmap: bool, filled: bool) -> float:
    return max(70.0 if lines else 0.0, 54.0 * heatmap + 62.0 * filled) + 16


def network(
    model: Any,
    x: Any = None,
    show: str = "weights",
    title: str | None = None,
    member: int = 0,
    input_names: Sequence[str] | None = None,
    per_layer_scale: bool = False,
) -> Picture:
    """Draw a network's neurons and weights with their real numbers.

    Args:
        model: a :class:`~biograd.nn.Neuron`, :class:`~biograd.nn.Linear`, or a Sequential/MLP of Linear
            layers and activations. A :class:`~biograd.nn.Committee` is drawn as one of its members
            (``member``, the first by default), and the picture says so.
        x: one sample (shape (n_features,)); neurons are then filled by their activation a = act(w·x + b).
        show: what the lines show: ``"weights"`` (w), ``"gradients"`` (dL/dw, after ``loss.backward()``) or
            ``"activations"`` (lines show the weights, neurons the activations for ``x``, which is required).
        title: the picture's title.
        input_names: one name per input (table column names) written beside the input neurons.
        per_layer_scale: scale each layer's lines and matrix cells to its own largest |value|.

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
    model, note = one_network(model, member)
    layers = dense_layers(model)
    if show == "activations" and x is None:
        raise ValueError("show='activations' needs a sample: pass x=, one row of your data (e.g. x[0]).")
    if input_names is not None and len(input_names) != layers[0].weight.shape[1]:
        raise ValueError(
            f"input_names has {len(input_names)} names for {layers[0].weight.shape[1]} inputs; give one each."
        )
    inputs = forward = None
    steps = input_steps(model)[0]
    if x is not None:
        if steps:  # the member's own scaling and gene selection, applied to the sample first
            sample = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64).reshape(1, -1)
            with no_grad():
                for step in steps:
                    sample = np.asarray(step(Tensor(sample)).data)
            x = sample[0]
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
    subtitle = "Each circle is a neuron, each line a weight (the input is multiplied by it); b = bias."
    if any(n > SMALL for n in [layers[0].weight.shape[1]] + [layer.weight.shape[0] for layer in layers]):
        subtitle = "Each circle or column cell is a neuron; layers over 10 wide show weights as a matrix."
    if x is not None:
        subtitle += "\nFill: each neuron's activation a = act(w·x + b) for this sample."
    if steps:
        subtitle += (
            f"\nInputs: the {layers[0].weight.shape[1]} features this network keeps, after its own "
            + " and ".join(type(step).__name__ for step in steps)
            + "."
        )
    if note:
        subtitle = note + "\n" + subtitle
    layout = draw_network(
        layers,
        values,
        label,
        inputs=inputs,
        forward=forward,
        title=title or f"Network {what}",
        subtitle=subtitle,
        input_names=None if input_names is None else [str(n) for n in input_names],
        per_layer_scale=per_layer_scale,
    )
    return Picture(layout.scene)


# fills of the layer boxes: weights (Linear, Conv1d), pooling, everything else (activations, dropout)
_LAYER_FILLS = {"input": PALE, "weights": "#d8e9f5", "pool": "#fdebd3", "other": "#e3f3ec"}


def _layer_text(module: Any) -> str:
    """One line on a layer's size: ``in -> out`` (Linear), ``filters x width`` (Conv1d), ``p`` (Dropout)."""
    name = type(module).__name__
    if name == "Linear":
        out_features, in_features = module.weight.data.shape
        return f"{in_features} -> {out_features}"
    if name == "Conv1d":
        filters, _, width = module.weight.data.shape
        return f"{filters} filters x {width}"
    if name == "Dropout":
        return f"p = {getattr(module, 'p', '')}"
    if name == "SelectFeatures":
        return f"{len(module.indices)} of {module.in_features}"
    return ""


def layer_chain(model: Any, input_text: str = "", title: str | None = None) -> Picture:
    """A network as a chain of boxes, one per layer with its kind and size, from the input to the output.

    For what :func:`network` does not draw neuron by neuron (convolutional networks, very wide inputs).
    ``input_text`` says what goes in, e.g. ``"4 x 100"`` (letters x positions) or ``"30 features"``.
    In its SVG every layer is a ``<rect class="layer">``.
    """
    from biograd.nn.committee import Committee

    if isinstance(model, Committee) and title is None:
        title = f"The network, layer by layer: member 1 of a committee of {len(model.members)}"
    model, _ = one_network(model)
    children = list(model) if hasattr(model, "__iter__") else [model]
    boxes = [("input", input_text)] + [(type(m).__name__, _layer_text(m)) for m in children]
    box_w, box_h, gap, pad, head = 132.0, 58.0, 30.0, 16.0, 30.0
    width = pad * 2 + len(boxes) * box_w + (len(boxes) - 1) * gap
    scene = Scene(width, head + box_h + pad * 2, title=title or "The network, layer by layer")
    scene.text(pad, pad + 12, scene.title, size=14, bold=True, anchor="start")
    y = pad + head
    for i, (name, detail) in enumerate(boxes):
        x = pad + i * (box_w + gap)
        kind = name.lower()
        role = (
            "input"
            if i == 0
            else "weights"
            if kind in ("linear", "conv1d")
            else "pool"
            if "pool" in kind
            else "other"
        )
        scene.rect(x, y, box_w, box_h, rx=6, fill=_LAYER_FILLS[role], stroke=INK, cls="layer")
        scene.text(x + box_w / 2, y + 24, name, size=12, bold=True)
        if detail:
            scene.text(x + box_w / 2, y + 44, detail, size=11)
        if i:
            scene.arrow(x - gap + 2, y + box_h / 2, x - 2, y + box_h / 2, color=INK)
    return Picture(scene)
