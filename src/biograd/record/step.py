"""The recorded training step: :class:`RecordedStep` records one eager step as a tape, then replays it
(:mod:`biograd.record` says what a recorded step may contain and when it runs eagerly instead).

The tape's entries and how it is built are in :mod:`~biograd.record.tape`, the straight-line function a replay
runs in :mod:`~biograd.record.codegen`. Here: when to record, replay or run eagerly; the parameters, gradients
and optimizer state gathered into flat arrays; the update; and ``print(step)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from biograd import tracing
from biograd.nn.layers import Dropout
from biograd.nn.module import Module
from biograd.optim import Optimizer
from biograd.record.codegen import _generate
from biograd.record.tape import _build_tape, _CannotRecord, _Flat, _Mismatch, _Tape
from biograd.tensor import Tensor, is_grad_enabled


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
            tape = _build_tape(self.model, self.loss_fn, xt, out, loss, signature, dropouts)
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


def _split_new_state(flat: _Flat, key: str) -> None:
    arr = flat.state[key]
    start = 0
    for view, s in zip(flat.views, flat.states, strict=True):
        s[key] = arr[start : start + view.size].reshape(view.shape)
        start += view.size


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
