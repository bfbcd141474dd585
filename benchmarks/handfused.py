"""The yardstick: an MLP training step written by hand in numpy, with no graph and no allocation.

This is the lower bound a numpy engine can reach for the same work: forward (x @ W^T + b, ReLU), softmax
cross-entropy, backward by the chain rule written out for this one network, and an SGD or Adam update, all
in float32 and all into buffers allocated once. It keeps the gradients as separate arrays (as an engine
must, since users read ``p.grad``), so it measures the same arithmetic an engine does, minus everything an
engine adds: graph nodes, Python objects per op, general shapes and dtypes.

Used by ``benchmarks/run.py``; not part of biograd. A test-free file on purpose: run.py checks its loss
against biograd's on the same weights before timing anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


def _axpy(y: np.ndarray, alpha: float, x: np.ndarray, tmp: np.ndarray) -> None:
    """y <- y + alpha * x in place, through ``tmp`` (which may be x itself when x is scratch).

    numpy only: scipy's BLAS axpy would be one pass instead of two, but it is a second OpenBLAS with its
    own thread pool, which fights numpy's for the cores.
    """
    np.multiply(x, alpha, out=tmp)
    y += tmp


class HandFusedMLP:
    """sizes[0] -> ReLU hidden layers -> sizes[-1] logits, softmax cross-entropy, SGD or Adam.

    ``weights`` and ``biases`` (PyTorch layout: W of shape (out, in)) may be given to start from the
    same values as another implementation; otherwise they are drawn like ``torch.nn.Linear``'s.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch: int,
        optimizer: str = "sgd",
        lr: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weights: Sequence[np.ndarray] | None = None,
        biases: Sequence[np.ndarray] | None = None,
        seed: int = 0,
    ) -> None:
        rng = np.random.default_rng(seed)
        f32 = np.float32
        pairs = list(itertools.pairwise(sizes))
        if weights is None or biases is None:
            bounds = [1.0 / np.sqrt(n_in) for n_in, _ in pairs]
            weights = [rng.uniform(-b, b, (o, i)) for b, (i, o) in zip(bounds, pairs, strict=True)]
            biases = [rng.uniform(-b, b, o) for b, (_, o) in zip(bounds, pairs, strict=True)]
        self.W = [np.array(w, dtype=f32) for w in weights]
        self.b = [np.array(b, dtype=f32) for b in biases]
        self.z = [np.empty((batch, o), dtype=f32) for _, o in pairs]  # each layer's output (after ReLU)
        self.g = [np.empty((batch, o), dtype=f32) for _, o in pairs[:-1]]  # dL/d(hidden output)
        self.mask = [np.empty((batch, o), dtype=bool) for _, o in pairs[:-1]]
        self.gW = [np.empty_like(w) for w in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        self.probs = np.empty((batch, sizes[-1]), dtype=f32)
        self.rowmax = np.empty((batch, 1), dtype=f32)
        self.rowsum = np.empty((batch, 1), dtype=f32)
        self.rows = np.arange(batch)
        self.optimizer, self.lr, self.betas, self.eps = optimizer, lr, betas, eps
        self.t = 0
        params = self.W + self.b
        if optimizer == "adam":
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self.tmp = [np.empty_like(p) for p in params]
        elif optimizer != "sgd":
            raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {optimizer!r}")

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One training step on the batch (x, y); returns the loss before the update."""
        n_layers = len(self.W)
        a = x
        for i in range(n_layers):  # forward: z = relu(a @ W^T + b), written in place
            z = self.z[i]
            np.matmul(a, self.W[i].T, out=z)
            z += self.b[i]
            if i < n_layers - 1:
                np.maximum(z, 0, out=z)
            a = z
        # softmax cross-entropy: L = mean(logsumexp(z) - z[y]);  dL/dz = (softmax(z) - onehot(y)) / n
        n = x.shape[0]
        p = self.probs
        np.max(a, axis=1, keepdims=True, out=self.rowmax)
        np.subtract(a, self.rowmax, out=p)
        np.exp(p, out=p)
        np.sum(p, axis=1, keepdims=True, out=self.rowsum)
        loss = (np.log(self.rowsum).sum() + self.rowmax.sum() - a[self.rows, y].sum()) / n
        p /= self.rowsum
        p[self.rows, y] -= 1.0
        p *= np.float32(1.0 / n)
        g = p
        for i in range(n_layers - 1, -1, -1):  # backward
            a_prev = x if i == 0 else self.z[i - 1]
            np.matmul(g.T, a_prev, out=self.gW[i])  # dL/dW = g^T @ a
            np.sum(g, axis=0, out=self.gb[i])  # dL/db = sum of g over the batch
            if i > 0:
                gp = self.g[i - 1]
                np.matmul(g, self.W[i], out=gp)  # dL/da = g @ W
                np.greater(a_prev, 0, out=self.mask[i - 1])  # through ReLU: only where it passed
                np.multiply(gp, self.mask[i - 1], out=gp)
                g = gp
        self._update()
        return float(loss)

    def _update(self) -> None:
        params, grads = self.W + self.b, self.gW + self.gb
        if self.optimizer == "sgd":
            for w, g in zip(params, grads, strict=True):
                _axpy(w, -self.lr, g, g)  # w <- w - lr g (g is scratch now)
            return
        self.t += 1
        b1, b2 = self.betas
        step = self.lr / (1.0 - b1**self.t)
        inv_bc2 = 1.0 / (1.0 - b2**self.t) ** 0.5
        for w, g, m, v, tmp in zip(params, grads, self.m, self.v, self.tmp, strict=True):
            m *= b1  # m <- b1 m + (1 - b1) g
            _axpy(m, 1.0 - b1, g, tmp)
            v *= b2  # v <- b2 v + (1 - b2) g^2
            np.multiply(g, g, out=tmp)
            _axpy(v, 1.0 - b2, tmp, tmp)
            np.sqrt(v, out=tmp)  # w <- w - lr m_hat / (sqrt(v_hat) + eps)
            tmp *= inv_bc2
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            _axpy(w, -step, tmp, tmp)
