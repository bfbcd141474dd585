"""Graphs are freed by reference counting alone: no reference cycles, so memory stays flat even with
Python's cyclic garbage collector switched off."""

from __future__ import annotations

import gc
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
