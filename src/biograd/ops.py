"""The primitive operations of biograd's engine, on plain numpy arrays.

Every op is a small class with its forward and its backward side by side:

- ``forward(*inputs)`` computes the output from numpy arrays (or Python numbers) and saves what the
  backward pass will need;
- ``backward(grad)`` receives dL/dy, the gradient of the loss with respect to the op's output, and
  returns dL/dx for each input, in order. This is the chain rule: dL/dx = dL/dy * dy/dx.

Elementwise ops only define ``local()``, their local derivatives dy/dx as arrays; the shared
``backward`` multiplies them by the upstream gradient. The docstring of each op states its math, and
``derivatives`` spells the local derivative out for the chain-rule trace (:func:`biograd.trace`).

Gradients returned here may still have a broadcast shape; the engine reduces them back to each input's
shape in one place (``biograd.tensor.unbroadcast``). This module knows numpy only: it never sees a
Tensor, which is what lets the Tensor class import it without a cycle.
"""

from __future__ import annotations

import numpy as np


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


class Linear(Op):
    """y = x @ W^T + b: a whole layer of neurons in one node (each row of W is one neuron's weights).

    dL/dx = dL/dy @ W,  dL/dW = dL/dy^T @ x,  dL/db = sum of dL/dy over the samples.

    Fused for speed (one node instead of a transpose, a matmul and an add, and no broadcast bias
    gradient to reduce afterwards); tests check it against the three-op composite.
    """

    derivatives = ("W  (dL/dx = dL/dy @ W)", "x  (dL/dW = dL/dy.T @ x)", "1  (dL/db = sum of dL/dy)")
    arg_names = ("x", "W", "b")

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        y = np.matmul(x, w.T)
        if b is not None:
            y += b
        return y

    def backward(self, grad):
        x, needs = self.x, self.needs_grad
        if grad.ndim == 2:
            g2, x2 = grad, x
        else:  # (..., in) inputs: every leading position is one more sample
            g2, x2 = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        grad_x = np.matmul(grad, self.w) if needs[0] else None
        grad_w = np.matmul(g2.T, x2) if needs[1] else None
        grad_b = np.add.reduce(g2, axis=0) if len(needs) > 2 and needs[2] else None
        return (grad_x, grad_w, grad_b)

    def explain_shapes(self, x, w, b=None):
        if np.ndim(x) and np.ndim(w) == 2 and np.shape(x)[-1] == np.shape(w)[-1]:
            return (
                f"linear layer: the bias has shape {np.shape(b)} but the layer has {np.shape(w)[0]} "
                f"outputs (weight shape {np.shape(w)}); the bias needs shape ({np.shape(w)[0]},)."
            )
        return (
            f"linear layer: the input has {np.shape(x)[-1] if np.ndim(x) else 0} features (shape "
            f"{np.shape(x)}) but the layer's weight has shape {np.shape(w)}, i.e. it expects "
            f"{np.shape(w)[-1]} input features. Check the layer's in_features."
        )


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


class Sigmoid(Op):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y). Computed stably: finite and exact for x = +-1000."""

    derivatives = ("sigmoid(x)*(1 - sigmoid(x))",)

    def forward(self, x):
        self.y = stable_sigmoid(x)
        return self.y

    def local(self):
        return (self.y * (1 - self.y),)


def _few_nonzero(grad: np.ndarray, max_share: float = 1 / 16) -> np.ndarray | None:
    """Flat indices of the nonzero entries of ``grad`` if they are few (at most ``max_share`` of a large
    contiguous array), else None. After global max pooling only one position per row gets a gradient;
    ops that see such a gradient can work on those entries instead of making dense passes over it."""
    if grad.size < 4096 or not grad.flags.c_contiguous:
        return None
    nonzero = grad != 0
    if np.count_nonzero(nonzero) > max_share * grad.size:
        return None
    return np.flatnonzero(nonzero)


class ReLU(Op):
    """y = max(0, x);  dy/dx = 1 if x > 0 else 0, so dL/dx = dL/dy where x > 0, else 0.

    When few entries of dL/dy are nonzero (global max pooling follows), only those are looked at; if
    every one of them sits where x > 0, dL/dx equals dL/dy and is passed on as it is.
    """

    derivatives = ("1 if x > 0 else 0",)

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def local(self):
        return ((self.x > 0).astype(self.x.dtype),)

    def backward(self, grad):
        where = _few_nonzero(grad) if self.x.flags.c_contiguous else None
        if where is None:
            return (grad * (self.x > 0),)
        silenced = where[self.x.reshape(-1)[where] <= 0]
        if silenced.size == 0:
            return (grad,)
        dx = grad.copy()
        dx.reshape(-1)[silenced] = 0
        return (dx,)


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
    (see :func:`erf`); the derivative is exact.
    """

    derivatives = ("2/sqrt(pi)*exp(-x**2)",)

    def forward(self, x):
        self.x = x
        return erf(x)

    def local(self):
        return ((2 / np.sqrt(np.pi)) * np.exp(-self.x * self.x),)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to double precision, from W. J. Cody's rational Chebyshev approximations.

    |x| < 0.5: erf(x) = x P(x^2)/Q(x^2); 0.5 <= |x| < 4: erfc(|x|) = e^(-x^2) P(|x|)/Q(|x|);
    |x| >= 4: erfc(|x|) = e^(-x^2)/|x| (1/sqrt(pi) + z P(z)/Q(z)) with z = 1/x^2.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    x64 = x.astype(np.float64)
    ax = np.abs(x64)
    out = np.empty_like(x64)

    small = ax < 0.5
    if small.any():
        z = x64[small] ** 2
        p = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02)
        p = (*p, 3.20937758913846947e03, 1.85777706184603153e-1)
        q = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03)
        q = (*q, 2.84423683343917062e03)
        num = p[4] * z
        den = z
        for i in range(3):
            num = (num + p[i]) * z
            den = (den + q[i]) * z
        out[small] = x64[small] * (num + p[3]) / (den + q[3])

    mid = (ax >= 0.5) & (ax < 4.0)
    if mid.any():
        y = ax[mid]
        c = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01)
        c = (*c, 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03)
        c = (*c, 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
        d = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02)
        d = (*d, 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03)
        d = (*d, 3.43936767414372164e03, 1.23033935480374942e03)
        num = c[8] * y
        den = y
        for i in range(7):
            num = (num + c[i]) * y
            den = (den + d[i]) * y
        erfc = (num + c[7]) / (den + d[7]) * np.exp(-y * y)
        out[mid] = np.sign(x64[mid]) * (1 - erfc)

    large = ax >= 4.0
    if large.any():
        y = ax[large]
        z = 1 / (y * y)
        p = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1)
        p = (*p, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
        q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1)
        q = (*q, 6.05183413124413191e-2, 2.33520497626869185e-3)
        num = p[5] * z
        den = z
        for i in range(4):
            num = (num + p[i]) * z
            den = (den + q[i]) * z
        r = z * (num + p[4]) / (den + q[4])
        erfc = (1 / np.sqrt(np.pi) - r) / y * np.exp(-y * y)
        out[large] = np.sign(x64[large]) * (1 - erfc)

    return out.astype(dtype, copy=False)


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
        if self.x.ndim and self.axis in (-1, self.x.ndim - 1, None):
            return (self._scatter(winners, grad),)
        count = winners.sum(axis=self.axis, keepdims=True).astype(grad.dtype)
        grad = _expand_like(grad, self.x.shape, self.axis, self.keepdims)
        return (winners * (grad / count),)

    def _scatter(self, winners, grad):
        """Reduction over the last axis (or all of x): write grad/k to the k winners of each row only,
        instead of a dense product over x (after global max pooling one position in ~200 wins)."""
        row_length = winners.shape[-1] if self.axis is not None else winners.size
        where = np.flatnonzero(winners)  # flat indices of the winners, row by row
        row = where // row_length
        count = np.bincount(row, minlength=winners.size // row_length).astype(grad.dtype)
        dx = np.zeros(self.x.shape, dtype=grad.dtype)
        dx.reshape(-1)[where] = (np.reshape(grad, -1) / count)[row]
        return dx


class Min(Max):
    """y = min of x over `axis`;  dy/dx_i = 1/k for the k elements equal to the min, 0 elsewhere."""

    derivatives = ("1/k for the k minimal elements, 0 elsewhere",)
    reduce = staticmethod(np.min)


class LogSumExp(Op):
    """y = ln(sum_i e^x_i) over `axis`;  dy/dx_i = e^x_i / sum_j e^x_j = softmax(x)_i.

    Fused for stability: computed as m + ln(sum e^(x - m)) with m = max(x), so logits of +-1000 give a
    finite, exact answer instead of overflowing.
    """

    derivatives = ("softmax(x)",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.y = _logsumexp(x, self.axis)
        return self.y if self.keepdims else np.squeeze(self.y, axis=self.axis)

    def backward(self, grad):
        grad = _expand_like(grad, self.x.shape, self.axis, self.keepdims)
        return (grad * np.exp(self.x - self.y),)


def _logsumexp(x, axis):
    """ln(sum e^x) over axis, keepdims=True, shifted by the max so nothing overflows."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # all -inf along the axis: log(0) = -inf, as numpy would say
        return np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m


class LogSoftmax(Op):
    """y = x - logsumexp(x) over `axis` (log-probabilities);  dL/dx = g - softmax(x) * sum(g).

    Fused for stability (no log of an underflowed probability) and speed; see ``LogSumExp``.
    """

    derivatives = ("1 - softmax(x)  (dL/dx = g - softmax(x) * sum(g))",)

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.y = x - _logsumexp(x, self.axis)
        return self.y

    def backward(self, grad):
        return (grad - np.exp(self.y) * grad.sum(axis=self.axis, keepdims=True),)


class CrossEntropy(Op):
    """Softmax cross-entropy of logits z (N, C) with integer labels y, in one node:

    L_i = -ln softmax(z_i)[y_i] = logsumexp(z_i) - z_i[y_i], times w[y_i] with class weights w;
    "mean" divides sum_i L_i by sum_i w[y_i] (by N without weights), "sum" adds, "none" keeps L_i.

    dL/dz_i = (softmax(z_i) - onehot(y_i)) * w[y_i] (then / sum w[y] for "mean").

    Fused for speed and stability: it is ``log_softmax``, picking the true class, a negation, a sum and a
    scaling (five nodes, one of them a scatter in backward) as one. ``functional.cross_entropy`` uses it
    for (N, C) logits without label smoothing; tests check it against that composite and PyTorch.
    """

    derivatives = ("softmax(z) - onehot(y)  (times w[y], / sum w[y] for the mean)",)
    arg_names = ("z",)

    def __init__(self, labels: np.ndarray, weight: np.ndarray | None = None, reduction: str = "mean"):
        self.labels, self.weight, self.reduction = labels, weight, reduction

    def forward(self, z):
        rows = np.arange(z.shape[0])
        # logsumexp(z_i) - z_i[y_i], shifted by the row's max m_i so that e^(z - m) <= 1 never overflows
        m = np.maximum.reduce(z, axis=1, keepdims=True)
        if np.logical_and.reduce(np.isfinite(m), axis=None):  # every row max finite: the common case
            shifted = z - m
            e = np.exp(shifted)
            total = np.add.reduce(e, axis=1, keepdims=True)  # >= 1: the max contributes e^0
            losses = np.log(total[:, 0]) - shifted[rows, self.labels]
        else:  # a row of +-inf or nan logits: shift by 0 there, as LogSumExp does
            m = np.where(np.isfinite(m), m, 0)
            shifted = z - m
            e = np.exp(shifted)
            total = np.add.reduce(e, axis=1, keepdims=True)
            with np.errstate(divide="ignore"):  # a row of -inf logits: log(0) = -inf, as numpy says
                losses = np.log(total[:, 0]) - shifted[rows, self.labels]
        wy = None if self.weight is None else self.weight[self.labels]
        if wy is not None:
            losses = losses * wy
        self.e, self.total, self.rows, self.row_scale = e, total, rows, wy
        if self.reduction == "none":
            return losses
        loss_sum = np.add.reduce(losses, axis=None)
        if self.reduction == "sum":
            return loss_sum
        self.divisor = z.shape[0] if wy is None else np.add.reduce(wy, axis=None)
        return loss_sum * (1.0 / self.divisor)

    def backward(self, grad):
        g = self.e / self.total  # softmax(z)
        g[self.rows, self.labels] -= 1
        scale = self.row_scale
        if self.reduction == "none":
            scale = grad if scale is None else grad * scale
            g *= scale[:, None]
            return (g,)
        if self.reduction == "mean":
            grad = grad * (1.0 / self.divisor)
        if scale is None:
            g *= grad
        else:
            g *= (grad * scale)[:, None]
        return (g,)


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


# --------------------------------------------------------------------------------------------------
# Sequence layers: 1-D convolution and max pooling (inputs laid out (N, channels, length), as PyTorch)
# --------------------------------------------------------------------------------------------------


def _windows(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every window of ``size`` positions along the last axis, stepping by ``stride``: a read-only view
    of shape (..., n_windows, size), no copy (numpy's sliding_window_view)."""
    return np.lib.stride_tricks.sliding_window_view(x, size, axis=-1)[..., ::stride, :]


class Conv1d(Op):
    """y[n, o, t] = b[o] + sum over c, k of W[o, c, k] * x_pad[n, c, t*stride + k]  (cross-correlation,
    as in PyTorch: a filter W[o] of width K slides along the sequence and scores each window).

    Computed as one matrix product per sample (im2col): the windows of x become the columns of a matrix
    cols[n][(c, k), t] = x_pad[n, c, t*stride + k], so y[n] = W.reshape(O, C*K) @ cols[n] + b, already in
    the (N, O, T) layout. Backward is the chain rule on that product:

    - dL/dW = sum over n, t of dL/dy[n, :, t] cols[n, :, t]^T  (each weight's gradient sums upstream
      gradient times the input it saw)
    - dL/db[o] = sum over n, t of dL/dy[n, o, t]
    - dL/dcols[n] = W.reshape(O, C*K)^T @ dL/dy[n], then every window's gradient is added back to the
      positions it came from (dL/dx[n, c, t*stride + k] += dL/dcols[n, (c, k), t]); padding is dropped.
    """

    derivatives = (
        "W  (dL/dx: each window gets W^T @ dL/dy, added back where it came from)",
        "x  (dL/dW = sum over samples of dL/dy @ windows of x)",
        "1  (dL/db = sum of dL/dy over samples and positions)",
    )
    arg_names = ("x", "W", "b")

    def __init__(self, stride: int = 1, padding: tuple[int, int] = (0, 0)):
        self.stride, self.padding = stride, padding

    def forward(self, x, w, b=None):
        n, c, _ = x.shape
        o, c_w, k = w.shape
        if c != c_w:
            raise ValueError("channels")
        left, right = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (left, right))) if left or right else x
        if xp.shape[-1] < k:
            raise ValueError("too short")
        win = _windows(xp, k, self.stride)  # (N, C, T, K), a view
        t = win.shape[2]
        self.cols = win.transpose(0, 1, 3, 2).reshape(n, c * k, t)  # the one copy: (N, C*K, T)
        self.w, self.padded_length = w, xp.shape[-1]
        y = w.reshape(o, c * k) @ self.cols  # (N, O, T): one (O, C*K) @ (C*K, T) product per sample
        if b is not None:
            y += b[:, None]
        return y

    def backward(self, grad):
        w = self.w
        o, c, k = w.shape
        n, _, t = grad.shape
        grad_x = grad_w = grad_b = None
        if self.needs_grad[0]:
            dcols = (w.reshape(o, c * k).T @ grad).reshape(n, c, k, t)  # (N, C, K, T)
            dxp = np.zeros((n, c, self.padded_length), dtype=dcols.dtype)
            s = self.stride
            for j in range(k):  # K strided slice-adds instead of np.add.at: windows overlap only across j
                dxp[:, :, j : j + s * (t - 1) + 1 : s] += dcols[:, :, j, :]
            left, right = self.padding
            grad_x = dxp[:, :, left : self.padded_length - right]
        need_b = len(self.needs_grad) > 2 and self.needs_grad[2]
        where = _few_nonzero(grad) if self.needs_grad[1] or need_b else None
        if where is not None:  # e.g. after global max pooling: one (n, t) per filter and sample
            grad_w, grad_b = self._sparse_param_grads(grad, where)
            return (grad_x, grad_w if self.needs_grad[1] else None, grad_b if need_b else None)
        if self.needs_grad[1]:
            # sum over n and t of dL/dy[n, o, t] * cols[n, (c, k), t]: one (O, N*T) @ (N*T, C*K) product
            grad_w = np.tensordot(grad, self.cols, axes=([0, 2], [0, 2])).reshape(o, c, k)
        if need_b:
            grad_b = grad.sum(axis=(0, 2))
        return (grad_x, grad_w, grad_b)

    def _sparse_param_grads(self, grad, where):
        """dL/dW and dL/db from the few nonzero entries dL/dy[n, o, t] (flat indices ``where``) only:
        dL/dW[o] = sum over them of dL/dy[n, o, t] * cols[n, :, t], dL/db[o] = sum of those dL/dy."""
        o, c, k = self.w.shape
        n_i, o_i, t_i = np.unravel_index(where, grad.shape)
        values = grad.reshape(-1)[where]
        # pick[o, j] = the j-th entry's dL/dy if it belongs to filter o: one product adds each filter's own
        pick = np.zeros((o, where.size), dtype=grad.dtype)
        pick[o_i, np.arange(where.size)] = values
        grad_w = (pick @ self.cols[n_i, :, t_i]).reshape(o, c, k)  # (O, nnz) @ (nnz, C*K)
        return grad_w, pick.sum(axis=1)

    def explain_shapes(self, x, w, b=None):
        sx, sw = np.shape(x), np.shape(w)
        if len(sx) != 3:
            return (
                f"Conv1d needs input of shape (samples, channels, length); got shape {sx}. One-hot "
                "sequences from biograd.bio.one_hot already have this layout."
            )
        if sx[1] != sw[1]:
            return (
                f"Conv1d: the input has {sx[1]} channels (shape {sx}) but the layer expects {sw[1]} "
                f"(weight shape {sw}). Check in_channels (4 for DNA, 20 for protein one-hot)."
            )
        left, right = self.padding
        return (
            f"Conv1d: the input is {sx[2]} positions long (+{left + right} padding) but the kernel is "
            f"{sw[2]} wide; use shorter kernels, padding, or longer sequences."
        )


class MaxPool1d(Op):
    """y[n, c, t] = max over k < K of x[n, c, t*stride + k]: the strongest signal in each window.

    dL/dx is dL/dy routed to the position that won each window (the first one on ties, as PyTorch);
    every other position gets 0. Windows that would run past the end are dropped (PyTorch's default).
    """

    derivatives = ("1 at the position that won each window, 0 elsewhere",)

    def __init__(self, kernel_size: int, stride: int):
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        if x.ndim != 3 or x.shape[-1] < self.kernel_size:
            raise ValueError("shape")
        win = _windows(x, self.kernel_size, self.stride)  # (N, C, T, K)
        self.winner = win.argmax(axis=-1)  # (N, C, T)
        self.shape, self.dtype = x.shape, x.dtype
        return np.take_along_axis(win, self.winner[..., None], axis=-1)[..., 0]

    def backward(self, grad):
        dx = np.zeros(self.shape, dtype=grad.dtype)
        s, t = self.stride, grad.shape[-1]
        for j in range(self.kernel_size):  # overlapping windows (stride < K) accumulate, no np.add.at
            dx[:, :, j : j + s * (t - 1) + 1 : s] += np.where(self.winner == j, grad, 0)
        return (dx,)

    def explain_shapes(self, x):
        return (
            f"MaxPool1d(kernel_size={self.kernel_size}) needs input of shape (samples, channels, length) "
            f"with length >= {self.kernel_size}; got shape {np.shape(x)}."
        )


class BinaryCrossEntropy(Op):
    """Binary cross-entropy of probabilities p against targets y (elementwise, PyTorch's BCELoss):

    L = -[y ln p + (1 - y) ln(1 - p)], each log clamped at -100 so that a confident wrong answer
    (p exactly 0 or 1) costs 100, not infinity.

    dL/dp = (p - y) / (p (1 - p)), the denominator kept >= 1e-12: at p = 0 or 1 the gradient is large
    and finite (as in PyTorch) rather than 0, so training can still move a saturated prediction.
    """

    derivatives = ("(p - y) / max(p*(1 - p), 1e-12)",)
    arg_names = ("p",)

    def __init__(self, target: np.ndarray) -> None:
        self.target = target

    def forward(self, p):
        self.p = p
        y = self.target
        log_p = np.maximum(np.log(p), -100.0)
        log_not_p = np.maximum(np.log1p(-p), -100.0)
        return -(y * log_p + (1 - y) * log_not_p)

    def local(self):
        p = self.p
        return ((p - self.target) / np.maximum(p * (1 - p), 1e-12),)


def stable_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x) along ``axis``: the same value as
    e^x_i / sum_j e^x_j, but subtracting the max keeps every exponent <= 0, so nothing overflows."""
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)
