"""Checking gradients by finite differences: is backward() telling the truth?

The derivative is the slope of f: (f(x + eps) - f(x - eps)) / (2 eps) approaches df/dx as eps shrinks
(central differences, error of order eps^2). ``gradcheck`` compares that slope, element by element and in
float64, with what backpropagation computed. You can use it on your own functions.

>>> import biograd
>>> report = biograd.gradcheck(lambda x: (x**2).sin(), biograd.tensor([0.5, 1.5]))
>>> report.ok
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from biograd.errors import GradcheckError
from biograd.tensor import Tensor, no_grad


@dataclass
class InputReport:
    """How well one input's analytic gradient matched the numerical one."""

    index: int
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    worst_element: tuple[int, ...]
    analytic: float
    numerical: float
    ok: bool = True


@dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: one :class:`InputReport` per input, and whether all passed."""

    inputs: list[InputReport]
    ok: bool
    eps: float
    atol: float
    rtol: float

    @property
    def max_abs_error(self) -> float:
        return max((r.max_abs_error for r in self.inputs), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((r.max_rel_error for r in self.inputs), default=0.0)

    @property
    def worst(self) -> InputReport | None:
        """The input holding the largest absolute error (None when there are no inputs)."""
        return max(self.inputs, key=lambda r: r.max_abs_error, default=None)

    @property
    def worst_input(self) -> int | None:
        """Position (0-based) of the input with the largest absolute error among ``fn``'s inputs."""
        return None if self.worst is None else self.worst.index

    @property
    def worst_element(self) -> tuple[int, ...] | None:
        """Index, within :attr:`worst_input`, of the element with the largest absolute error."""
        return None if self.worst is None else self.worst.worst_element

    def __str__(self) -> str:
        lines = [
            f"gradcheck {'passed' if self.ok else 'FAILED'} "
            f"(eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})"
        ]
        for r in self.inputs:
            lines.append(
                f"  {'ok    ' if r.ok else 'FAILED'} input {r.index} {r.shape}: max abs error "
                f"{r.max_abs_error:.3g}, max rel error {r.max_rel_error:.3g}; worst at {r.worst_element}: "
                f"backward gave {r.analytic:.10g}, finite differences {r.numerical:.10g}"
            )
        return "\n".join(lines)


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Compare ``fn``'s backward pass with central finite differences, for every element of every input.

    Args:
        fn: a function of tensors returning a tensor (of any shape).
        *inputs: the points to check at (tensors, arrays or numbers); they are copied to float64.
        eps: the finite-difference step.
        atol, rtol: an element passes if |analytic - numerical| <= atol + rtol * |numerical|.
        seed: seeds the random upstream gradient v. The check differentiates sum(fn(x) * v) rather
            than sum(fn(x)), so a backward that ignores its incoming gradient cannot pass by luck.
        raise_on_failure: raise :class:`GradcheckError` with a readable report when a check fails.

    Returns:
        A :class:`GradcheckReport` (``print`` it for a summary).
    """
    xs = [
        Tensor(
            np.array(np.asarray(x.data if isinstance(x, Tensor) else x), dtype=np.float64), requires_grad=True
        )
        for x in inputs
    ]
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a biograd Tensor; it returned {type(out).__name__}.")
    rng = np.random.default_rng(seed)
    v = rng.normal(size=out.shape) + 0.5  # non-uniform, and rarely near zero on average

    def objective() -> float:
        with no_grad():
            return float(np.sum(np.asarray(fn(*xs).data, dtype=np.float64) * v))

    out.backward(v)
    reports = []
    ok = True
    for i, x in enumerate(xs):
        analytic = np.zeros(x.shape) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
        numerical = np.zeros(x.shape)
        flat = x.data.reshape(-1)  # a view: nudging it nudges x
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            up = objective()
            flat[j] = original - eps
            down = objective()
            flat[j] = original
            numerical.reshape(-1)[j] = (up - down) / (2 * eps)
        abs_err = np.abs(analytic - numerical)
        rel_err = abs_err / np.maximum(np.abs(numerical), 1e-12)
        bad = abs_err > atol + rtol * np.abs(numerical)
        worst = np.unravel_index(int(np.argmax(abs_err)), x.shape) if x.data.size else ()
        input_ok = not bad.any()
        ok &= input_ok
        reports.append(
            InputReport(
                index=i,
                shape=x.shape,
                max_abs_error=float(abs_err.max(initial=0.0)),
                max_rel_error=float(rel_err.max(initial=0.0)),
                worst_element=tuple(int(w) for w in worst),
                analytic=float(analytic[worst]) if x.data.size else 0.0,
                numerical=float(numerical[worst]) if x.data.size else 0.0,
                ok=bool(input_ok),
            )
        )
    report = GradcheckReport(inputs=reports, ok=bool(ok), eps=eps, atol=atol, rtol=rtol)
    if not ok and raise_on_failure:
        raise GradcheckError(str(report))
    return report
