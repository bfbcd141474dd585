"""Tensor: a numpy array that remembers how it was computed, so it can compute its own gradients.

Every operation on tensors runs a primitive from :mod:`biograd.ops` and, when an input needs a
gradient, records a node: the op (which saved what its backward needs) and the input tensors.
``backward()`` walks these nodes from the output back to the leaves (reverse topological order) and
applies the chain rule at each one: dL/d(input) = dL/d(output) * d(output)/d(input); the walk itself is
in :mod:`biograd.backward`; ``no_grad`` comes from :mod:`biograd.grad_mode`.

The math on tensors (``exp``, ``sum``, ``softmax``, ``reshape``, ``concatenate``, ...) is in
:mod:`biograd.tensor_functions`, with the fused ops of :mod:`biograd.kernels`; that module builds on this
one (never the other way round) and gives each of its functions to Tensor as a method, the same function
object: ``x.exp()`` is ``exp(x)``, which applies ``ops.Exp``.

>>> import biograd
>>> x = biograd.tensor(1.5, requires_grad=True)
>>> y = (x**2).sin()          # y = sin(x^2)
>>> y.backward()              # dy/dx = cos(x^2) * 2x
>>> round(float(x.grad), 4)
-1.8846
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biograd import grad_mode, ops
from biograd.backward import FreedNode, backpropagate, freed_error, unbroadcast  # noqa: F401
from biograd.convert import to_array
from biograd.errors import ShapeError
from biograd.grad_mode import enable_grad, is_grad_enabled, no_grad  # noqa: F401  (public from here too)

# Every tensor gets the next number when it is created. An op's inputs exist before its output, so a
# larger number always means "computed later": backward() visits nodes from the largest number down,
# which is a valid reverse topological order without a separate sort.
_creation_order = itertools.count()


def _constant(value: Any, like: Tensor) -> Any:
    """An operand that is not a Tensor: Python numbers stay as they are (numpy treats them as weak,
    so float32 stays float32); arrays and lists take the tensor's floating dtype."""
    kind = type(value)
    if kind is float or kind is int or kind is Tensor:  # common cases first: runs on every x * 2.0
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, np.generic):
        return value
    dtype = like.data.dtype if like.data.dtype.kind == "f" else None
    return to_array(value, dtype=dtype) if dtype is not None else to_array(value)


def as_tensor(x: Any) -> Tensor:
    """x itself if it is a Tensor, else a new constant Tensor (no gradient) holding it."""
    return x if isinstance(x, Tensor) else Tensor(x)


# --------------------------------------------------------------------------------------------------
# Recording a node
# --------------------------------------------------------------------------------------------------


def _explain(error: ValueError, op: ops.Op, *arrays: Any) -> Exception:
    """The error to raise when ``op.forward`` failed: numpy's cryptic shape errors become the op's own
    explanation (a ShapeError); our own ShapeErrors and numpy's AxisError (clear already) pass through."""
    if isinstance(error, (ShapeError, np.exceptions.AxisError)):
        return error
    return ShapeError(op.explain_shapes(*arrays))


def _result(data: np.ndarray, op: ops.Op, inputs: tuple, needs: tuple) -> Tensor:
    """The output tensor; it records its node (op + inputs) only if some input needs a gradient."""
    out = _new_tensor(Tensor)
    out._seq = next(_creation_order)
    out.data = data
    out.grad = None
    out.name = None
    out._retain = False
    if True in needs and grad_mode.enabled:
        op.needs_grad = needs
        out.requires_grad = True
        out._op = op
        out._parents = inputs
    else:
        out.requires_grad = False
        out._op = None
        out._parents = ()
    return out


def _apply(op: ops.Op, *inputs: Any) -> Tensor:
    """Run ``op`` forward on the inputs' arrays; record a graph node if any input needs a gradient."""
    arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
    needs = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    try:
        data = op.forward(*arrays)
    except ValueError as error:
        raise _explain(error, op, *arrays) from None
    return _result(data, op, inputs, needs)


# The two fast paths below do what _apply does for one and two inputs, without its loops and without
# packing arguments: every arithmetic operator goes through them, so their cost is multiplied by
# millions in training (benchmarks/op_overhead.py measures it).


def _unary(op: ops.Op, x: Tensor) -> Tensor:
    try:
        data = op.forward(x.data)
    except ValueError as error:
        raise _explain(error, op, x.data) from None
    return _result(data, op, (x,), (x.requires_grad,))


def _binary(op: ops.Op, a: Any, b: Any) -> Tensor:
    """Two inputs, at least one of them a Tensor; the other may be a number, list or array."""
    if isinstance(a, Tensor):
        a_data, a_needs = a.data, a.requires_grad
    else:
        a = a_data = _constant(a, b)
        a_needs = False
    if isinstance(b, Tensor):
        b_data, b_needs = b.data, b.requires_grad
    else:
        b = b_data = _constant(b, a)
        b_needs = False
    try:
        data = op.forward(a_data, b_data)
    except ValueError as error:
        raise _explain(error, op, a_data, b_data) from None
    return _result(data, op, (a, b), (a_needs, b_needs))


# --------------------------------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------------------------------


class Tensor:
    """An n-dimensional array of numbers that can compute its own gradients.

    Args:
        data: numbers, (nested) lists, or a numpy array. Stored as float32 unless ``dtype`` says
            otherwise or a float64 numpy array is given (then float64 is kept).
        requires_grad: if True, operations on this tensor are recorded and ``backward()`` fills in
            ``.grad`` (dL/d this tensor, a numpy array of the same shape).
        dtype: a numpy dtype to store the data in.
        name: a label shown in traces and graph pictures.
    """

    __slots__ = ("__weakref__", "_op", "_parents", "_retain", "_seq", "data", "grad", "name", "requires_grad")
    __array_ufunc__ = None  # numpy hands `array + tensor` to Tensor.__radd__ instead of looping
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None):
        self.data = to_array(data.data if isinstance(data, Tensor) else data, dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"Only floating-point tensors can require gradients; this one holds {self.data.dtype} "
                "data. Create it with dtype=np.float32 (or float64)."
            )
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._op: Any = None
        self._parents: tuple = ()
        self._retain = False
        self._seq = next(_creation_order)

    # -- basic properties --------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements (numpy's ``size``; PyTorch calls it ``numel()``)."""
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by an op): their ``.grad`` is kept by backward."""
        return self._op is None

    @property
    def grad_fn(self) -> str | None:
        """Name of the op that made this tensor, or None for a leaf."""
        return None if self._op is None else self._op.name

    @property
    def T(self) -> Tensor:
        return _unary(ops.Transpose(None), self)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}.")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied)."""
        return np.asarray(self.data)

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph: no gradient flows through the result."""
        return Tensor(self.data, dtype=self.data.dtype)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype (cut from the graph, like ``detach``)."""
        return Tensor(self.data, dtype=dtype)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad can only be switched off on leaf tensors; use detach().")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this intermediate (non-leaf) tensor after backward, for inspection."""
        self._retain = True

    def zero_grad(self) -> None:
        self.grad = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.data) if dtype is None else np.asarray(self.data, dtype=dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, precision=4, separator=", ", prefix="tensor(", threshold=200, edgeitems=3
        )
        extras = []
        if self.data.dtype not in (np.float32, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._op is not None:
            extras.append(f"grad_fn=<{self.grad_fn}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    def _repr_html_(self) -> str:
        """Notebook display: the values, then shape, dtype and gradient status on one line."""
        import html

        info = f"shape {self.shape}, {self.data.dtype}"
        if self.requires_grad:
            info += ", requires_grad" + (f", made by {self.grad_fn}" if self._op is not None else "")
        if self.grad is not None:
            info += ", has .grad"
        return f"<pre>{html.escape(repr(self))}</pre><small>{html.escape(info)}</small>"

    # -- backpropagation ---------------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Compute dL/d(leaf) for every leaf this tensor depends on, adding it into ``leaf.grad``.

        Args:
            grad: dL/d(this tensor). Leave it out when this tensor is a single number (a loss): then it
                is 1. For a non-scalar output pass an array of the output's shape.
            retain_graph: keep the recorded graph so backward can run through it again. By default the
                graph is freed (its saved arrays released) as soon as it has been used.

        Gradients accumulate across calls, as in PyTorch: call ``zero_grad()`` (or an optimizer's) between
        training steps.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() was called on a tensor that does not require gradients, so there is nothing "
                "to differentiate. Create the inputs you want gradients for with requires_grad=True "
                "(e.g. biograd.tensor(data, requires_grad=True)), and make sure the computation did not "
                "run inside biograd.no_grad()."
            )
        if isinstance(self._op, FreedNode):
            raise freed_error(self._op.name)
        given = grad
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient argument only works for a single number (a loss); "
                    f"this tensor has shape {self.shape}. Reduce it first (e.g. .sum() or .mean()), or "
                    f"pass grad=, an array of shape {self.shape} holding dL/d(this tensor)."
                )
            grad = np.ones(self.data.shape, self.data.dtype)  # dL/dL = 1
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ShapeError(
                    f"backward(grad=...) needs a gradient of the output's shape {self.shape}; "
                    f"got shape {grad.shape}."
                )

        backpropagate(self, grad, caller_owns_grad=given is not None, retain_graph=retain_graph)

    # -- arithmetic --------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(ops.Add(), self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _binary(ops.Add(), other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _binary(ops.Sub(), self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(ops.Sub(), other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _binary(ops.Mul(), self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(ops.Mul(), other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(ops.Div(), self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(ops.Div(), other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _binary(ops.Pow(), self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(ops.Pow(), other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _binary(ops.MatMul(), self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _binary(ops.MatMul(), other, self)

    def __neg__(self) -> Tensor:
        return _unary(ops.Neg(), self)

    # -- in place: the gradient-descent step w -= lr * w.grad ---------------------------------------
    def _inplace(self, other: Any, ufunc: np.ufunc, symbol: str, op: Callable) -> Tensor:
        """``self.data`` updated in place (same array, same dtype), like ``w -= lr * w.grad``.

        Inside ``no_grad()``, or for a tensor no gradient flows into, the numbers change in place. A
        tensor that requires grad (a weight) outside ``no_grad()`` raises, as in PyTorch: a graph may
        hold its old value. An intermediate result of the graph gets the ordinary new tensor instead
        (``h += b`` means ``h = h + b``), so backpropagation stays right.
        """
        if grad_mode.enabled and self.requires_grad:
            if self._parents:
                return op(self, other)
            raise RuntimeError(
                f"In-place '{symbol}=' on a tensor that requires grad (a weight, a leaf of the graph) "
                f"is not allowed while gradients are recorded. For a gradient-descent step write "
                f"`with biograd.no_grad(): w {symbol}= lr * w.grad` (or change `w.data`)."
            )
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except ValueError:
            raise ShapeError(
                f"In-place '{symbol}=' keeps the tensor's shape {self.data.shape}, but with an operand of "
                f"shape {np.shape(value)} the result would have another shape (or none). Write "
                f"`x = x {symbol} y` for a new tensor."
            ) from None
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(other, np.add, "+", Tensor.__add__)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(other, np.subtract, "-", Tensor.__sub__)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(other, np.multiply, "*", Tensor.__mul__)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(other, np.true_divide, "/", Tensor.__truediv__)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return _unary(ops.GetItem(_plain_index(index)), self)

    # -- comparisons: plain boolean tensors, no gradient -------------------------------------------
    def _compare(self, other: Any, fn) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(fn(self.data, other))

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    # -- shape methods (the math methods, exp, sum, ..., are given by biograd.tensor_functions) --
    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape: ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``, one may be -1."""
        return _unary(ops.Reshape(_shape_arg(shape)), self)

    view = reshape

    def flatten(self, start_axis: int = 0) -> Tensor:
        return _unary(ops.Reshape((*self.shape[:start_axis], -1)), self)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _unary(ops.Reshape(np.squeeze(self.data, axis).shape), self)

    def unsqueeze(self, axis: int) -> Tensor:
        return _unary(ops.Reshape(np.expand_dims(self.data, axis).shape), self)


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become plain arrays (indices carry no gradient)."""
    if isinstance(index, Tensor):
        return index.data if index.data.dtype.kind in "bi" else index.data.astype(np.intp)
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    return index


# --------------------------------------------------------------------------------------------------
# Creating tensors
# --------------------------------------------------------------------------------------------------


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Create a tensor from numbers, lists or a numpy array (float32 unless told otherwise).

    >>> w = biograd.tensor([0.5, -1.0], requires_grad=True, name="w")
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    """A tensor of zeros of the given shape: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    """A tensor of ones of the given shape: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(x: Any, requires_grad: bool = False) -> Tensor:
    """Zeros with ``x``'s shape and dtype."""
    return Tensor(np.zeros_like(np.asarray(x)), requires_grad=requires_grad)


def ones_like(x: Any, requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape and dtype."""
    return Tensor(np.ones_like(np.asarray(x)), requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = np.float32) -> Tensor:
    """Evenly spaced values, as ``numpy.arange``: ``arange(5)`` is 0, 1, 2, 3, 4."""
    return Tensor(np.arange(*args, dtype=dtype))


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        return tuple(shape[0])
    return tuple(shape)


_new_tensor = Tensor.__new__
