"""The tape as one straight-line Python function: what a replay runs.

Each op's forward, the loss, then each op's backward (the chain rule), as plain calls on numpy arrays; Linear,
ReLU and cross-entropy are written out as numpy calls into buffers allocated once. ``RecordedStep.code``
shows the source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from biograd import functional as F
from biograd.record.tape import _CrossEntropyLoss, _Forward, _Tape
from biograd.tensor import unbroadcast

# Ops whose input gradients may come back in a broadcast shape (the engine reduces them in one place,
# ``unbroadcast``; the replay does the same where it can happen).
_MAY_BROADCAST = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "MatMul", "Where"})


def _inline_linear(tape: _Tape, e: _Forward) -> bool:
    """Linear on a 2-D batch, every array of one float dtype: written as numpy calls into buffers."""
    if type(e.op).__name__ != "Linear" or len(e.ins) not in (2, 3):
        return False
    arrays = [tape.vals[i] for i in e.ins] + [tape.vals[e.out]]
    dtype = arrays[-1].dtype
    return (
        all(isinstance(a, np.ndarray) and a.dtype == dtype for a in arrays)
        and dtype.kind == "f"
        and arrays[0].ndim == 2
        and arrays[1].ndim == 2
    )


def _inline_relu(tape: _Tape, e: _Forward) -> bool:
    value = tape.vals[e.ins[0]]
    return type(e.op).__name__ == "ReLU" and isinstance(value, np.ndarray) and value.dtype.kind == "f"


class _Writer:
    """Builds the replay function's source line by line, with the arrays it needs in its namespace."""

    def __init__(self, tape: _Tape) -> None:
        self.tape = tape
        self.ns: dict[str, Any] = {"np": np, "unbroadcast": unbroadcast, "dropout": F.dropout}
        self.lines = ["def run(x, y, y_arr):"]
        self.grad_name: dict[int, str] = {}

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def bind(self, name: str, value: Any) -> str:
        self.ns[name] = value
        return name

    def buffer(self, name: str, slot: int) -> str:
        """An array allocated once, shaped like slot's value."""
        if name not in self.ns:
            value = self.tape.vals[slot]
            self.ns[name] = np.empty(np.shape(value), np.asarray(value).dtype)
        return name

    def grad_buffer(self, slot: int) -> str:
        """Where slot's gradient is gathered: the flat gradient for a parameter, else a buffer."""
        name = f"gb{slot}"
        if name not in self.ns:
            known = self.tape.buffers.get(slot)
            if known is not None:
                self.ns[name] = known
            else:
                self.buffer(name, slot)
                self.tape.buffers[slot] = self.ns[name]
        return name

    def grad_into(self, slot: int, action: int, make: Callable[[str], str], tag: str) -> None:
        """Gradient of ``slot`` computed by ``make(out)`` (a numpy call writing into ``out``)."""
        if action == 0:
            return
        if action == 1:
            name = self.buffer(f"gb{slot}", slot)
            self.emit(make(name))
            self.grad_name[slot] = name
        elif action == 2:
            name = self.grad_buffer(slot)
            self.emit(make(name))
            self.grad_name[slot] = name
        else:
            tmp = self.buffer(f"t{slot}_{tag}", slot)
            self.emit(make(tmp))
            name = self.grad_buffer(slot)
            self.emit(f"np.add({name}, {tmp}, out={name})")

    def grad_from(self, slot: int, action: int, expr: str) -> None:
        """Gradient of ``slot`` given as an array expression (an op's backward result)."""
        if action == 1:
            self.emit(f"g{slot} = {expr}")
            self.grad_name[slot] = f"g{slot}"
        elif action == 2:
            name = self.grad_buffer(slot)
            self.emit(f"np.copyto({name}, {expr})")
            self.grad_name[slot] = name
        elif action == 3:
            name = self.grad_buffer(slot)
            self.emit(f'np.add({name}, {expr}, out={name}, casting="unsafe")')


def _inline_cross_entropy(tape: _Tape, loss: _CrossEntropyLoss) -> bool:
    """Unweighted cross-entropy with a mean or sum, on float (N, C) logits: written out into buffers."""
    z = tape.vals[tape.out_slot]
    op = loss.op
    return op.weight is None and op.reduction in ("mean", "sum") and z.ndim == 2 and z.dtype.kind == "f"


def _write_cross_entropy(w: _Writer, tape: _Tape, loss: _CrossEntropyLoss, z: str) -> None:
    """The lines of ``ops.CrossEntropy``'s forward and backward (the same numpy calls in the same order,
    so the same numbers) into buffers allocated once:

    L = sum_i [log sum_c e^(z_ic - m_i) - (z_iy_i - m_i)] (/ N for the mean), m_i the row's max;
    dL/dz = softmax(z) - onehot(y) (/ N). A row whose max is not finite goes through the op itself."""
    slot = tape.out_slot
    n, c = tape.vals[slot].shape
    dtype = tape.vals[slot].dtype
    g = f"g{slot}"
    w.bind("ce_m", np.empty((n, 1), dtype))
    w.bind("ce_shift", np.empty((n, c), dtype))
    w.bind("ce_total", np.empty((n, 1), dtype))
    w.bind("ce_rows", np.arange(n))
    w.bind(g, np.empty((n, c), dtype))
    mean = loss.op.reduction == "mean"
    w.bind("ce_scale", loss.one * (1.0 / n))  # dL/dL times 1/N, as the op's backward computes it
    w.emit(f"np.maximum.reduce({z}, axis=1, keepdims=True, out=ce_m)  # CrossEntropy, written out")
    w.emit("if not np.logical_and.reduce(np.isfinite(ce_m), axis=None):  # a row of inf/nan logits")
    w.emit(f"    value = lossop.forward({z})")
    w.emit(f"    np.copyto({g}, lossop.backward(one)[0])")
    w.emit("else:")
    w.emit(f"    np.subtract({z}, ce_m, out=ce_shift)")
    w.emit(f"    np.exp(ce_shift, out={g})  # e^(z - m)")
    w.emit(f"    np.add.reduce({g}, axis=1, keepdims=True, out=ce_total)")
    w.emit("    losses = np.log(ce_total[:, 0]) - ce_shift[ce_rows, lossop.labels]")
    w.emit("    value = np.add.reduce(losses, axis=None)" + (f" * {1.0 / n!r}" if mean else ""))
    w.emit(f"    np.divide({g}, ce_total, out={g})  # softmax(z)")
    w.emit(f"    {g}[ce_rows, lossop.labels] -= 1  # dL/d{z} = softmax(z) - onehot(y)")
    if mean:
        w.emit(f"    np.multiply({g}, ce_scale, out={g})  # / N for the mean")


def _generate(tape: _Tape) -> tuple[str, Callable]:
    """The tape as one Python function of straight-line calls: each op's forward, the loss, each op's
    backward (the chain rule), with Linear and ReLU written out as numpy calls into buffers allocated
    once. Returns its source (``RecordedStep.code``) and the function."""
    w = _Writer(tape)
    names: list[str] = []
    for slot, kind in enumerate(tape.kinds):
        name = {"x": "x", "param": f"w{slot}", "const": f"c{slot}", "mask": f"m{slot}"}.get(kind, f"v{slot}")
        names.append(name)
        if kind in ("param", "const"):
            w.bind(name, tape.vals[slot])
    inline: dict[int, str] = {}
    for k, e in enumerate(tape.forward):
        a = [names[i] for i in e.ins]
        out = names[e.out]
        if e.dropout_p is not None:
            w.bind(f"ones{k}", e.ones)
            w.emit(f"{a[1]} = dropout(ones{k}, {e.dropout_p!r}).data  # a new dropout mask")
        if _inline_linear(tape, e):
            inline[k] = "Linear"
            w.buffer(out, e.out)
            w.emit(f"np.matmul({a[0]}, {a[1]}.T, out={out})  # Linear: {out} = {a[0]} @ W.T + b")
            if len(a) == 3:
                w.emit(f"np.add({out}, {a[2]}, out={out})")
        elif _inline_relu(tape, e):
            inline[k] = "ReLU"
            w.buffer(out, e.out)
            w.emit(f"np.maximum({a[0]}, 0, out={out})  # ReLU")
        else:
            w.bind(f"op{k}", e.op)
            w.emit(f"{out} = op{k}.forward({', '.join(a)})  # {type(e.op).__name__}")

    out = names[tape.out_slot]
    loss = tape.loss
    if isinstance(loss, _CrossEntropyLoss):
        w.bind("lossop", loss.op)
        w.bind("labels_of", loss.labels)
        w.bind("one", loss.one)
        w.emit("lossop.labels = labels_of(y_arr)  # CrossEntropy with this batch's labels")
        if _inline_cross_entropy(tape, loss):
            _write_cross_entropy(w, tape, loss, out)
        else:
            w.emit(f"value = lossop.forward({out})")
            w.emit(f"g{tape.out_slot} = lossop.backward(one)[0]  # dL/d{out}")
    else:
        w.bind("loss_run", loss.run)
        w.emit(f"value, g{tape.out_slot} = loss_run({out}, y, y_arr)  # the loss, eagerly; dL/d{out}")
    w.grad_name[tape.out_slot] = f"g{tape.out_slot}"

    position = {id(e.op): k for k, e in enumerate(tape.forward)}
    for b in tape.backward:
        k = position[id(b.op)]
        a = [names[i] for i in b.ins]
        g = w.grad_name[b.out]
        kind = inline.get(k)
        if kind == "Linear":
            x_slot, w_slot = b.ins[0], b.ins[1]
            w.emit(f"# Linear backward: dL/d{a[0]} = g @ W, dL/dW = g.T @ {a[0]}, dL/db = sum of g")
            w.grad_into(x_slot, b.actions[0], lambda o, g=g, a=a: f"np.matmul({g}, {a[1]}, out={o})", f"{k}")
            w.grad_into(
                w_slot, b.actions[1], lambda o, g=g, a=a: f"np.matmul({g}.T, {a[0]}, out={o})", f"{k}"
            )
            if len(b.ins) == 3:
                w.grad_into(
                    b.ins[2], b.actions[2], lambda o, g=g: f"np.add.reduce({g}, axis=0, out={o})", f"{k}"
                )
        elif kind == "ReLU":
            mask = w.bind(f"mask{k}", np.empty(np.shape(tape.vals[b.ins[0]]), bool))
            w.emit(f"np.greater({a[0]}, 0, out={mask})  # ReLU backward: dL/d{a[0]} = g where {a[0]} > 0")
            w.grad_into(
                b.ins[0], b.actions[0], lambda o, g=g, m=mask: f"np.multiply({g}, {m}, out={o})", f"{k}"
            )
        else:
            op_kind = type(b.op).__name__
            w.emit(f"r = op{k}.backward({g})  # {op_kind} backward")
            for pos, (i, action) in enumerate(zip(b.ins, b.actions, strict=True)):
                if action == 0:
                    continue
                expr = f"r[{pos}]"
                if op_kind in _MAY_BROADCAST:
                    w.emit(f"a = r[{pos}]")
                    w.emit(f"if a.shape != {b.shapes[pos]!r}:")
                    w.emit(f"    a = unbroadcast(a, {b.shapes[pos]!r})")
                    expr = "a"
                w.grad_from(i, action, expr)
    w.emit("return float(value)")
    source = "\n".join(w.lines)
    exec(compile(source, "<biograd recorded step>", "exec"), w.ns)  # our own source, shown by .code
    return source, w.ns["run"]
