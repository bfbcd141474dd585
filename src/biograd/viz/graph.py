"""The computational graph of a result: which values and operations produced it, with their numbers.

- ``viz.graph(y)`` walks the graph of ``y``. Before ``y.backward()`` every node shows its value (and a
  gradient only where one is stored already); after it, every node also shows its gradient dL/d(node),
  intermediate ones included: backward keeps the links, values and gradients of a graph of up to
  ``backward.DRAWING_BUDGET`` numbers when it frees the arrays the ops saved.
- ``viz.graph(y, trace=t)`` draws the graph that a ``with biograd.trace() as t: y.backward()`` block
  recorded, the same picture for a graph of any size.

>>> x = biograd.tensor(1.5, requires_grad=True, name="x")          # doctest: +SKIP
>>> y = (x**2).sin()
>>> y.backward()
>>> viz.graph(y).save("sin_x2.svg")
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.backward import DRAWING_BUDGET, FreedNode
from biograd.tensor import Tensor
from biograd.tracing import Trace
from biograd.viz._draw import BLUE, GREY, INK, ORANGE, PALE, Picture, Scene, fmt

_SYMBOLS = {
    "Add": "+",
    "Sub": "−",
    "Mul": "×",
    "Div": "÷",
    "Pow": "^",
    "MatMul": "@",
    "Neg": "−x",
    "Linear": "x·Wᵀ+b",
    "Sum": "Σ",
    "GetItem": "[ ]",
    "Sigmoid": "σ",
    "LogSoftmax": "logσₘ",
}

MAX_WIDTH = 1400.0  # wider graphs wrap onto a new band of columns

_INFIX = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Pow": "^", "MatMul": "@"}


@dataclass
class _Node:
    key: Any
    kind: str  # "value", "op" or "const"
    label: str = ""
    value: Any = None
    grad: Any = None
    needs_grad: bool = False
    inputs: list[Any] = field(default_factory=list)  # keys of the nodes feeding this one
    rank: int = 0
    row: float = 0.0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    band: int = 0  # long graphs wrap onto several bands (rows of columns), read like lines of text


def graph(tensor: Tensor, trace: Trace | None = None, model: Any = None, title: str | None = None) -> Picture:
    """Draw how ``tensor`` was computed: value boxes and operation circles, left (inputs) to right (result).

    Each value box shows the tensor's name, its value and its gradient dL/d(value) (for arrays: the shape
    and the norm ||v|| = sqrt(sum of squares)). Arrows point forward; backpropagation runs against them,
    multiplying the gradient by each operation's local derivative (the chain rule).

    Args:
        tensor: the result, usually a loss.
        trace: a :class:`biograd.Trace` recorded around ``tensor.backward()``: draws the recorded graph with
            every node's gradient. Without it, the graph kept on the tensor is drawn, with every gradient
            once ``backward()`` has run.
        model: a network whose parameters should be labelled with their names ("0.weight", ...).
        title: the picture's title.

    Returns:
        A :class:`~biograd.viz.Picture` (shows in Jupyter; ``.save("graph.svg" | ".png" | ".html")``).
    """
    names = _parameter_names(model)
    if trace is not None:
        if not isinstance(trace, Trace):
            raise TypeError(
                f"The 'trace' parameter of graph must be a biograd.Trace (from "
                "`with biograd.trace() as t:`). "
                f"Got {type(trace).__name__} instead."
            )
        if len(trace) == 0:
            raise ValueError(
                "The trace is empty: run backward() inside the `with biograd.trace() as t:` block, "
                "e.g. `with biograd.trace() as t: loss.backward()`."
            )
        nodes = _from_trace(trace, names)
    else:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"graph() draws a biograd Tensor; got {type(tensor).__name__}.")
        nodes = _from_live(tensor, names)
        if not any(n.grad is not None for n in nodes.values()):
            warnings.warn(
                "No gradients to show yet: backward() has not been called, so the graph shows values only. "
                "To see every node's gradient, call y.backward() first, then viz.graph(y).",
                stacklevel=2,
            )
    return Picture(_draw(nodes, title or "Computational graph"))


# --------------------------------------------------------------------------------------------------
# Collecting nodes
# --------------------------------------------------------------------------------------------------


def _parameter_names(model: Any) -> dict[int, str]:
    if model is None:
        return {}
    if not hasattr(model, "named_parameters"):
        raise TypeError(
            f"The 'model' parameter of graph must be a biograd Module; got {type(model).__name__}."
        )
    return {id(p): name for name, p in model.named_parameters()}


def _label(t: Any, names: dict[int, str], counter: dict[str, int]) -> str:
    if getattr(t, "name", None):
        return t.name
    if id(t) in names:
        return names[id(t)]
    if getattr(t, "_op", None) is None:  # an unnamed leaf
        counter["leaf"] += 1
        return f"input {counter['leaf']}" if not t.requires_grad else f"t{counter['leaf']}"
    return ""


def _links(t: Tensor) -> tuple[str | None, tuple, Any]:
    """The op name, inputs and gradient dL/dt of a node, before or after ``backward()``.

    Before, they come from the live graph (the gradient only if stored: leaves, retain_grad()). After,
    from what backward kept in place of the freed op (``backward.FreedNode``), which includes the gradient
    of every intermediate value; a graph too large to keep was reduced to op names, and says so.
    """
    op = t._op
    if op is None:
        return None, (), t.grad
    if isinstance(op, FreedNode):
        if op.parents is None:
            raise RuntimeError(
                f"The graph below this {op.name} result was too large to keep after backward() (more "
                f"than {DRAWING_BUDGET:,} numbers). Draw it before calling backward(), or record the "
                "backward pass: `with biograd.trace() as t: y.backward()` then viz.graph(y, trace=t)."
            )
        return op.name, op.parents, op.grad if t.grad is None else t.grad
    return op.name, t._parents, t.grad


def _from_live(root: Tensor, names: dict[int, str]) -> dict[Any, _Node]:
    nodes: dict[Any, _Node] = {}
    counter = {"leaf": 0}
    order: list[tuple[Tensor, str | None, tuple, Any]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:  # iterative depth-first walk: no recursion limit
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        op_name, parents, grad = _links(t)
        order.append((t, op_name, parents, grad))
        stack.extend(p for p in parents if isinstance(p, Tensor))
    for t, _, _, grad in reversed(order):
        nodes[id(t)] = _Node(id(t), "value", _label(t, names, counter), t.data, grad, bool(t.requires_grad))
    for t, op_name, parents, _ in order:
        if op_name is None:
            continue
        op_key = ("op", id(t))
        inputs = []
        for i, p in enumerate(parents):
            if isinstance(p, Tensor):
                inputs.append(id(p))
            elif p is not None:
                const_key = ("const", id(t), i)
                nodes[const_key] = _Node(const_key, "const", "", np.asarray(p))
                inputs.append(const_key)
        nodes[op_key] = _Node(op_key, "op", op_name, inputs=inputs)
        nodes[id(t)].inputs = [op_key]
    return nodes


def _from_trace(trace: Trace, names: dict[int, str]) -> dict[Any, _Node]:
    nodes: dict[Any, _Node] = {}
    counter = {"leaf": 0}
    produced = {id(s.output_tensor): s for s in trace.steps}
    for s in trace.steps:  # backward order: outputs first
        out = s.output_tensor
        if id(out) not in nodes:
            nodes[id(out)] = _Node(id(out), "value", _label(out, names, counter), s.output, s.upstream, True)
        op_key = ("op", s.index)
        inputs = []
        for i, t in enumerate(s.input_tensors):
            if t is None:
                const_key = ("const", s.index, i)
                nodes[const_key] = _Node(const_key, "const", "", np.asarray(s.inputs[i]))
                inputs.append(const_key)
                continue
            if id(t) not in nodes:
                if id(t) in produced:
                    grad = produced[id(t)].upstream
                else:  # a leaf: its gradient is what backward stored for it during this pass
                    grad = trace.leaf_grads.get(trace.label(t)) if t.requires_grad else None
                nodes[id(t)] = _Node(
                    id(t), "value", _label(t, names, counter), s.inputs[i], grad, t.requires_grad
                )
            inputs.append(id(t))
        nodes[op_key] = _Node(op_key, "op", s.op, inputs=inputs)
        nodes[id(out)].inputs = [op_key]
    return nodes


# --------------------------------------------------------------------------------------------------
# Layout and drawing
# --------------------------------------------------------------------------------------------------


def _describe(arr: Any) -> str:
    a = np.asarray(arr)
    if a.size == 1:
        return fmt(a.reshape(()))
    if a.size <= 3:
        return "[" + ", ".join(fmt(v, 3) for v in a.ravel()) + "]"
    return f"shape {a.shape}, ‖·‖ {fmt(np.linalg.norm(a.astype(np.float64)), 3)}"


def _name_intermediates(nodes: dict[Any, _Node]) -> None:
    """Give unnamed results a short formula from their inputs' names, e.g. "x @ weight", "sin(u)"."""

    def text(key: Any, depth: int = 0, limit: int = 2) -> str:
        n = nodes[key]
        if n.kind == "const":
            return _describe(n.value) if np.size(n.value) == 1 else "c"
        if n.label or depth > limit or not n.inputs:
            return n.label or "…"
        op = nodes[n.inputs[0]]
        args = [text(k, depth + 1, limit) for k in op.inputs]
        if op.label in _INFIX and len(args) == 2:
            args = [f"({a})" if " " in a else a for a in args]
            return f"{args[0]} {_INFIX[op.label]} {args[1]}"
        if op.label == "Linear":
            return f"linear({', '.join(args)})"
        return f"{op.label.lower()}({', '.join(args)})"

    for n in nodes.values():
        if n.kind == "value" and not n.label and n.inputs:
            for limit in (2, 1, 0):
                formula = text(n.key, limit=limit)
                if len(formula) <= 24:
                    n.label = formula
                    break
            else:
                n.label = f"{nodes[n.inputs[0]].label.lower()}(…)"


def _layout(nodes: dict[Any, _Node]) -> None:
    # rank: longest path from an input; keys are visited in an order where inputs come first
    done: set[Any] = set()
    for key in list(nodes):
        stack = [(key, False)]
        while stack:
            k, expanded = stack.pop()
            if k in done:
                continue
            n = nodes[k]
            if expanded or not n.inputs:
                n.rank = 1 + max((nodes[i].rank for i in n.inputs), default=-1)
                done.add(k)
                continue
            stack.append((k, True))
            stack.extend((i, False) for i in n.inputs if i not in done)
    for n in nodes.values():  # inputs and constants sit just left of the op that uses them
        if n.kind == "const" or (n.kind == "value" and not n.inputs):
            users = [m.rank for m in nodes.values() if n.key in m.inputs]
            n.rank = max(min(users) - 1, 0) if users else 0
    for n in nodes.values():
        if n.kind == "op":
            n.w = n.h = 46
        elif n.kind == "const":
            n.w, n.h = 56, 26
        else:
            n.w, n.h = 196, 62
    by_rank: dict[int, list[_Node]] = {}
    for n in nodes.values():
        by_rank.setdefault(n.rank, []).append(n)
    # order within a column by the average row of the (tensor) inputs, so chains stay straight; then push
    # nodes apart where they would overlap. Constants sit just below the operation that uses them.
    for r in sorted(by_rank):
        column = by_rank[r]
        for i, n in enumerate(column):
            rows = [nodes[k].row for k in n.inputs if nodes[k].rank < r and nodes[k].kind != "const"]
            n.row = float(np.mean(rows)) if rows else float(i)
        column.sort(key=lambda n: n.row)
        for prev, n in itertools.pairwise(column):
            n.row = max(n.row, prev.row + 1.0)
    for n in nodes.values():
        if n.kind == "const":
            users = [m for m in nodes.values() if n.key in m.inputs]
            n.row = users[0].row + 0.75 if users else n.row
    # columns left to right; a graph wider than MAX_WIDTH continues on a new band below, like text
    x, band = 30.0, 0
    for r in sorted(by_rank):
        column = by_rank[r]
        width = max(n.w for n in column)
        if x + width > MAX_WIDTH and x > 30.0:
            x, band = 30.0, band + 1
        for n in column:
            n.x = x + width / 2
            n.band = band
        x += width + 46
    row_h = 92.0
    rows = [n.row for n in nodes.values()]
    band_h = (max(rows) - min(rows)) * row_h + 120
    for n in nodes.values():
        n.y = n.row * row_h + n.band * band_h


def _draw(nodes: dict[Any, _Node], title: str) -> Scene:
    named = {n.key for n in nodes.values() if n.label}  # named by the user or the model, not by us
    _name_intermediates(nodes)
    _layout(nodes)
    ys = [n.y for n in nodes.values()]
    top = min(ys) - 50
    shift = 78 - top
    for n in nodes.values():
        n.y += shift
    width = max(n.x + n.w / 2 for n in nodes.values()) + 30
    height = max(n.y + n.h / 2 for n in nodes.values()) + 140
    scene = Scene(max(width, 640), height, title)
    scene.text(20, 28, title, size=17, anchor="start", bold=True)
    scene.text(
        20,
        48,
        "Forward: follow the arrows.  Backward: each box's gradient dL/d(value) flows against them.",
        size=11.5,
        anchor="start",
        fill=GREY,
    )
    final = [
        n for n in nodes.values() if n.kind == "value" and not any(n.key in m.inputs for m in nodes.values())
    ]
    result_name = final[0].label if len(final) == 1 and final[0].key in named else "the result (thick box)"
    band_bottom: dict[int, float] = {}
    for n in nodes.values():
        band_bottom[n.band] = max(band_bottom.get(n.band, 0.0), n.y + n.h / 2 + 30)
    for n in nodes.values():  # edges first, so boxes sit on top
        for k in n.inputs:
            src = nodes[k]
            x1, y1, x2, y2 = src.x + src.w / 2, src.y, n.x - n.w / 2 - 2, n.y
            if src.band == n.band:
                scene.arrow(x1, y1, x2, y2, cls="edge")
                continue
            # to the next band: right, down below this band, back to the left, down to the target
            gap_y = band_bottom[src.band] + 16
            for a, b, c, d in (
                (x1, y1, x1 + 16, y1),
                (x1 + 16, y1, x1 + 16, gap_y),
                (x1 + 16, gap_y, x2 - 18, gap_y),
                (x2 - 18, gap_y, x2 - 18, y2),
            ):
                scene.line(a, b, c, d, stroke=GREY, width=1.4, cls="edge")
            scene.arrow(x2 - 18, y2, x2, y2, cls="edge")
    for n in nodes.values():
        if n.kind == "op":
            scene.circle(
                n.x, n.y, n.w / 2, fill="#ffffff", stroke=INK, width=1.5, cls="op-node", title=n.label
            )
            symbol = _SYMBOLS.get(n.label, n.label.lower())
            size = min(15.0, 56.0 / max(len(symbol), 1))
            scene.text(n.x, n.y + size / 3, symbol, size=size, bold=True)
            scene.text(n.x, n.y + n.h / 2 + 13, n.label, size=9.5, fill=GREY)
        elif n.kind == "const":
            scene.rect(
                n.x - n.w / 2,
                n.y - n.h / 2,
                n.w,
                n.h,
                rx=4,
                fill=PALE,
                stroke=GREY,
                cls="const-node",
                title="a constant (no gradient)",
            )
            scene.text(n.x, n.y + 4, _describe(n.value) if np.size(n.value) == 1 else "const", size=11)
        else:
            is_final = n in final
            fill = "#e8f3fb" if n.needs_grad else PALE
            stroke = INK if is_final else (BLUE if n.needs_grad else GREY)
            tip = f"{n.label or 'value'} = {np.asarray(n.value)!s}"
            if n.grad is not None:
                tip += f"\ndL/d({n.label or 'value'}) = {np.asarray(n.grad)!s}"
            scene.rect(
                n.x - n.w / 2,
                n.y - n.h / 2,
                n.w,
                n.h,
                rx=7,
                fill=fill,
                stroke=stroke,
                width=2.5 if is_final else 1.3,
                cls="value-node",
                title=tip,
            )
            left = n.x - n.w / 2 + 8
            scene.text(
                left,
                n.y - 12,
                n.label or "(intermediate)",
                size=12,
                anchor="start",
                bold=bool(n.label),
                italic=not n.label,
            )
            scene.text(left, n.y + 5, f"value  {_describe(n.value)}", size=11, anchor="start")
            if n.grad is not None:
                g = np.asarray(n.grad)
                # sign by color only when one sign holds for the whole box (arrays: every element)
                color = BLUE if np.all(g >= 0) else ORANGE if np.all(g < 0) else INK
                scene.text(
                    left, n.y + 21, f"grad   {_describe(g)}", size=11, anchor="start", fill=color, bold=True
                )
            elif not n.needs_grad:
                scene.text(left, n.y + 21, "grad   not needed (data)", size=10.5, anchor="start", fill=GREY)
            else:
                scene.text(left, n.y + 21, "grad   (after backward)", size=10.5, anchor="start", fill=GREY)
    y = scene.height - 62
    scene.rect(20, y - 11, 26, 15, rx=4, fill="#e8f3fb", stroke=BLUE)
    scene.text(52, y + 1, "value that needs a gradient (parameter or result)", size=10.5, anchor="start")
    scene.rect(20, y + 11, 26, 15, rx=4, fill=PALE, stroke=GREY)
    scene.text(52, y + 23, "data or constant (no gradient)", size=10.5, anchor="start")
    scene.circle(33, y + 41, 10, fill="#ffffff", stroke=INK, width=1.5)
    scene.text(52, y + 45, "operation; ‖·‖ = norm (size) of an array", size=10.5, anchor="start")
    with_l = "" if result_name == "L" else f", with L = {result_name}"
    scene.text(330, y + 1, f"grad = dL/d(value){with_l}:", size=10.5, anchor="start")
    scene.text(330, y + 19, "how much L changes per unit increase of this value.", size=10.5, anchor="start")
    scene.text(
        330, y + 37, "positive (blue): raising it raises L", size=10.5, anchor="start", fill=BLUE, bold=True
    )
    scene.text(
        330,
        y + 55,
        "negative (orange): raising it lowers L; mixed signs: black",
        size=10.5,
        anchor="start",
        fill=ORANGE,
        bold=True,
    )
    return scene
