"""Recording a backward pass step by step: the chain rule with every number filled in.

>>> import biograd
>>> x = biograd.tensor(1.5, requires_grad=True, name="x")
>>> u = x**2; u.name = "u"
>>> y = u.sin(); y.name = "y"
>>> with biograd.trace() as t:
...     y.backward()
>>> print(t)  # doctest: +SKIP

For each node, in the order backpropagation visits them, a :class:`Step` holds the op, the values of
its inputs and output, the upstream gradient dL/d(output), the local derivative d(output)/d(input) as a
formula and (for elementwise ops) as numbers, and the product passed back to each input. The pictures
in :mod:`biograd.viz` are drawn from these records.

This module knows nothing of Tensor: the engine hands it plain values, so it sits below ``tensor.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_active: list[Trace] = []


def _recording() -> Trace | None:
    return _active[-1] if _active else None


@dataclass
class Step:
    """One node of the backward pass: how dL/d(output) becomes dL/d(each input).

    Attributes:
        index: position in backward order (1 = the output whose ``backward()`` was called).
        op: the primitive's name, e.g. ``"Sin"``.
        output_label / input_labels: names of the tensors (their ``name``, or ``v1, v2, ...``).
        output: the node's forward value.
        inputs: the forward values of its inputs (constants included).
        upstream: dL/d(output), the gradient arriving from later in the graph.
        local_formulas: d(output)/d(input) for each input, as text.
        local_values: the same as numbers (arrays), or None where it is not elementwise (matmul, sum).
        passed: dL/d(input) sent to each input (None for inputs that need no gradient); these are
            reduced to the input's shape if broadcasting made them larger.
        chain: dL/d(input) for each input as a chain-rule product of local derivatives, as text.
        output_tensor / input_tensors: the tensors themselves (constants appear as None), so pictures
            can match steps to a model's parameters.
    """

    index: int
    op: str
    output_label: str
    input_labels: tuple[str, ...]
    output: np.ndarray
    inputs: tuple[Any, ...]
    upstream: np.ndarray
    local_formulas: tuple[str, ...]
    local_values: tuple[Any, ...]
    passed: tuple[Any, ...]
    chain: tuple[str, ...]
    output_tensor: Any = field(repr=False, default=None)
    input_tensors: tuple[Any, ...] = field(repr=False, default=())


class Trace:
    """A list of :class:`Step` filled in by ``backward()`` while the ``with biograd.trace()`` block runs.

    Iterate over it, index it (``t[0]``), or ``print`` it for a table.
    """

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._labels: dict[int, str] = {}
        self._n_leaves = self._n_inner = 0
        self._chains: dict[int, str] = {}
        self._keep: list[Any] = []  # keeps labelled objects alive so their ids stay unique
        self.leaf_grads: dict[str, np.ndarray] = {}
        self.leaf_chains: dict[str, str] = {}  # dL/d(input) as a chain-rule product, per input label

    # -- context manager ---------------------------------------------------------------------------
    def __enter__(self) -> Trace:
        _active.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _active.remove(self)

    # -- list-like ---------------------------------------------------------------------------------
    def __iter__(self):
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i):
        return self.steps[i]

    # -- recording (called by the engine) ----------------------------------------------------------
    def label(self, tensor: Any) -> str:
        """The tensor's ``name``, or a stable label for an unnamed one: ``y`` for the output backward
        started from, ``x, x2, x3, ...`` for inputs (leaves: no parents), ``v1, v2, ...`` in between."""
        if tensor is None:
            return "const"
        name = getattr(tensor, "name", None)
        if name:
            return name
        key = id(tensor)
        if key not in self._labels:
            self._keep.append(tensor)
            if not self.steps and not self._labels:
                label = "y"
            elif not getattr(tensor, "_parents", ()):
                self._n_leaves += 1
                label = "x" if self._n_leaves == 1 else f"x{self._n_leaves}"
            else:
                self._n_inner += 1
                label = f"v{self._n_inner}"
            self._labels[key] = label
        return self._labels[key]

    def record(self, node, op, inputs, upstream, passed) -> None:
        """Store one backward step; ``inputs`` are the node's parents (tensors or constants)."""
        tensors = tuple(x if hasattr(x, "_parents") else None for x in inputs)
        out_label = self.label(node)  # before its inputs: the output is named first (y), inputs after
        labels = tuple(
            self.label(t) if t is not None else _const_label(x) for t, x in zip(tensors, inputs, strict=True)
        )
        formulas = op.formulas(labels)
        locals_ = op.local()
        upstream_chain = self._chains.get(id(node), "1")
        chains = []
        for t, formula in zip(tensors, formulas, strict=False):
            product = formula if upstream_chain == "1" else f"{upstream_chain} * {_wrap(formula)}"
            chains.append(product)
            if t is not None and getattr(t, "requires_grad", False):
                previous = self._chains.get(id(t))
                combined = product if previous is None else f"{previous} + {product}"
                self._chains[id(t)] = combined if len(combined) <= 120 else f"dL/d{self.label(t)}"
        self.steps.append(
            Step(
                index=len(self.steps) + 1,
                op=op.name,
                output_label=out_label,
                input_labels=labels,
                output=np.asarray(node.data),
                inputs=tuple(x.data if t is not None else x for t, x in zip(tensors, inputs, strict=True)),
                upstream=np.asarray(upstream),
                local_formulas=formulas,
                local_values=tuple(None if v is None else np.asarray(v) for v in locals_),
                passed=tuple(passed),
                chain=tuple(chains),
                output_tensor=node,
                input_tensors=tensors,
            )
        )

    def record_leaf(self, leaf, grad) -> None:
        label = self.label(leaf)
        self.leaf_grads[label] = np.asarray(grad)
        self.leaf_chains[label] = self._chains.get(id(leaf), "")

    def in_terms_of_inputs(self, text: str) -> str:
        """``text`` with every intermediate label replaced by the expression that computed it, until only
        inputs remain: ``cos(u) * 2*x`` becomes ``cos(x^2) * 2*x`` when ``u = x^2``."""
        definitions = {
            s.output_label: _forward_expression(s.op, s.input_labels)
            for s in self.steps
            if s.output_label not in self.leaf_grads
        }
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, definitions)) + r")\b") if definitions else None
        for _ in range(len(definitions)):
            if pattern is None:
                break
            new = pattern.sub(lambda m: _inserted(definitions[m.group(1)], m), text)
            if new == text or len(new) > 200:
                break
            text = new
        return text

    # -- display -----------------------------------------------------------------------------------
    def __str__(self) -> str:
        lines = []
        for s in self.steps:
            y = s.output_label
            lines.append(f"step {s.index}: {y} = {s.op}({', '.join(s.input_labels)})  =  {_num(s.output)}")
            lines.append(f"    upstream   dL/d{y} = {_num(s.upstream)}")
            for i, label in enumerate(s.input_labels):
                if s.passed[i] is None:
                    continue
                local = s.local_formulas[i] if i < len(s.local_formulas) else "?"
                value = s.local_values[i] if i < len(s.local_values) else None
                local_txt = f"d{y}/d{label} = {local}"
                if value is not None:
                    local_txt += f" = {_num(value)}"
                lines.append(f"    local      {local_txt}")
                lines.append(f"    chain rule dL/d{label} = {s.chain[i]} = {_num(s.passed[i])}")
        if self.leaf_grads:
            lines.append("gradients stored in .grad:")
            for label, g in self.leaf_grads.items():
                chain = self.leaf_chains.get(label, "")
                expanded = self.in_terms_of_inputs(chain) if chain else ""
                shown = "".join(f"{c} = " for c in dict.fromkeys((chain, expanded)) if c)
                lines.append(f"    dL/d{label} = {shown}{_num(g)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Trace of {len(self.steps)} backward steps>"


# How each op computes its output, for writing gradients in terms of the inputs; other ops: name(args).
_FORWARD = {
    "Add": "{0} + {1}",
    "Sub": "{0} - {1}",
    "Mul": "{0}*{1}",
    "Div": "{0}/{1}",
    "Pow": "{0}^{1}",
    "Neg": "-{0}",
    "MatMul": "{0} @ {1}",
}


def _forward_expression(op: str, labels: tuple[str, ...]) -> str:
    template = _FORWARD.get(op)
    if template is not None and template.count("{") == len(labels):
        return template.format(*labels)
    return f"{op.lower()}({', '.join(labels)})"


def _inserted(expression: str, match: re.Match) -> str:
    """An expression put where its label stood: in parentheses unless it is a single term or the label
    is already the whole argument of a function, as in cos(u)."""
    text = match.string
    alone = (
        match.start() > 0 and text[match.start() - 1] == "(" and text[match.end() : match.end() + 1] == ")"
    )
    simple = not any(c in expression for c in " +-*/@^")
    return expression if alone or simple else f"({expression})"


def _const_label(x) -> str:
    return f"{x:g}" if np.ndim(x) == 0 and np.isreal(x) else "const"


def _wrap(formula: str) -> str:
    return f"({formula})" if any(c in formula for c in " +-") and not formula.startswith("(") else formula


def _num(x) -> str:
    arr = np.asarray(x)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.size <= 6:
        return np.array2string(arr, precision=4, separator=", ")
    return f"array of shape {arr.shape} (mean {float(arr.mean()):.4g}, norm {float(np.linalg.norm(arr)):.4g})"
