"""Graphs are freed by reference counting alone: no reference cycles, so memory stays flat even with
Python's cyclic garbage collector switched off."""

from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import biograd


def _make_mlp(rng):
    def param(*shape):
        return biograd.tensor(rng.normal(scale=0.3, size=shape).astype(np.float32), requires_grad=True)

    return [param(16, 8), param(16), param(1, 16), param(1)]


def _training_step(params, x, y, lr=0.01) -> float:
    """One step of a small MLP: forward, MSE loss, backward, SGD update on .data."""
    w1, b1, w2, b2 = params
    h = biograd.linear(x, w1, b1).relu()
    prediction = biograd.linear(h, w2, b2)
    loss = ((prediction - y) ** 2).mean()
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
        p.grad = None
    return loss.item()


@pytest.fixture
def gc_disabled():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_one_training_step_creates_no_reference_cycles(rng, gc_disabled):
    params = _make_mlp(rng)
    x = biograd.tensor(rng.normal(size=(32, 8)))
    y = biograd.tensor(rng.normal(size=(32, 1)))
    _training_step(params, x, y)
    gc.collect()  # anything left over from before
    _training_step(params, x, y)
    assert gc.collect() == 0  # nothing unreachable: reference counting freed it all


@pytest.mark.parametrize("retain_graph", [False, True])
def test_the_graph_dies_with_the_loss(rng, gc_disabled, retain_graph):
    w = biograd.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    x = biograd.tensor(rng.normal(size=(5, 3)))
    hidden = (x @ w.T).tanh()
    loss = hidden.sum()
    hidden_ref, loss_ref = weakref.ref(hidden), weakref.ref(loss)
    op_ref = weakref.ref(hidden._op)
    loss.backward(retain_graph=retain_graph)
    del hidden
    assert hidden_ref() is not None or not retain_graph  # still reachable from the loss if retained
    del loss
    assert loss_ref() is None and hidden_ref() is None and op_ref() is None
    assert w.grad is not None


def test_a_graph_that_is_never_backpropagated_dies_too(rng, gc_disabled):
    w = biograd.tensor(rng.normal(size=(3,)), requires_grad=True)
    y = (w * 2).exp().sum()
    ref = weakref.ref(y)
    del y
    assert ref() is None


def test_memory_stays_flat_over_10000_training_steps_without_the_cyclic_gc(rng, gc_disabled):
    params = _make_mlp(rng)
    x = biograd.tensor(rng.normal(size=(16, 8)).astype(np.float32))
    y = biograd.tensor(rng.normal(size=(16, 1)).astype(np.float32))
    losses = []
    tracemalloc.start()
    try:
        for step in range(10_000):
            losses.append(_training_step(params, x, y))
            if step == 999:
                early, _ = tracemalloc.get_traced_memory()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A leaked graph costs several kilobytes per step (arrays, tensors, ops): 9000 steps would add
    # tens of megabytes. The losses list itself grows by ~0.3 MB; allow 1 MB.
    assert late - early < 1_000_000, f"memory grew by {(late - early) / 1e6:.2f} MB"
    assert losses[-1] < losses[0]  # and it did train


# ------------------------------------------------------------------------------------------------------
# fit on a large table: the table costs itself once
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("validation_split", [0.2, 0.0])
def test_fit_never_copies_the_table(validation_split, monkeypatch):
    """fit reads its training and validation rows by index from x: the memory it allocates on top of x
    (batches, activations, the split's indices, chunked checks and evaluation) stays a small fraction of
    x's size. Copying the training part out of x, as fit once did, allocates 0.8x x; a finiteness mask of
    the whole table 0.25x. tracemalloc sees numpy's allocations, whatever the machine is doing."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 400), dtype=np.float32)  # 30.5 MiB
    y = rng.integers(0, 3, size=len(x))
    model = biograd.nn.MLP([400, 32, 3])
    # first use imports scikit-learn (the split) and more: Python objects tracemalloc would count too
    biograd.fit(biograd.nn.MLP([400, 2, 3]), x[:40], y[:40], epochs=1, verbose=False)
    # chunks of 1 MiB (16 MiB by default, a small share of an atlas-sized table but half of this one)
    monkeypatch.setattr(sys.modules["biograd.training.inputs"], "CHUNK_VALUES", 1 << 18)
    gc.collect()
    tracemalloc.start()
    try:
        biograd.fit(
            model, x, y, epochs=1, batch_size=256, validation_split=validation_split, seed=0, verbose=False
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.2 * x.nbytes, f"fit allocated {peak / x.nbytes:.2f}x the table on top of it"
