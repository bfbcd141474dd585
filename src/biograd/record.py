"""A training step recorded once and replayed: the same ops' forward and backward calls, without the graph.

An eager training step (``optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()``)
builds a graph every time: a Tensor per op, a node per Tensor, a heap and a dictionary in ``backward()``,
one optimizer call per parameter. On small networks that bookkeeping costs more than the arithmetic.
:func:`record_step` runs the first step eagerly, exactly as above, and keeps what it did as a *tape*:

- **forward**: the list of ops the model ran, each with the slots its inputs came from (the batch ``x``,
  a parameter, an earlier op's output, a constant, a fresh dropout mask);
- **loss**: the loss of the model's output against ``y`` (the fused cross-entropy node is replayed with the
  new labels; any other loss function runs eagerly on the output, so every loss works);
- **backward**: the same ops' ``backward`` calls in reverse order, each passing dL/d(output) to the inputs
  that need it: the chain rule, with the derivative of each op still living in :mod:`biograd.ops`;
- **update**: the optimizer's own rule applied once to one flat array holding every parameter (the
  built-in rules are elementwise, so the numbers are those of one update per parameter).

The following steps *replay* the tape: straight-line calls of ``op.forward`` and ``op.backward`` on numpy
arrays, no Tensor objects, no graph. ``print(step)`` shows the tape as the chain rule, the way
``biograd.trace()`` shows one backward pass.

>>> step = biograd.record_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))  # doctest: +SKIP
>>> for xb, yb in loader:                                                   # doctest: +SKIP
...     loss = step(xb, yb)          # forward, loss, backward, update; returns the loss as a float
>>> print(step)                                                             # doctest: +SKIP

What a recorded step may contain:

- any model made of biograd's layers and functions whose ops are elementwise math, matrix products,
  ``Linear``, ``Conv1d``, pooling, reductions, reshapes, transposes, concatenation and slicing with
  numbers or slices (every layer in :mod:`biograd.nn`: Linear, activations, Dropout, Conv1d, MaxPool1d,
  GlobalMaxPool1d, Flatten, Neuron, MLP, Sequential);
- dropout (a new random mask every step, drawn from biograd's generator exactly as the eager step draws
  it, so a seeded run gives the same weights recorded or not);
- any loss function of the model's output and ``y``; any built-in optimizer (SGD with momentum, Nesterov
  and weight decay, Adam, AdamW, RMSprop) and learning-rate schedulers (the rate is read every step).

What it may not contain, and what happens then (the step runs eagerly, as if not recorded; the reason is in
``step.reason``):

- indexing with arrays, ``biograd.where``, or tensors and arrays made inside ``forward`` from the data
  (their values would be frozen at the recorded step); a loss that reaches parameters or inner
  activations of the model other than its output (e.g. a weight penalty written into the loss);
- a Python number computed from the batch's values inside ``forward`` (``x / float(x.data.std())``): it
  cannot be seen from the outside and would be replayed frozen. Do not record such a model.

Whenever something differs from the recorded step the step runs eagerly instead: other shapes or dtypes
of ``x`` or ``y`` (the short last batch of an epoch), a parameter replaced or its ``requires_grad``
changed (``load_state_dict``, ``model.to(...)``), a module added or replaced, ``train()``/``eval()``
switched, a ``forward`` set on a module instance (a hook), gradients switched off (``no_grad``), a
``biograd.trace()`` recording, or an optimizer state loaded. After a model or optimizer change the next step
records again; a new batch shape seen ``rerecord_after`` times in a row is recorded in place of the old one.

While recorded, every parameter's ``.data`` is a view into one flat array (same values, same shapes) and
``.grad`` a view into one flat gradient array, and the optimizer's running averages are views into flat
arrays too, so eager steps, ``state_dict()`` and ``load_state_dict()`` keep working on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd import functional as F
from biograd import tracing
from biograd.nn.layers import Dropout
from biograd.nn.module import Module
from biograd.optim import Optimizer
from biograd.tensor import Tensor, is_grad_enabled, unbroadcast

__all__ = ["SMALL_PRODUCT", "RecordedStep", "blas_threads_for", "largest_product", "record_step"]

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


# --------------------------------------------------------------------------------------------------
# The tape
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# The recorded step
# --------------------------------------------------------------------------------------------------


class RecordedStep:
    """A training step (forward, loss, backward, update) recorded once, then replayed (:mod:`biograd.record`).

    Call it with a batch: ``loss = step(x, y)`` returns the loss (a float, before the update).

    Attributes:
        path: how the last call ran: ``"recorded"`` (eagerly, and recorded), ``"replayed"`` or ``"eager"``.
        reason: why the last call ran eagerly (``""`` when it was replayed).
        counts: how many calls ran each way.
    """

    def __init__(
        self, model: Module, loss_fn: Callable, optimizer: Optimizer, rerecord_after: int = 3
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"record_step needs a biograd Module as model; got {type(model).__name__}.")
        if not callable(loss_fn):
            raise TypeError(
                "record_step needs a loss function, e.g. biograd.nn.CrossEntropyLoss(); "
                f"got {type(loss_fn).__name__}."
            )
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "record_step needs a biograd optimizer built on the model's parameters, e.g. "
                f"biograd.optim.Adam(model.parameters()); got {type(optimizer).__name__}."
            )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.rerecord_after = int(rerecord_after)
        self.path, self.reason = "", ""
        self.counts = {"recorded": 0, "replayed": 0, "eager": 0}
        self._tape: _Tape | None = None
        self._unrecordable: dict[tuple, str] = {}  # signatures that cannot be recorded, and why
        self._other_signature: tuple | None = None
        self._other_seen = 0

    # -- running -----------------------------------------------------------------------------------
    def __call__(self, x: Any, y: Any) -> float:
        """One training step on the batch (x, y); returns its loss (before the update)."""
        return self.run(x, y)

    def run(self, x: Any, y: Any, before_update: Callable[[float], bool] | None = None) -> float:
        """One step, with ``before_update(loss)`` called after backward: if it returns False the update is
        skipped (``fit`` stops on an inf/NaN loss this way and keeps the last good weights)."""
        x_arr = self._input_array(x)
        y_arr = y.data if isinstance(y, Tensor) else y if isinstance(y, np.ndarray) else np.asarray(y)
        signature = (x_arr.shape, x_arr.dtype, y_arr.shape, y_arr.dtype)
        tape = self._tape
        why = self._why_not(tape, signature)
        if not why:
            try:
                value = self._replay(tape, x_arr, y, y_arr, before_update)
            except _Mismatch as err:
                why = f"this batch has {err}"
            else:
                self.path, self.reason = "replayed", ""
                self.counts["replayed"] += 1
                return value
        if why == "new" and not is_grad_enabled():
            why = "gradients are switched off (no_grad)"
        elif why == "new" and tracing._recording() is not None:
            why = "a biograd.trace() is recording"
        elif why == "new" or (why.startswith("other shapes") and self._seen_often(signature)):
            cannot = self._unrecordable.get(signature)
            if cannot is None:
                return self._record_and_step(x_arr, y, signature, before_update)
            why = cannot
        self.path, self.reason = "eager", why
        self.counts["eager"] += 1
        return self._eager(x_arr, y, before_update)

    def _input_array(self, x: Any) -> np.ndarray:
        if isinstance(x, Tensor):
            return x.data
        arr = x if isinstance(x, np.ndarray) else np.asarray(x)
        if self._tape is not None and arr.dtype == self._tape.signature[1]:
            return arr
        dtype = self._model_dtype()
        if dtype is not None and arr.dtype != dtype and arr.dtype.kind in "fiub":
            arr = arr.astype(dtype)  # numpy data takes the model's dtype, as Linear does
        return arr

    def _model_dtype(self) -> np.dtype | None:
        for p in self.model.parameters():
            return p.data.dtype
        return None

    def _seen_often(self, signature: tuple) -> bool:
        if signature != self._other_signature:
            self._other_signature, self._other_seen = signature, 0
        self._other_seen += 1
        return self._other_seen >= self.rerecord_after

    def _why_not(self, tape: _Tape | None, signature: tuple) -> str:
        """Why the tape cannot replay this call ("" if it can; "new" if there is no valid tape)."""
        if tape is None:
            return "new"
        if not is_grad_enabled():
            return "gradients are switched off (no_grad)"
        if tracing._recording() is not None:
            return "a biograd.trace() is recording"
        for m, training, children, params in tape.modules:
            if m.training is not training or "forward" in m.__dict__:
                self._tape = None
                return f"{type(m).__name__}: train()/eval() switched or forward replaced since recording"
            if tuple(m._modules.values()) != children or tuple(m._parameters.values()) != params:
                self._tape = None
                return f"{type(m).__name__}: a layer or parameter was added or replaced since recording"
        vals = tape.vals
        for p, slot, requires_grad in tape.graph_params:
            if p.data is not vals[slot] or p.requires_grad is not requires_grad:
                self._tape = None
                return "a parameter's array or requires_grad changed since recording"
        if self.optimizer.state is not tape.state_list:
            self._tape = None
            return "the optimizer's state was replaced (load_state_dict) since recording"
        if signature != tape.signature:
            return f"other shapes or dtypes than recorded: x {signature[0]} {signature[1]}, y {signature[2]}"
        self._other_signature, self._other_seen = None, 0
        return ""

    # -- eager -------------------------------------------------------------------------------------
    def _zero_grad(self) -> None:
        self.optimizer.zero_grad()
        self.model.zero_grad()

    def _eager(self, x_arr: np.ndarray, y: Any, before_update: Callable[[float], bool] | None) -> float:
        self._zero_grad()
        loss = self._loss_of(self.model(Tensor(x_arr, dtype=x_arr.dtype)), y)
        value = float(loss.item())
        loss.backward()
        if before_update is None or before_update(value):
            self.optimizer.step()
        return value

    def _loss_of(self, out: Any, y: Any) -> Tensor:
        loss = self.loss_fn(out, y)
        if not isinstance(loss, Tensor) or loss.data.size != 1:
            raise TypeError(
                "record_step: the loss function must return a biograd Tensor holding one number (use a "
                "'mean' or 'sum' reduction); got "
                f"{type(loss).__name__ if not isinstance(loss, Tensor) else f'shape {loss.shape}'}."
            )
        return loss

    # -- recording ---------------------------------------------------------------------------------
    def _record_and_step(
        self, x_arr: np.ndarray, y: Any, signature: tuple, before_update: Callable[[float], bool] | None
    ) -> float:
        self._tape = None
        self._zero_grad()
        xt = Tensor(x_arr, dtype=x_arr.dtype)
        if x_arr.dtype.kind == "f":
            xt.requires_grad = True  # so that every op on x, even before the first weight, is recorded
        dropouts: dict[int, float] = {}
        out = self._forward_marking_dropout(xt, dropouts)
        loss = self._loss_of(out, y)
        try:
            tape = self._build(xt, out, loss, signature, dropouts)
        except _CannotRecord as err:
            self._unrecordable[signature] = str(err)
            self.path, self.reason = "eager", str(err)
            self.counts["eager"] += 1
            tape = None
        value = float(loss.item())
        loss.backward()
        if before_update is None or before_update(value):
            self.optimizer.step()
        if tape is not None:
            tape.flat = self._flatten(tape)
            tape.state_list = self.optimizer.state
            tape.code, tape.run = _generate(tape)
            self._tape = tape
            self.path, self.reason = "recorded", ""
            self.counts["recorded"] += 1
        return value

    def _forward_marking_dropout(self, xt: Tensor, dropouts: dict[int, float]) -> Any:
        """model(xt), noting which outputs came from active Dropout layers (their mask is drawn anew)."""
        patched = []
        for m in self.model.modules():
            if isinstance(m, Dropout) and "forward" not in m.__dict__:

                def forward(x: Any, m: Dropout = m) -> Any:
                    out = type(m).forward(m, x)
                    dropouts[id(out)] = m.p
                    return out

                object.__setattr__(m, "forward", forward)
                patched.append(m)
        try:
            return self.model(xt)
        finally:
            for m in patched:
                del m.__dict__["forward"]

    def _build(
        self, xt: Tensor, out: Any, loss: Tensor, signature: tuple, dropouts: dict[int, float]
    ) -> _Tape:
        if not isinstance(out, Tensor) or out._op is None:
            raise _CannotRecord("the model's output is not a tensor computed from the input and weights")
        if not loss.requires_grad:
            raise _CannotRecord("the loss does not depend on the weights")
        for m in self.model.modules():
            if "forward" in m.__dict__:
                raise _CannotRecord(f"{type(m).__name__} has a forward set on the instance (a hook)")
        names = {id(p): name for name, p in self.model.named_parameters()}
        params = {id(p): p for p in self.model.parameters()}

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
                        f"the model uses a tensor of shape {t.shape} that is neither the input nor a "
                        "parameter"
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
            type(self.loss_fn).__name__
            if isinstance(self.loss_fn, Module)
            else getattr(self.loss_fn, "__name__", "loss_fn")
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
            loss_entry = _EagerLoss(self.loss_fn, loss_name)

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
            (m, m.training, tuple(m._modules.values()), tuple(m._parameters.values()))
            for m in self.model.modules()
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

    # -- flat parameters, gradients and optimizer state --------------------------------------------
    def _flatten(self, tape: _Tape) -> _Flat | None:
        """Views into one flat array for every optimized parameter the tape reads (and their gradients
        and optimizer state); None when that cannot be done exactly (then ``optimizer.step()`` runs)."""
        opt = self.optimizer
        in_tape = {id(p): slot for p, slot, requires_grad in tape.graph_params if requires_grad}
        chosen = [(i, p) for i, p in enumerate(opt.params) if id(p) in in_tape]
        tape.other_grads = [(p, slot) for p, slot, requires_grad in tape.graph_params if requires_grad]
        # a built-in rule, each in its module of biograd.optim (a subclass of the user's may change it)
        built_in = type(opt).__module__.startswith("biograd.optim.")
        elementwise = getattr(opt, "elementwise", False) and built_in
        if not chosen or not elementwise:
            return None
        dtype = chosen[0][1].data.dtype
        states = [opt.state[i] for i, _ in chosen]
        keys = set(states[0])
        if any(p.data.dtype != dtype for _, p in chosen) or any(set(s) != keys for s in states):
            return None
        if len({s.get("step") for s in states}) > 1:
            return None
        sizes = [p.data.size for _, p in chosen]
        total = sum(sizes)
        w, g = np.empty(total, dtype), np.zeros(total, dtype)
        flat_state: dict[str, Any] = {}
        for key in keys:
            if isinstance(states[0][key], np.ndarray):
                flat_state[key] = np.empty(total, dtype)
            else:
                flat_state[key] = states[0][key]
        views, grad_views = [], []
        start = 0
        for (_, p), size, state in zip(chosen, sizes, states, strict=True):
            stop = start + size
            view = w[start:stop].reshape(p.data.shape)
            view[...] = p.data
            p.data = view
            tape.vals[in_tape[id(p)]] = view
            views.append(view)
            grad_views.append(g[start:stop].reshape(view.shape))
            tape.buffers[in_tape[id(p)]] = grad_views[-1]  # backward writes this gradient straight here
            if p.grad is not None:
                grad_views[-1][...] = p.grad
                p.grad = grad_views[-1]
            for key, arr in flat_state.items():
                if isinstance(arr, np.ndarray):
                    part = arr[start:stop].reshape(view.shape)
                    part[...] = state[key]
                    state[key] = part
            start = stop
        flat_ids = {id(p) for _, p in chosen}
        tape.other_grads = [(p, slot) for p, slot in tape.other_grads if id(p) not in flat_ids]
        return _Flat([p for _, p in chosen], views, grad_views, w, g, flat_state, states)

    # -- replay ------------------------------------------------------------------------------------
    def _replay(
        self,
        tape: _Tape,
        x_arr: np.ndarray,
        y: Any,
        y_arr: np.ndarray,
        before_update: Callable[[float], bool] | None,
    ) -> float:
        value = tape.run(x_arr, y, y_arr)  # forward, loss, backward: the generated straight-line code
        self._give_gradients(tape)
        if before_update is None or before_update(value):
            self._update(tape)
        return value

    def _give_gradients(self, tape: _Tape) -> None:
        """Each parameter's ``.grad``, as backward() would leave it (views into the flat gradient)."""
        flat = tape.flat
        if flat is not None:
            for p, gview in zip(flat.params, flat.grad_views, strict=True):
                p.grad = gview
        for p, slot in tape.other_grads:
            p.grad = tape.buffers[slot].copy()

    def _update(self, tape: _Tape) -> None:
        flat = tape.flat
        if flat is None:
            self.optimizer.step()
            return
        state = flat.state
        if "step" in state:
            state["step"] = flat.states[0].get("step", 0)
        self.optimizer.step_arrays(flat.w, flat.g, state, key=("flat", id(flat)))
        for s in flat.states:
            for key, v in state.items():
                if not isinstance(v, np.ndarray):
                    s[key] = v
                elif key not in s:  # a state array the update created just now: split it into views
                    _split_new_state(flat, key)

    # -- display -----------------------------------------------------------------------------------
    @property
    def code(self) -> str:
        """The Python function a replay runs: each op's forward, the loss, each op's backward, as
        straight-line calls ("" before anything is recorded). ``print(step.code)`` to read it."""
        return "" if self._tape is None else self._tape.code

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"<RecordedStep of {type(self.model).__name__}: {c['recorded']} recorded, "
            f"{c['replayed']} replayed, {c['eager']} eager>"
        )

    def __str__(self) -> str:
        tape = self._tape
        head = repr(self)
        if tape is None:
            why = self.reason or "nothing recorded yet (the first call records)"
            return f"{head}\nno tape: {why}"
        x_shape, x_dtype, y_shape, y_dtype = tape.signature
        lab = tape.labels
        lines = [head, f"recorded for x {x_shape} {x_dtype}, y {y_shape} {y_dtype}", ""]
        lines.append("forward   (each line is one op's forward: output = Op(inputs), output shape)")
        for n, e in enumerate(tape.forward, start=1):
            text = f"{lab[e.out]} = {type(e.op).__name__}({', '.join(lab[i] for i in e.ins)})"
            if e.dropout_p is not None:
                text += f"   {lab[e.ins[1]]}: new dropout mask, p={e.dropout_p:g}"
            lines.append(f"  {n:>3}  {text:<58} {tape.shapes[e.out]}")
        lines.append("loss")
        lines.append(f"       L = {tape.loss.describe()}")
        lines.append("backward  (chain rule, newest first: dL/d(input) = dL/d(output) * d(output)/d(input))")
        lines.append("          dL/dout from the loss")
        for e in tape.backward:
            formulas = e.op.formulas(tuple(lab[i] for i in e.ins))
            for k, (i, action) in enumerate(zip(e.ins, e.actions, strict=True)):
                if action == 0:
                    continue
                formula, _, hint = (formulas[k] if k < len(formulas) else "?").partition("  (")
                if " " in formula and not formula.startswith("("):
                    formula = f"({formula})"
                hint = f"   ({hint}" if hint else ""
                sign = "+=" if action == 3 else "="
                lines.append(f"          dL/d{lab[i]} {sign} dL/d{lab[e.out]} * {formula}{hint}")
        opt = self.optimizer
        if tape.flat is not None:
            flat_ids = {id(q) for q in tape.flat.params}
            names = ", ".join(lab[slot] for p, slot, _ in tape.graph_params if id(p) in flat_ids)
            lines.append(
                f"update    {type(opt).__name__} on one flat array of {tape.flat.w.size:,} numbers ({names})"
            )
        else:
            lines.append(f"update    {type(opt).__name__}.step() on each parameter")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# The generated code: the tape as one straight-line Python function
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# BLAS threads by the size of the products
# --------------------------------------------------------------------------------------------------

#: Multiply-adds in one matrix product below which a second BLAS thread costs more than it brings: waking
#: and joining threads takes microseconds, and on a busy machine far more. Measured on a loaded 2-core
#: machine (benchmarks/README.md, row 8): two threads made a 2-16-16-2 step of PyTorch ~400x slower than
#: one, and the 784-128-64-10 step (products up to 128 x 784 x 128 = 12.8M) of numpy 35x slower. Products
#: of the 1024-wide MLP (268M) keep the user's setting.
SMALL_PRODUCT = 1 << 25


def largest_product(model: Module, x_shape: tuple[int, ...]) -> int:
    """Multiply-adds of the largest single matrix product a training step of ``model`` makes on a batch of
    shape ``x_shape``, estimated from the weights' shapes: batch x in x out for a 2-D weight, and
    out x in x kernel x length for a 3-D (Conv1d) weight, whose products run one sample at a time."""
    n, length = (x_shape[0], x_shape[-1]) if len(x_shape) else (1, 1)
    largest = 0
    for p in model.parameters():
        shape = p.data.shape
        if len(shape) == 2:
            largest = max(largest, n * shape[0] * shape[1])
        elif len(shape) == 3:
            largest = max(largest, shape[0] * shape[1] * shape[2] * length)
    return largest


@contextlib.contextmanager
def blas_threads_for(model: Module, x_shape: tuple[int, ...]) -> Iterator[int | None]:
    """Inside this block numpy's BLAS uses one thread if every matrix product of a training step is small
    (below :data:`SMALL_PRODUCT` multiply-adds); larger products keep the user's setting. The setting in
    force before the block is restored after it. Yields the thread count chosen (None: unchanged).

    ``biograd.fit`` trains inside it; wrap a hand-written loop the same way::

        with biograd.record.blas_threads_for(model, xb.shape):
            for xb, yb in loader:
                step(xb, yb)
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it numpy keeps its threads
        yield None
        return
    if largest_product(model, x_shape) >= SMALL_PRODUCT:
        yield None
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield 1


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


def _split_new_state(flat: _Flat, key: str) -> None:
    arr = flat.state[key]
    start = 0
    for view, s in zip(flat.views, flat.states, strict=True):
        s[key] = arr[start : start + view.size].reshape(view.shape)
        start += view.size


def _indexes_with_arrays(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


def _const_label(x: Any) -> str:
    return f"{float(x):g}" if np.ndim(x) == 0 else "const"


def record_step(
    model: Module, loss_fn: Callable, optimizer: Optimizer, rerecord_after: int = 3
) -> RecordedStep:
    """A training step for hand-written loops: ``loss = step(x, y)`` zeroes the gradients, runs the model,
    the loss, backward and the optimizer, and returns the loss; the first call records, the next replay.

    Args:
        model: the network (a biograd Module).
        loss_fn: ``loss_fn(model(x), y)`` gives the loss (e.g. ``biograd.nn.CrossEntropyLoss()``).
        optimizer: a biograd optimizer built on ``model.parameters()``.
        rerecord_after: a new batch shape seen this many times in a row is recorded in place of the old.

    See :mod:`biograd.record` for what a recorded step may contain and when it runs eagerly instead.

    >>> opt = biograd.optim.Adam(model.parameters())                    # doctest: +SKIP
    >>> step = biograd.record_step(model, biograd.nn.CrossEntropyLoss(), opt)   # doctest: +SKIP
    >>> loss = step(xb, yb)                                              # doctest: +SKIP
    """
    return RecordedStep(model, loss_fn, optimizer, rerecord_after)
