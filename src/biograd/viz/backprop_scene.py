"""The picture of one training step and its frames: the network drawn with every number of the step
(weight labels placed so they do not collide, an error δ above each neuron, the loss box), then one frame
per neuron and stage (forward, loss, backward, update, forward again), each with its formula written
around the engine's numbers and the state of the drawing as of that frame.

:func:`biograd.viz.backprop` computes the numbers and hands them here; nothing here computes a gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biograd.viz._draw import BLUE, GREY, INK, ORANGE, Scene, Shape, fmt, signed_color
from biograd.viz.network import draw_network, layer_title

MAX_NEURONS = 16  # a step-by-step page for wider layers would have thousands of frames


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
