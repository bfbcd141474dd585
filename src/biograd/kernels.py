"""Fused and fast-path kernels: ops that do the work of several primitives in one node.

Each one exists for stability or for speed, and says which in its docstring; the teaching primitive it
stands in for lives in :mod:`biograd.ops` (``ops.ReLU`` shows ``grad * (x > 0)``, this module's ``ReLU``
skips the zeros of a sparse gradient). Tests check every kernel against its composite of primitives and
against PyTorch (tests/test_fused.py, tests/test_conv.py, tests/test_losses.py), and every op whose
``local()`` and ``backward()`` both state a derivative against itself (tests/test_ops_local.py).

Like :mod:`biograd.ops`, this module knows numpy only, never a Tensor.
"""

from __future__ import annotations

import numpy as np

from biograd import ops
from biograd.ops import _expand_like


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


class ReLU(ops.ReLU):
    """``ops.ReLU`` with a faster backward, for speed: when few entries of dL/dy are nonzero (global max
    pooling follows), only those are looked at; if every one of them sits where x > 0, dL/dx equals dL/dy
    and is passed on as it is, with no dense pass over the array."""

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


class Max(ops.Max):
    """``ops.Max`` with a faster backward, for speed: a reduction over the last axis (or all of x) writes
    grad/k to the k winners of each row only, instead of a dense product over x (after global max pooling
    one position in ~200 wins)."""

    def backward(self, grad):
        if not (self.x.ndim and self.axis in (-1, self.x.ndim - 1, None)):
            return super().backward(grad)
        winners = self.x == self.y
        row_length = winners.shape[-1] if self.axis is not None else winners.size
        where = np.flatnonzero(winners)  # flat indices of the winners, row by row
        row = where // row_length
        count = np.bincount(row, minlength=winners.size // row_length).astype(grad.dtype)
        dx = np.zeros(self.x.shape, dtype=grad.dtype)
        dx.reshape(-1)[where] = (np.reshape(grad, -1) / count)[row]
        return (dx,)


class Min(Max):
    """``ops.Min`` with ``Max``'s faster backward (for speed)."""

    derivatives = ops.Min.derivatives
    reduce = staticmethod(np.min)


class Linear(ops.Op):
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


class LogSumExp(ops.Op):
    """y = ln(sum_i e^x_i) over `axis`;  dy/dx_i = e^x_i / sum_j e^x_j = softmax(x)_i.

    Fused for stability: computed as m + ln(sum e^(x - m)) with m = max(x), so logits of +-1000 give a
    finite, exact answer instead of overflowing.
    """

    derivatives = ("softmax(x)",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.y = ops.stable_logsumexp(x, self.axis)
        return self.y if self.keepdims else np.squeeze(self.y, axis=self.axis)

    def backward(self, grad):
        grad = _expand_like(grad, self.x.shape, self.axis, self.keepdims)
        return (grad * np.exp(self.x - self.y),)


class LogSoftmax(ops.Op):
    """y = x - logsumexp(x) over `axis` (log-probabilities);  dL/dx = g - softmax(x) * sum(g).

    Fused for stability (no log of an underflowed probability) and speed; see ``LogSumExp``.
    """

    derivatives = ("1 - softmax(x)  (dL/dx = g - softmax(x) * sum(g))",)

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        self.y = ops.stable_log_softmax(x, self.axis)
        return self.y

    def backward(self, grad):
        return (grad - np.exp(self.y) * grad.sum(axis=self.axis, keepdims=True),)


class CrossEntropy(ops.Op):
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


class BinaryCrossEntropy(ops.Op):
    """Binary cross-entropy of probabilities p against targets y (elementwise, PyTorch's BCELoss):

    One node for stability: the clamped logs and the bounded gradient below cannot be had from the
    primitives (composed, the clamp would zero the gradient where it matters most).

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


# Sequence layers: inputs laid out (N, channels, length), as in PyTorch


def _windows(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Every window of ``size`` positions along the last axis, stepping by ``stride``: a read-only view
    of shape (..., n_windows, size), no copy (numpy's sliding_window_view)."""
    return np.lib.stride_tricks.sliding_window_view(x, size, axis=-1)[..., ::stride, :]


class Conv1d(ops.Op):
    """y[n, o, t] = b[o] + sum over c, k of W[o, c, k] * x_pad[n, c, t*stride + k]  (cross-correlation,
    as in PyTorch: a filter W[o] of width K slides along the sequence and scores each window).

    A kernel for speed: one node, computed as one matrix product per sample (im2col): the windows of x
    become the columns of a matrix cols[n][(c, k), t] = x_pad[n, c, t*stride + k], so
    y[n] = W.reshape(O, C*K) @ cols[n] + b, already in the (N, O, T) layout. Backward is the chain rule
    on that product:

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


class MaxPool1d(ops.Op):
    """y[n, c, t] = max over k < K of x[n, c, t*stride + k]: the strongest signal in each window.

    A kernel for speed: every window at once through a strided view, instead of one GetItem and Max
    node per window.

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
