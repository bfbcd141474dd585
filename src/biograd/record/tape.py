"""The tape of a recorded training step: what one eager step did, kept as entries to replay.

Each slot of the tape holds one value of the step (the batch ``x``, a parameter, a constant, a dropout
mask, an op's output). A ``_Forward`` entry runs one op on slots, a ``_Backward`` entry passes dL/d(output)
to its inputs (the chain rule, each op's derivative still in :mod:`biograd.ops`), and the loss entry turns
the model's output and ``y`` into the loss and dL/d(output). ``_build_tape`` makes the tape from the graph
of an eager step, or says why it cannot (``_CannotRecord``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.tensor import Tensor

# Ops whose constructor settings depend only on the program and the shapes, never on the batch's values:
# a tape of these can be replayed on new data. Looked up by class name, so the list survives the ops
# moving between modules.
_REPLAYABLE = frozenset(
    {
        *("Add", "Sub", "Mul", "Div", "Pow", "MatMul", "Linear", "Maximum", "Minimum", "Neg", "Exp", "Log"),
        *("Sqrt", "Abs", "Sin", "Cos", "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "Softplus", "Clip", "Erf"),
        *("Sum", "Max", "Min", "LogSumExp", "LogSoftmax", "Reshape", "Transpose", "Concatenate"),
        *("Conv1d", "MaxPool1d", "GetItem"),
    }
)


class _CannotRecord(Exception):
    """The step cannot be recorded; the message says why (shown in ``step.reason``)."""


@dataclass
class _Forward:
    """``vals[out] = op.forward(*vals[ins])``; a dropout node first draws its mask into ``vals[ins[1]]``."""

    op: Any
    ins: tuple[int, ...]
    out: int
    dropout_p: float | None = None
    ones: Tensor | None = None  # dropout: F.dropout(ones) is the mask, drawn as the eager step draws it


@dataclass
class _Backward:
    """``op.backward(grads[out])``, each input's gradient reduced to its shape, then for input i:
    action 0 skip, 1 keep it as ``grads[i]``, 2 copy it into ``buffers[i]`` (first of several, or a
    parameter's flat gradient), 3 add it into ``buffers[i]``."""

    op: Any
    ins: tuple[int, ...]
    out: int
    actions: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]


class _CrossEntropyLoss:
    """The fused cross-entropy node replayed with each step's labels (checked: integers in [0, C))."""

    def __init__(self, op: Any, n_classes: int, dtype: np.dtype) -> None:
        self.op, self.n_classes = op, n_classes
        self.one = np.ones((), dtype)  # dL/dL, as backward() starts it

    def labels(self, y_arr: np.ndarray) -> np.ndarray:
        labels = y_arr.astype(np.intp, copy=False)
        if y_arr.dtype.kind == "f" and not np.array_equal(labels, y_arr):
            raise _Mismatch("labels that are not whole numbers")
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise _Mismatch("labels outside [0, n_classes)")
        return labels

    def run(self, out: np.ndarray, y: Any, y_arr: np.ndarray) -> tuple[float, np.ndarray]:
        op = self.op
        op.labels = self.labels(y_arr)
        value = op.forward(out)
        return float(value), op.backward(self.one)[0]

    def describe(self) -> str:
        return "CrossEntropy(out; labels y)"


class _EagerLoss:
    """Any loss: the loss function runs eagerly on a tensor holding the model's output; its backward
    gives dL/d(output), which the replayed backward pass takes from there."""

    def __init__(self, loss_fn: Callable, name: str) -> None:
        self.loss_fn, self.name = loss_fn, name

    def run(self, out: np.ndarray, y: Any, y_arr: np.ndarray) -> tuple[float, np.ndarray]:
        pred = Tensor(out, requires_grad=True)
        loss = self.loss_fn(pred, y)
        value = float(loss.item())
        loss.backward()
        return value, pred.grad

    def describe(self) -> str:
        return f"{self.name}(out, y)  (run eagerly: its own small graph)"


class _Mismatch(Exception):
    """This step's data does not fit the recording (e.g. labels out of range): run it eagerly."""


@dataclass
class _Tape:
    signature: tuple
    vals: list[Any]
    forward: list[_Forward]
    loss: Any
    backward: list[_Backward]
    out_slot: int
    buffers: dict[int, np.ndarray]
    labels: list[str]
    kinds: list[str]  # per slot: "x", "param", "const", "mask" or "value"
    shapes: list[tuple[int, ...]]
    graph_params: list[tuple[Any, int, bool]]  # (parameter, slot, requires_grad) for each one it reads
    modules: list[tuple[Module, bool, tuple, tuple]]
    state_list: Any
    flat: _Flat | None = None
    other_grads: list[tuple[Any, int]] = field(default_factory=list)  # params outside the flat update
    code: str = ""  # the generated straight-line function (``RecordedStep.code``)
    run: Callable[..., float] | None = None  # that function: run(x, y, y_arr) -> loss; grads in buffers


@dataclass
class _Flat:
    """Every optimized parameter, its gradient and its optimizer state as views into flat arrays."""

    params: list[Any]
    views: list[np.ndarray]
    grad_views: list[np.ndarray]
    w: np.ndarray
    g: np.ndarray
    state: dict[str, Any]
    states: list[dict[str, Any]]


def _build_tape(
    model: Module,
    loss_fn: Callable,
    xt: Tensor,
    out: Any,
    loss: Tensor,
    signature: tuple,
    dropouts: dict[int, float],
) -> _Tape:
    """The tape of one eager step: ``out = model(xt)`` and ``loss = loss_fn(out, y)`` were just computed
    (before ``backward()``); ``dropouts`` maps the id of each active Dropout's output to its p. Raises
    _CannotRecord, saying why, when the step cannot be replayed."""
    if not isinstance(out, Tensor) or out._op is None:
        raise _CannotRecord("the model's output is not a tensor computed from the input and weights")
    if not loss.requires_grad:
        raise _CannotRecord("the loss does not depend on the weights")
    for m in model.modules():
        if "forward" in m.__dict__:
            raise _CannotRecord(f"{type(m).__name__} has a forward set on the instance (a hook)")
    names = {id(p): name for name, p in model.named_parameters()}
    params = {id(p): p for p in model.parameters()}

    # the model: every tensor the output was computed from, in the order it was computed; the loss:
    # what the loss was computed from besides (the targets, and the model's output)
    model_part = _reachable(out)
    model_nodes = sorted(model_part.values(), key=lambda t: t._seq)
    loss_nodes = [t for key, t in _reachable(loss).items() if key not in model_part]
    loss_nodes.sort(key=lambda t: t._seq)

    vals: list[Any] = [xt.data]
    labels, kinds, shapes = ["x"], ["x"], [xt.shape]
    needs: list[bool] = [False]
    slot_of: dict[int, int] = {id(xt): 0}
    graph_params: list[tuple[Any, int, bool]] = []

    def new_slot(value: Any, label: str, need: bool, kind: str) -> int:
        vals.append(value)
        labels.append(label)
        kinds.append(kind)
        shapes.append(np.shape(value))
        needs.append(need)
        return len(vals) - 1

    forward: list[_Forward] = []
    n_inner = n_masks = 0
    for t in model_nodes:
        if t._op is None:
            if id(t) in slot_of:
                continue
            if id(t) not in params:
                raise _CannotRecord(
                    f"the model uses a tensor of shape {t.shape} that is neither the input nor a parameter"
                )
            slot = slot_of[id(t)] = new_slot(t.data, names[id(t)], t.requires_grad, "param")
            graph_params.append((t, slot, t.requires_grad))
            continue
        op = t._op
        kind = type(op).__name__
        if kind not in _REPLAYABLE:
            raise _CannotRecord(f"the model uses the op {kind}, which cannot be replayed")
        if kind == "GetItem" and _indexes_with_arrays(op.index):
            raise _CannotRecord("the model indexes a tensor with an array")
        p_drop = dropouts.get(id(t))
        ins = []
        for k, parent in enumerate(t._parents):
            if isinstance(parent, Tensor):
                if id(parent) not in slot_of:
                    raise _CannotRecord("a tensor the model uses was made outside the recorded step")
                ins.append(slot_of[id(parent)])
            elif p_drop is not None and kind == "Mul" and k == 1 and isinstance(parent, np.ndarray):
                n_masks += 1
                ins.append(new_slot(parent, f"mask{n_masks}", False, "mask"))
            elif isinstance(parent, (int, float, np.generic)):
                ins.append(new_slot(parent, _const_label(parent), False, "const"))
            else:
                raise _CannotRecord(
                    f"the {kind} op takes an array made inside forward (its values would freeze)"
                )
        n_inner += 1
        label = "out" if t is out else f"v{n_inner}"
        need = any(needs[i] for i in ins)
        slot_of[id(t)] = new_slot(t.data, label, need, "value")
        entry = _Forward(op, tuple(ins), slot_of[id(t)])
        if p_drop is not None and kind == "Mul" and len(ins) == 2 and labels[ins[1]].startswith("mask"):
            entry.dropout_p = p_drop
            entry.ones = Tensor(np.ones(shapes[ins[1]], dtype=np.asarray(vals[ins[1]]).dtype))
        forward.append(entry)
    out_slot = slot_of[id(out)]
    if not needs[out_slot]:
        raise _CannotRecord("no parameter that requires a gradient reaches the model's output")

    # the loss: only the model's output may reach into the model
    for t in loss_nodes:
        for parent in t._parents:
            inner = isinstance(parent, Tensor) and id(parent) in model_part and parent is not out
            if inner and parent.requires_grad:
                raise _CannotRecord(
                    "the loss uses a weight or an inner activation of the model, not only its output"
                )
    loss_name = (
        type(loss_fn).__name__ if isinstance(loss_fn, Module) else getattr(loss_fn, "__name__", "loss_fn")
    )
    if (
        len(loss_nodes) == 1
        and loss_nodes[0] is loss
        and type(loss._op).__name__ == "CrossEntropy"
        and loss._parents[0] is out
        and out.ndim == 2
    ):
        loss_entry: Any = _CrossEntropyLoss(loss._op, out.shape[1], out.dtype)
    else:
        loss_entry = _EagerLoss(loss_fn, loss_name)

    # backward: newest first; which gradients are kept, copied into buffers, or added up
    consumers = [0] * len(vals)
    entries = [e for e in forward if any(needs[i] for i in e.ins)]
    for e in entries:
        for i in e.ins:
            if needs[i]:
                consumers[i] += 1
    flat_slots = {slot for _, slot, _ in graph_params}
    seen_once: set[int] = set()
    backward = []
    for e in reversed(entries):
        actions = []
        for i in e.ins:
            if not needs[i]:
                actions.append(0)
            elif i in flat_slots or consumers[i] > 1:
                actions.append(3 if i in seen_once else 2)
                seen_once.add(i)
            else:
                actions.append(1)
        shapes_in = tuple(shapes[i] for i in e.ins)
        backward.append(_Backward(e.op, e.ins, e.out, tuple(actions), shapes_in))
        e.op.needs_grad = tuple(needs[i] for i in e.ins)  # no gradient for x, masks or constants

    modules = [
        (m, m.training, tuple(m._modules.values()), tuple(m._parameters.values())) for m in model.modules()
    ]
    return _Tape(
        signature=signature,
        vals=vals,
        forward=forward,
        loss=loss_entry,
        backward=backward,
        out_slot=out_slot,
        buffers={},
        labels=labels,
        kinds=kinds,
        shapes=shapes,
        graph_params=graph_params,
        modules=modules,
        state_list=None,
    )


def _reachable(root: Tensor) -> dict[int, Tensor]:
    """Every tensor ``root`` was computed from (itself included), by id."""
    seen: dict[int, Tensor] = {}
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen[id(t)] = t
        stack.extend(p for p in t._parents if isinstance(p, Tensor))
    return seen


def _indexes_with_arrays(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


def _const_label(x: Any) -> str:
    return f"{float(x):g}" if np.ndim(x) == 0 else "const"
