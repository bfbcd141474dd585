"""The functions on tensors: ``biograd.exp``, ``biograd.sum``, ``biograd.softmax``, ``biograd.reshape``,
``biograd.concatenate``, ... Each runs one primitive from :mod:`biograd.ops` (or a fused one from
:mod:`biograd.kernels`) on its inputs' arrays and records the node, through the helpers of
:mod:`biograd.tensor`; a few are short compositions (``mean`` is a sum times 1/n, ``stack`` a concatenate).
Each one whose arguments match is also a Tensor method, the very same function: ``x.exp()`` is ``exp(x)``.

How this differs from :mod:`biograd.functional`: these are the engine's own operations on tensors;
``functional`` builds what networks are made of (activations, dropout, losses) out of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd import kernels, ops
from biograd.errors import ShapeError
from biograd.tensor import (
    Tensor,
    _apply,
    _binary,
    _constant,
    _explain,
    _result,
    _unary,
    as_tensor,
)


def add(a: Any, b: Any) -> Tensor:
    """a + b (broadcast); d/da = 1, d/db = 1 (``ops.Add``)."""
    return as_tensor(a) + b


def sub(a: Any, b: Any) -> Tensor:
    """a - b (broadcast); d/da = 1, d/db = -1 (``ops.Sub``)."""
    return as_tensor(a) - b


def mul(a: Any, b: Any) -> Tensor:
    """a * b elementwise (broadcast); d/da = b, d/db = a (``ops.Mul``)."""
    return as_tensor(a) * b


def div(a: Any, b: Any) -> Tensor:
    """a / b elementwise (broadcast); d/da = 1/b, d/db = -a/b^2 (``ops.Div``)."""
    return as_tensor(a) / b


def pow(a: Any, b: Any) -> Tensor:
    """a ** b elementwise; d/da = b * a^(b-1), d/db = a^b * log(a) (``ops.Pow``)."""
    return as_tensor(a) ** b


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product a @ b (numpy's rules: vectors, matrices, and batches of matrices)."""
    return _binary(ops.MatMul(), as_tensor(a), b)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, one layer of neurons, as a single fused node (see ``kernels.Linear``)."""
    x = as_tensor(x)
    if not isinstance(weight, Tensor) or not (bias is None or isinstance(bias, Tensor)):
        return (
            _apply(kernels.Linear(), x, weight) if bias is None else _apply(kernels.Linear(), x, weight, bias)
        )
    # What _apply does, spelled out: every layer of every network runs this line by line.
    op = kernels.Linear()
    try:
        data = op.forward(x.data, weight.data, None if bias is None else bias.data)
    except ValueError as error:
        raise _explain(error, op, x.data, weight.data, *(() if bias is None else (bias.data,))) from None
    if bias is None:
        return _result(data, op, (x, weight), (x.requires_grad, weight.requires_grad))
    return _result(data, op, (x, weight, bias), (x.requires_grad, weight.requires_grad, bias.requires_grad))


def exp(x: Any) -> Tensor:
    """e^x elementwise;  d/dx e^x = e^x."""
    return _unary(ops.Exp(), as_tensor(x))


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise;  d/dx ln(x) = 1/x. ln of a negative number is nan, with numpy's
    warning (never silently clamped)."""
    return _unary(ops.Log(), as_tensor(x))


def sqrt(x: Any) -> Tensor:
    """Square root elementwise;  d/dx sqrt(x) = 1/(2 sqrt(x))."""
    return _unary(ops.Sqrt(), as_tensor(x))


def abs(x: Any) -> Tensor:
    """|x| elementwise;  d/dx |x| = sign(x)."""
    return _unary(ops.Abs(), as_tensor(x))


def sin(x: Any) -> Tensor:
    """sin(x) elementwise;  d/dx sin(x) = cos(x)."""
    return _unary(ops.Sin(), as_tensor(x))


def cos(x: Any) -> Tensor:
    """cos(x) elementwise;  d/dx cos(x) = -sin(x)."""
    return _unary(ops.Cos(), as_tensor(x))


def tanh(x: Any) -> Tensor:
    """tanh(x) elementwise, squashing to (-1, 1);  d/dx tanh(x) = 1 - tanh(x)^2."""
    return _unary(ops.Tanh(), as_tensor(x))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x) elementwise, squashing to (0, 1);  d/dx sigmoid(x) = sigmoid(x)(1 - sigmoid(x))."""
    return _unary(ops.Sigmoid(), as_tensor(x))


def relu(x: Any) -> Tensor:
    """max(0, x) elementwise;  derivative 1 where x > 0, else 0."""
    return _unary(kernels.ReLU(), as_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x;  derivative 1 or negative_slope."""
    return _unary(ops.LeakyReLU(negative_slope), as_tensor(x))


def softplus(x: Any) -> Tensor:
    """ln(1 + e^x), a smooth ReLU;  d/dx softplus(x) = sigmoid(x)."""
    return _unary(ops.Softplus(), as_tensor(x))


def erf(x: Any) -> Tensor:
    """The error function;  d/dx erf(x) = 2/sqrt(pi) e^(-x^2)."""
    return _unary(ops.Erf(), as_tensor(x))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max];  derivative 1 inside the range, 0 where clipped."""
    if min is None and max is None:
        raise ValueError("clip() needs at least one of min= and max=.")
    min = min.data if isinstance(min, Tensor) else min  # the bounds are constants: no gradient
    max = max.data if isinstance(max, Tensor) else max
    return _unary(ops.Clip(min, max), as_tensor(x))


clamp = clip


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum of two tensors (ties share the gradient equally)."""
    a = as_tensor(a)
    return _binary(ops.Maximum(), a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum of two tensors (ties share the gradient equally)."""
    a = as_tensor(a)
    return _binary(ops.Minimum(), a, b)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """a where condition is true, else b; the gradient follows the branch that was taken."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else as_tensor(a)
    return _apply(ops.Where(cond), _constant(a, like), _constant(b, like))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all elements when None);  each summed element gets the gradient unchanged."""
    return _unary(ops.Sum(_axis(axis), keepdims), as_tensor(x))


def _count(x: Tensor, axis: Any) -> int:
    """How many elements a reduction over ``axis`` combines into each result (1 for a 0-d tensor)."""
    if axis is None or x.ndim == 0:
        return x.data.size
    return int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Average over ``axis``: sum(x) / n, so each element's gradient is 1/n."""
    x = as_tensor(x)
    axis = _axis(axis)
    return sum(x, axis, keepdims) * (1.0 / _count(x, axis))


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance: mean squared deviation from the mean (``ddof=1`` divides by n - 1)."""
    x = as_tensor(x)
    axis = _axis(axis)
    n = _count(x, axis)
    centered = x - mean(x, axis, keepdims=True)
    return sum(centered * centered, axis, keepdims) * (1.0 / (n - ddof))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Largest element over ``axis``; ties share the gradient equally."""
    return _unary(kernels.Max(_axis(axis), keepdims), as_tensor(x))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Smallest element over ``axis``; ties share the gradient equally."""
    return _unary(kernels.Min(_axis(axis), keepdims), as_tensor(x))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """ln(sum e^x) over ``axis``, computed stably;  gradient softmax(x)."""
    return _unary(kernels.LogSumExp(_axis(axis), keepdims), as_tensor(x))


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log-probabilities x - logsumexp(x): stable for any logits."""
    return _unary(kernels.LogSoftmax(axis), as_tensor(x))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Probabilities e^x / sum(e^x) along ``axis``, composed as exp(log_softmax(x)) so it never overflows."""
    return exp(log_softmax(x, axis))


def reshape(x: Any, shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1: inferred)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _unary(ops.Reshape(shape), as_tensor(x))


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes. ``transpose(x)`` reverses them (a matrix's transpose); ``transpose(x, 0, 2, 1)`` is
    numpy's permutation; ``transpose(x, i, j)`` on a tensor with more than two axes swaps axes i and j,
    as in PyTorch (for a matrix the two readings agree)."""
    x = as_tensor(x)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        return _apply(ops.Transpose(None), x)
    if len(axes) == 2 and x.ndim != 2:
        perm = list(range(x.ndim))
        i, j = axes[0] % x.ndim, axes[1] % x.ndim
        perm[i], perm[j] = perm[j], perm[i]
        axes = tuple(perm)
    return _apply(ops.Transpose(tuple(axes)), x)


def permute(x: Any, *axes: Any) -> Tensor:
    """Reorder the axes: ``x.permute(0, 2, 1)``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return _unary(ops.Transpose(tuple(axes)), as_tensor(x))


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; each gets back its own slice of the gradient."""
    if len(tensors) == 0:
        raise ValueError("concatenate() needs at least one tensor.")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        first = as_tensor(tensors[0])
    return _apply(ops.Concatenate(axis), *[_constant(t, first) for t in tensors])


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of equal shape along a new axis: each gets an axis of size 1, then concatenate."""
    if len(tensors) == 0:
        raise ValueError("stack() needs at least one tensor.")
    ts = [as_tensor(t) for t in tensors]
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ShapeError(f"stack() needs tensors of one shape; got {sorted(shapes)}.")
    ndim = ts[0].ndim + 1
    if not -ndim <= axis < ndim:
        raise ShapeError(f"stack(): axis {axis} is out of range for {ndim}-d output.")
    axis = axis % ndim
    return concatenate([t.unsqueeze(axis) for t in ts], axis=axis)


def _axis(axis: Any) -> Any:
    if isinstance(axis, list):
        return tuple(axis)
    return axis


# Each function on tensors whose arguments match is also a Tensor method, the very same function:
# x.exp() runs exp(x), which applies ops.Exp. One step from a method to its op, one docstring.
for _function in (
    sum, mean, var, max, min, transpose, permute, exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu,
    leaky_relu, softplus, erf, clip, maximum, minimum, logsumexp, softmax, log_softmax,
):  # fmt: skip
    setattr(Tensor, _function.__name__, _function)
Tensor.clamp = clip
del _function
