"""Optional peers for the recorded-step row of ``benchmarks/run.py``: JAX and ``torch.compile``.

Each builder returns a step function (one training step per call, returning the loss) starting from given
weights, or raises ``PeerMissing`` with the reason (not installed, no compiler...), which the table prints.
Nothing here is part of biograd.

JAX: ``pip install jax`` (CPU). Its steps are ``jax.jit``-compiled once per shape; the "async" step
returns as soon as the work is queued (JAX's default dispatch, the way a JAX training loop runs), the
"sync" step waits for the result every step (``block_until_ready``), and the "scan16" step runs 16 steps in
one compiled call with ``jax.lax.scan`` (time per step = time per call / 16: a different thing, stated as
such). Adam is written out with PyTorch's formula (no optax needed).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class PeerMissing(Exception):
    """The peer cannot run here; the message says why."""


def _jax() -> Any:
    try:
        import jax
    except ImportError as err:
        raise PeerMissing(f"JAX not installed (pip install jax): {err}") from None
    return jax


def jax_threads() -> str:
    """How many threads XLA's CPU backend may use (fixed when jax is imported)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads=1" in flags:
        return "1 (XLA_FLAGS)"
    return f"XLA default ({os.cpu_count()} cores)"


def _mlp_loss(jnp: Any, jax: Any, n_layers: int) -> Callable:
    def loss_fn(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T + b
            if i < n_layers - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return loss_fn


def _cnn_loss(jnp: Any, jax: Any) -> Callable:
    def loss_fn(params, x, y):
        (w, b), (w2, b2) = params
        h = jax.lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NCH", "OIH", "NCH"))
        h = jax.nn.relu(h + b[None, :, None])
        z = jnp.max(h, axis=2) @ w2.T + b2
        # BCE with logits, PyTorch's mean
        return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

    return loss_fn


def _update(jnp: Any, jax: Any, opt_name: str, lr: float) -> tuple[Callable, Callable]:
    """(init(params) -> state, update(params, grads, state) -> (params, state)): SGD or PyTorch's Adam."""
    if opt_name == "sgd":
        return (lambda params: ()), (
            lambda params, grads, state: (jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), ())
        )
    b1, b2, eps = 0.9, 0.999, 1e-8

    def init(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return (jnp.zeros((), jnp.float32), zeros, zeros)

    def update(params, grads, state):
        t, m, v = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        step = lr / (1 - b1**t)
        root = jnp.sqrt(1 - b2**t)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - step * m / (jnp.sqrt(v) / root + eps), params, m, v
        )
        return params, (t, m, v)

    return init, update


def jax_steps(
    kind: str,
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    opt_name: str,
    lr: float,
    x: np.ndarray,
    pool: Sequence[np.ndarray],
) -> dict[str, Callable[[], Any]]:
    """{"jax": async step, "jax_sync": blocking step, "jax_scan16": 16 steps per call} for an MLP
    (``kind="mlp"``, ReLU hidden layers, cross-entropy) or the motif CNN (``kind="cnn"``, BCE with logits)."""
    jax = _jax()
    import jax.numpy as jnp

    loss_fn = _mlp_loss(jnp, jax, len(weights)) if kind == "mlp" else _cnn_loss(jnp, jax)
    init, update = _update(jnp, jax, opt_name, lr)

    def body(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, state = update(params, grads, state)
        return params, state, loss

    one = jax.jit(body)

    @jax.jit
    def sixteen(params, state, x, ys):
        def scan_body(carry, y):
            params, state, loss = body(*carry, x, y)
            return (params, state), loss

        (params, state), losses = jax.lax.scan(scan_body, (params, state), ys)
        return params, state, losses

    dtype = jnp.int32 if kind == "mlp" else jnp.float32
    jx = jnp.asarray(x)
    jpool = [jnp.asarray(y, dtype=dtype) for y in pool]
    stacked = jnp.stack(jpool)

    def fresh() -> list[Any]:
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
        return [params, init(params)]

    def make(sync: bool) -> Callable[[], Any]:
        carry, labels = fresh(), itertools.cycle(jpool)

        def step() -> Any:
            carry[0], carry[1], loss = one(carry[0], carry[1], jx, next(labels))
            return loss.block_until_ready() if sync else loss

        step.finish = lambda: jax.block_until_ready(carry[0])  # type: ignore[attr-defined]
        return step

    carry16 = fresh()

    def scan16() -> Any:
        carry16[0], carry16[1], losses = sixteen(carry16[0], carry16[1], jx, stacked)
        return losses.block_until_ready()

    scan16.steps_per_call = 16  # type: ignore[attr-defined]
    return {"jax": make(False), "jax_sync": make(True), "jax_scan16": scan16}


def torch_compiled_step(
    tmodel: Any, topt: Any, loss_fn: Any, x: np.ndarray, pool: Sequence[np.ndarray]
) -> Callable:
    """A PyTorch step whose forward and loss (and with them the backward, via AOTAutograd) are compiled
    by ``torch.compile``; the optimizer runs eagerly. Compiles here, on a first call, or raises
    PeerMissing."""
    import torch

    tx = torch.from_numpy(x)
    labels = itertools.cycle([torch.from_numpy(y) for y in pool])
    compiled = torch.compile(lambda inputs, target: loss_fn(tmodel(inputs), target))

    def step() -> Any:
        topt.zero_grad()
        loss = compiled(tx, next(labels))
        loss.backward()
        topt.step()
        return loss

    try:
        state = {k: v.clone() for k, v in tmodel.state_dict().items()}
        step()  # compile now (tens of seconds), then put the weights and optimizer state back
        tmodel.load_state_dict(state)
        topt.state.clear()
    except Exception as err:  # no C compiler, unsupported platform...
        raise PeerMissing(f"torch.compile failed: {type(err).__name__}: {str(err)[:80]}") from None
    labels = itertools.cycle([torch.from_numpy(y) for y in pool])
    return step
