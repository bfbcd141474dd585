"""The primitive operations of biograd's engine, on plain numpy arrays.

Every op is a small class with its forward and its backward side by side:

- ``forward(*inputs)`` computes the output from numpy arrays (or Python numbers) and saves what the
  backward pass will need;
- ``backward(grad)`` receives dL/dy, the gradient of the loss with respect to the op's output, and
  returns dL/dx for each input, in order. This is the chain rule: dL/dx = dL/dy * dy/dx.

Elementwise ops define ``local()``, their local derivatives dy/dx as arrays; the shared ``backward``
multiplies them by the upstream gradient (a few ops also write ``backward`` out, to skip a multiplication
by 1; tests/test_ops_local.py checks that the two agree). The docstring of each op states its math, and
``derivatives`` spells the local derivative out for the chain-rule trace (:func:`biograd.trace`).

Gradients returned here may still have a broadcast shape; the engine reduces them back to each input's
shape in one place (``biograd.backward.unbroadcast``). This module knows numpy only: it never sees a
Tensor, which is what lets the Tensor class import it without a cycle.

These are the teaching primitives, one screen each. Ops that fuse several of them for stability or
speed (Linear, LogSoftmax, CrossEntropy, BinaryCrossEntropy, Conv1d, MaxPool1d, faster backward passes
for ReLU and Max) live in :mod:`biograd.kernels`; the numerical recipe for erf in :mod:`biograd.special`.
The stable numpy helpers ``stable_sigmoid``, ``stable_logsumexp``, ``stable_log_softmax`` and
``stable_softmax`` are here, for every layer that needs probabilities from logits outside the graph.
"""

from __future__ import annotations

import numpy as np

from biograd.special import erf


def _fmt_shapes(arrays) -> str:
    return " and ".join(str(np.shape(a)) for a in arrays)


class Op:
    """A primitive: ``forward`` on arrays, ``backward`` from dL/d(output) to dL/d(each input).

    ``needs_grad`` is set by the engine before ``backward`` runs: one flag per input, so an op can skip
    gradients nobody needs (data never gets a dL/dx).
    """

    #: Local derivatives d(output)/d(input), one readable formula per input (inputs named x, or a and b).
    derivatives: tuple[str, ...] = ()
    #: Names of the inputs in ``derivatives`` and in the trace.
    arg_names: tuple[str, ...] = ("x",)
    needs_grad: tuple[bool, ...] = (True, True, True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def forward(self, *inputs):
        raise NotImplementedError

    def local(self) -> tuple:
        """Local derivatives dy/dx_i as arrays (elementwise ops), or None where not elementwise."""
        return tuple(None for _ in self.arg_names)

    def backward(self, grad: np.ndarray) -> tuple:
        """Chain rule for elementwise ops: dL/dx_i = dL/dy * dy/dx_i."""
        return tuple(
            grad * d if need else None for need, d in zip(self.needs_grad, self.local(), strict=False)
        )

    def formulas(self, labels: tuple[str, ...]) -> tuple[str, ...]:
        """``derivatives`` with the input names replaced by the trace's labels for them."""
        import re

        out = []
        for formula in self.derivatives:
            for arg, label in zip(self.arg_names, labels, strict=False):
                formula = re.sub(rf"\b{arg}\b", label, formula)
            out.append(formula)
        return tuple(out)

    def explain_shapes(self, *inputs) -> str:
        """The message for a shape error in ``forward`` (numpy's own is cryptic)."""
        return (
            f"{self.name}: shapes {_fmt_shapes(inputs)} cannot be broadcast together. Broadcasting "
            "compares shapes from the last dimension backwards; each pair must be equal or one of them 1."
        )


# --------------------------------------------------------------------------------------------------
# Binary arithmetic
# --------------------------------------------------------------------------------------------------


class Add(Op):
    """y = a + b;  dy/da = 1, dy/db = 1 (the gradient flows unchanged to both inputs)."""

    derivatives = ("1", "1")
    arg_names = ("a", "b")

    def forward(self, a, b):
        return a + b

    def local(self):
        return (1.0, 1.0)

    def backward(self, grad):
        return (grad if self.needs_grad[0] else None, grad if self.needs_grad[1] else None)


class Sub(Op):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    derivatives = ("1", "-1")
    arg_names = ("a", "b")

    def forward(self, a, b):
        return a - b

    def local(self):
        return (1.0, -1.0)

    def backward(self, grad):
        return (grad if self.needs_grad[0] else None, -grad if self.needs_grad[1] else None)


class Mul(Op):
    """y = a * b;  dy/da = b, dy/db = a."""

    derivatives = ("b", "a")
    arg_names = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def local(self):
        return (self.b, self.a)


class Div(Op):
    """y = a / b;  dy/da = 1/b, dy/db = -a/b^2.

    A primitive rather than ``a * b**-1`` so that the forward value rounds once, exactly like numpy's and
    PyTorch's division, and one node is recorded instead of two.
    """

    derivatives = ("1/b", "-a/b**2")
    arg_names = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def local(self):
        return (1.0 / self.b, -self.a / (self.b * self.b))

    def backward(self, grad):
        grad_a = grad / self.b
        grad_b = -grad_a * self.a / self.b if self.needs_grad[1] else None
        return (grad_a if self.needs_grad[0] else None, grad_b)


class Pow(Op):
    """y = a ** b;  dy/da = b * a^(b-1), dy/db = a^b * ln(a).

    ``b`` is usually a constant exponent (``x ** 2``); dy/db is only computed when b needs a gradient.
    """

    derivatives = ("b*a**(b-1)", "a**b*log(a)")
    arg_names = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a**b
        return self.y

    def local(self):
        a, b = self.a, self.b
        d_a = d_b = None
        if self.needs_grad[0]:
            d_a = np.zeros_like(a) if np.isscalar(b) and b == 0 else b * a ** (b - 1)
        if self.needs_grad[1]:
            d_b = self.y * np.log(a)
        return (d_a, d_b)

    def formulas(self, labels):
        if np.ndim(self.b) == 0 and not self.needs_grad[1]:
            p = float(self.b)
            p_txt = f"{p:g}"
            x = labels[0]
            if p == 2:
                return ("2*" + x, labels[1])
            if p == 1:
                return ("1", labels[1])
            return (f"{p_txt}*{x}**{p - 1:g}", labels[1])
        return super().formulas(labels)


class MatMul(Op):
    """y = a @ b (matrix product, numpy's rules for 1-D and batched inputs).

    dL/da = dL/dy @ b^T and dL/db = a^T @ dL/dy: each weight's gradient sums, over the samples, the
    upstream gradient times the input it multiplied.
    """

    derivatives = ("b.T  (dL/da = dL/dy @ b.T)", "a.T  (dL/db = a.T @ dL/dy)")
    arg_names = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.matmul(a, b)

    def backward(self, grad):
        a, b = self.a, self.b
        # Treat vectors as matrices (a row for `a`, a column for `b`), then undo it.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        grad_a = grad_b = None
        if self.needs_grad[0]:
            grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                grad_a = grad_a.squeeze(-2)
        if self.needs_grad[1]:
            grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                grad_b = grad_b.squeeze(-1)
        return (grad_a, grad_b)

    def explain_shapes(self, a, b):
        sa, sb = np.shape(a), np.shape(b)
        if len(sa) == 0 or len(sb) == 0:
            return f"matmul needs at least 1-D inputs; got shapes {sa} and {sb}. Use * for scalars."
        inner_a = sa[-1]
        inner_b = sb[-2] if len(sb) >= 2 else sb[0]
        if inner_a != inner_b:
            return (
                f"matmul shape mismatch: {sa} @ {sb}. The last dimension of the left input ({inner_a}) "
                f"must equal the {'second-to-last' if len(sb) >= 2 else 'only'} dimension of the right "
                f"input ({inner_b}). Did you mean to transpose one of them (.T)?"
            )
        return f"matmul: batch dimensions of {sa} and {sb} cannot be broadcast together."


class Maximum(Op):
    """y = max(a, b) elementwise;  dy/da = 1 where a > b, dy/db = 1 where b > a, 1/2 each on ties."""

    derivatives = ("1 if a > b, 1/2 if a == b, else 0", "1 if b > a, 1/2 if a == b, else 0")
    arg_names = ("a", "b")

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def local(self):
        a, b = self.a, self.b
        tie = 0.5 * (a == b)
        return ((a > b) + tie, (b > a) + tie)


class Minimum(Maximum):
    """y = min(a, b) elementwise;  dy/da = 1 where a < b, dy/db = 1 where b < a, 1/2 each on ties.

    A primitive (not -max(-a, -b)) so that one node is recorded and a Python-number operand keeps its
    full precision.
    """

    derivatives = ("1 if a < b, 1/2 if a == b, else 0", "1 if b < a, 1/2 if a == b, else 0")

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def local(self):
        a, b = self.a, self.b
        tie = 0.5 * (a == b)
        return ((a < b) + tie, (b < a) + tie)


class Where(Op):
    """y = a where condition else b;  dy/da = condition, dy/db = not condition.

    The condition is a constant boolean array: it routes the gradient, it has none itself.
    """

    derivatives = ("1 where condition else 0", "0 where condition else 1")
    arg_names = ("a", "b")

    def __init__(self, condition: np.ndarray):
        self.condition = np.asarray(condition, dtype=bool)

    def forward(self, a, b):
        return np.where(self.condition, a, b)

    def local(self):
        return (self.condition * 1.0, (~self.condition) * 1.0)

    def backward(self, grad):
        zero = np.zeros((), dtype=grad.dtype)
        return (
            np.where(self.condition, grad, zero) if self.needs_grad[0] else None,
            np.where(self.condition, zero, grad) if self.needs_grad[1] else None,
        )


# --------------------------------------------------------------------------------------------------
# Elementwise functions of one input
# --------------------------------------------------------------------------------------------------


class Neg(Op):
    """y = -x;  dy/dx = -1."""

    derivatives = ("-1",)

    def forward(self, x):
        return -x

    def local(self):
        return (-1.0,)

    def backward(self, grad):
        return (-grad,)


class Exp(Op):
    """y = e^x;  dy/dx = e^x = y (the exponential is its own derivative)."""

    derivatives = ("exp(x)",)

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def local(self):
        return (self.y,)


class Log(Op):
    """y = ln(x);  dy/dx = 1/x. Negative inputs give nan with numpy's warning, never a silent clamp."""

    derivatives = ("1/x",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def local(self):
        return (1.0 / self.x,)

    def backward(self, grad):
        return (grad / self.x,)


class Sqrt(Op):
    """y = sqrt(x);  dy/dx = 1 / (2 sqrt(x))."""

    derivatives = ("1/(2*sqrt(x))",)

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def local(self):
        return (0.5 / self.y,)

    def backward(self, grad):
        return (grad / (2 * self.y),)


class Abs(Op):
    """y = |x|;  dy/dx = sign(x) (0 at x = 0, like PyTorch)."""

    derivatives = ("sign(x)",)

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def local(self):
        return (np.sign(self.x),)


class Sin(Op):
    """y = sin(x);  dy/dx = cos(x)."""

    derivatives = ("cos(x)",)

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def local(self):
        return (np.cos(self.x),)


class Cos(Op):
    """y = cos(x);  dy/dx = -sin(x)."""

    derivatives = ("-sin(x)",)

    def forward(self, x):
        self.x = x
        return np.cos(x)

    def local(self):
        return (-np.sin(self.x),)


class Tanh(Op):
    """y = tanh(x);  dy/dx = 1 - tanh(x)^2 = 1 - y^2."""

    derivatives = ("1 - tanh(x)**2",)

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def local(self):
        return (1 - self.y * self.y,)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1, so neither branch can overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def stable_logsumexp(x: np.ndarray, axis=-1) -> np.ndarray:
    """ln(sum e^x) over ``axis`` (kept as a size-1 axis) as m + ln(sum e^(x - m)), m = max(x): e^(x - m) <= 1
    never overflows, so logits of +-1000 give the exact answer. A row of -inf gives -inf, as numpy would."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # all -inf along the axis: log(0) = -inf
        return np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m


def stable_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-probabilities ln softmax(x) = x - logsumexp(x) along ``axis``, finite for any finite logits."""
    return x - stable_logsumexp(x, axis)


def stable_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities e^x / sum e^x along ``axis``, computed as e^(x - logsumexp(x)): never overflows.

    The one softmax on plain arrays: code that turns logits into probabilities outside the graph
    (predictions, reports, pictures) calls this rather than writing its own.
    """
    return np.exp(stable_log_softmax(x, axis))


class Sigmoid(Op):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y). Computed stably: finite and exact for x = +-1000."""

    derivatives = ("sigmoid(x)*(1 - sigmoid(x))",)

    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def local(self):
        return (self.y * (1 - self.y),)


class ReLU(Op):
    """y = max(0, x);  dy/dx = 1 if x > 0 else 0, so dL/dx = dL/dy where x > 0, else 0."""

    derivatives = ("1 if x > 0 else 0",)

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def local(self):
        return ((self.x > 0).astype(self.x.dtype),)

    def backward(self, grad):
        return (grad * (self.x > 0),)


class LeakyReLU(Op):
    """y = x if x > 0 else slope * x;  dy/dx = 1 if x > 0 else slope."""

    derivatives = ("1 if x > 0 else slope",)

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.slope * x)

    def local(self):
        return (np.where(self.x > 0, 1.0, self.slope).astype(self.x.dtype),)

    def formulas(self, labels):
        return (f"1 if {labels[0]} > 0 else {self.slope:g}",)


class Softplus(Op):
    """y = ln(1 + e^x) (a smooth ReLU);  dy/dx = sigmoid(x). Computed as logaddexp(0, x): no overflow."""

    derivatives = ("sigmoid(x)",)

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x)

    def local(self):
        return (stable_sigmoid(self.x),)


class Clip(Op):
    """y = min(max(x, low), high);  dy/dx = 1 where low <= x <= high, else 0 (as PyTorch's clamp)."""

    derivatives = ("1 if low <= x <= high else 0",)

    def __init__(self, low=None, high=None):
        self.low, self.high = low, high

    def forward(self, x):
        self.x = x
        return np.clip(x, self.low, self.high)

    def local(self):
        inside = np.ones(np.shape(self.x), dtype=bool)
        if self.low is not None:
            inside &= self.x >= self.low
        if self.high is not None:
            inside &= self.x <= self.high
        return (inside.astype(self.x.dtype),)


class Erf(Op):
    """y = erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt;  dy/dx = 2/sqrt(pi) * e^(-x^2).

    numpy has no erf, so the forward uses a rational approximation accurate to about 1e-16
    (:func:`biograd.special.erf`); the derivative is exact.
    """

    derivatives = ("2/sqrt(pi)*exp(-x**2)",)

    def forward(self, x):
        self.x = x
        return erf(x)

    def local(self):
        return ((2 / np.sqrt(np.pi)) * np.exp(-self.x * self.x),)


# --------------------------------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------------------------------


def _expand_like(grad, shape, axis, keepdims):
    """Put back the reduced axes (size 1) so `grad` broadcasts against the input's shape."""
    if len(shape) == 0:  # a 0-d input (numpy lets axis=0 / -1 reduce it): the gradient is a number too
        return np.reshape(grad, ())
    if axis is not None and not keepdims:
        grad = np.expand_dims(grad, axis)
    return grad


class Sum(Op):
    """y = sum of x over `axis`;  dy/dx_i = 1 for every element summed (the gradient is copied back)."""

    derivatives = ("1 (for every summed element)",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = np.shape(x)
        return np.sum(x, axis=self.axis, keepdims=self.keepdims)

    def backward(self, grad):
        return (np.broadcast_to(_expand_like(grad, self.shape, self.axis, self.keepdims), self.shape),)


class Max(Op):
    """y = max of x over `axis`;  dy/dx_i = 1/k for the k elements equal to the max, 0 elsewhere.

    Ties share the gradient equally (PyTorch's ``amax``), so the result does not depend on which of
    equal elements happens to come first.
    """

    derivatives = ("1/k for the k maximal elements, 0 elsewhere",)
    reduce = staticmethod(np.max)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.y = self.reduce(x, axis=self.axis, keepdims=True)
        return self.y if self.keepdims else np.squeeze(self.y, axis=self.axis)

    def backward(self, grad):
        winners = self.x == self.y
        count = winners.sum(axis=self.axis, keepdims=True).astype(grad.dtype)
        grad = _expand_like(grad, self.x.shape, self.axis, self.keepdims)
        return (winners * (grad / count),)


class Min(Max):
    """y = min of x over `axis`;  dy/dx_i = 1/k for the k elements equal to the min, 0 elsewhere."""

    derivatives = ("1/k for the k minimal elements, 0 elsewhere",)
    reduce = staticmethod(np.min)


# --------------------------------------------------------------------------------------------------
# Shapes: the gradient is moved back to where each element came from
# --------------------------------------------------------------------------------------------------


class Reshape(Op):
    """y = x viewed with a new shape;  dL/dx = dL/dy reshaped back."""

    derivatives = ("1 (elements keep their values, only the shape changes)",)

    def __init__(self, shape):
        self.new_shape = shape

    def forward(self, x):
        self.shape = np.shape(x)
        return np.reshape(x, self.new_shape)

    def backward(self, grad):
        return (grad.reshape(self.shape),)

    def explain_shapes(self, x):
        return (
            f"cannot reshape a tensor of shape {np.shape(x)} ({np.size(x)} elements) into shape "
            f"{self.new_shape}: the number of elements must stay the same (use -1 for one inferred size)."
        )


class Transpose(Op):
    """y = x with its axes permuted;  dL/dx = dL/dy with the inverse permutation."""

    derivatives = ("1 (elements move, values stay)",)

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        self.ndim = np.ndim(x)
        return np.transpose(x, self.axes)

    def backward(self, grad):
        if self.axes is None:
            return (np.transpose(grad),)
        return (np.transpose(grad, np.argsort([a % self.ndim for a in self.axes])),)

    def explain_shapes(self, x):
        return f"transpose: axes {self.axes} are not a permutation of the {np.ndim(x)} axes of {np.shape(x)}."


def _is_advanced(index) -> bool:
    """True if the index uses integer/boolean arrays (numpy's advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray)) for p in parts)


class GetItem(Op):
    """y = x[index];  dL/dx = zeros with dL/dy added back at the indexed places.

    An index used twice receives both gradients (they accumulate, as the chain rule demands).
    """

    derivatives = ("1 at the selected elements, 0 elsewhere",)

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = np.shape(x), x.dtype
        return x[self.index]

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=self.dtype)
        if _is_advanced(self.index):
            np.add.at(out, self.index, grad)
        else:
            out[self.index] += grad
        return (out,)

    def explain_shapes(self, x):
        return f"index {self.index!r} does not fit a tensor of shape {np.shape(x)}."


class Concatenate(Op):
    """y = the inputs joined along `axis`;  each input gets back its own slice of dL/dy."""

    derivatives = ("1 (each input gets its slice of the gradient)",)

    def __init__(self, axis: int = 0):
        self.axis = axis

    @property
    def arg_names(self):
        return tuple(f"x{i}" for i in range(len(self.sizes)))

    def forward(self, *xs):
        self.sizes = [np.shape(x)[self.axis] for x in xs]
        return np.concatenate(xs, axis=self.axis)

    def backward(self, grad):
        cuts = np.cumsum(self.sizes)[:-1]
        return tuple(np.split(grad, cuts, axis=self.axis))

    def explain_shapes(self, *xs):
        return f"concatenate along axis {self.axis}: shapes {_fmt_shapes(xs)} must agree on every other axis."
