"""Backpropagation: the chain rule, applied to every node of a recorded graph from the output back.

A node is a tensor made by an op; it knows its op (which saved what its backward needs) and its inputs
(``_parents``). :func:`backpropagate` visits the nodes newest first, so that when a node is reached every
later use of it has already passed its gradient down, and at each node applies the chain rule:

    dL/d(input) = dL/d(node) * d(node)/d(input)     (``op.backward``)

adding the result into what the input has received so far (a value used twice gets both gradients).
Leaves (tensors made by the user) keep their total in ``.grad``.

The bookkeeping that makes this fast lives in small named helpers below the loop: the queue ordered by
creation, the gradient buffers that may be added into in place, and what a node keeps for drawing once
its saved arrays are freed. This module never imports the Tensor class: it works on any object with the
attributes a node has (``data``, ``grad``, ``requires_grad``, ``_op``, ``_parents``, ``_seq``, ``_retain``).
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from biograd.tracing import _recording

#: Elements (values and gradients together) that a freed graph keeps for ``viz.graph(y)`` after
#: ``y.backward()``: about 0.4 MB in float32. Small graphs, the ones worth drawing, keep everything; a
#: large network's graph keeps only its op names, and its memory goes as soon as backward is done.
DRAWING_BUDGET = 100_000


def backpropagate(root: Any, grad: np.ndarray, caller_owns_grad: bool, retain_graph: bool) -> None:
    """Add dL/d(leaf) into ``leaf.grad`` for every leaf ``root`` depends on, given ``grad`` = dL/d(root).

    ``caller_owns_grad``: ``grad`` came from the caller, so it is never stored or changed in place.
    ``retain_graph``: keep every op's saved arrays so that backward can run through the graph again.
    """
    recorder = _recording()
    buffers = _Buffers(in_place=recorder is None, caller_grad=grad if caller_owns_grad else None)
    received = buffers.received  # dL/d(node) so far, for the nodes still to visit
    received[id(root)] = grad
    queue = [(-root._seq, root)]
    while queue:
        node = heapq.heappop(queue)[1]  # the newest node left: every later use has passed its share
        g = received.pop(id(node))  # so dL/d(node) is complete
        op = node._op
        if op is None or node._retain:
            _store(node, g, buffers, recorder)  # a leaf (or retain_grad()): dL/d(node) lands in .grad
            if op is None:
                continue
        if isinstance(op, FreedNode):
            raise freed_error(op.name)
        input_grads = op.backward(g)  # the chain rule: dL/d(input) = dL/d(node) * d(node)/d(input)
        if len(input_grads) > 1:
            buffers.note_shared(input_grads)
        for parent, needed, pg in zip(node._parents, op.needs_grad, input_grads, strict=False):
            if pg is None or not needed:  # a constant, or data: no gradient wanted
                continue
            if pg.shape != parent.data.shape:
                pg = unbroadcast(np.asarray(pg), parent.data.shape)
            key = id(parent)
            if key in received:
                buffers.add_into(key, pg)  # an input used more than once: its gradients add up
            else:
                received[key] = pg  # the first gradient for this input: visit it in its turn
                heapq.heappush(queue, (-parent._seq, parent))
        if recorder is not None:
            recorder.record(node, op, node._parents, g, _passed(node._parents, op.needs_grad, input_grads))
        if not retain_graph:
            _free(node, op, g, buffers)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a gradient back down to ``shape``: the one place that undoes numpy's broadcasting.

    If x of shape (3,) was broadcast against (4, 3), each x_i was used 4 times, so dL/dx_i is the sum of
    the 4 gradients: sum over the added leading axes, and over axes where x had size 1.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


class FreedNode:
    """What stands where a node's op was once ``backward()`` has freed it (``retain_graph=False``).

    The op and the arrays it saved are gone. What is kept is enough to draw the graph with its gradients
    (``viz.graph(y)`` after ``y.backward()``), within ``DRAWING_BUDGET``:

    Attributes:
        name: the op's name ("Mul", "Linear", ...).
        parents: the node's inputs (tensors or constants), or None once the budget was spent.
        grad: dL/d(node) as backward computed it, or None once the budget was spent.
    """

    __slots__ = ("grad", "name", "parents")

    def __init__(self, name: str, parents: tuple | None = None, grad: np.ndarray | None = None) -> None:
        self.name, self.parents, self.grad = name, parents, grad


def freed_error(name: str) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the graph below this "
        f"{name} result was freed after the first backward() to save memory. "
        "Call backward(retain_graph=True) the first time if you need to backward twice, "
        "or recompute the forward pass."
    )


# --------------------------------------------------------------------------------------------------
# Bookkeeping
# --------------------------------------------------------------------------------------------------


class _Buffers:
    """The gradients received so far by the nodes still to visit, and which arrays may be reused.

    Every gradient an op returns is a fresh array that only one tensor receives, except: the caller's
    gradient, an array an op hands to two inputs (Add passes its gradient to both), and a gradient kept
    for drawing. Those are *shared*; any other may be kept by a leaf as its ``.grad`` without a copy, and
    a tensor used twice adds its second gradient into the first in place. While a trace records
    (``in_place=False``) it keeps every gradient, so then nothing is kept or changed in place.
    """

    def __init__(self, in_place: bool, caller_grad: np.ndarray | None) -> None:
        self.in_place = in_place
        self.shared: set[int] = set() if caller_grad is None else {id(caller_grad)}
        self.received: dict[int, np.ndarray] = {}
        self.drawing_budget = DRAWING_BUDGET  # elements still allowed for drawing (see _free)

    def private(self, arr: Any) -> bool:
        """True if ``arr`` may be kept or added into in place: a writeable array that owns its memory
        (not a view of something else) and was handed to one place only."""
        return (
            self.in_place
            and type(arr) is np.ndarray
            and arr.base is None
            and arr.flags.writeable
            and id(arr) not in self.shared
        )

    def note_shared(self, grads: tuple) -> None:
        """Mark arrays that one op returned for two of its inputs."""
        ids = [id(g) for g in grads if g is not None]
        if len(set(ids)) < len(ids):
            self.shared.update(ids)

    def add_into(self, key: int, grad: np.ndarray) -> None:
        """Add ``grad`` to the gradient received so far under ``key``: in place when that array is ours."""
        total = self.received[key]
        if self.in_place and total.dtype == grad.dtype and self.private(total):
            total += grad
        else:
            self.received[key] = total + grad


def _store(node: Any, g: np.ndarray, buffers: _Buffers, recorder: Any) -> None:
    """Add dL/d(node) into ``node.grad`` (kept without a copy when no one else holds the array)."""
    if g.dtype != node.data.dtype:
        g = g.astype(node.data.dtype)
    if node.grad is None:
        node.grad = g if node._op is None and buffers.private(g) else np.array(g, copy=True)
    else:
        node.grad += g
    if recorder is not None and node._op is None:
        recorder.record_leaf(node, g)


def _passed(parents: tuple, needs_grad: tuple, input_grads: tuple) -> tuple:
    """What each input received from a node, reduced to its shape (None for constants), for the trace."""
    return tuple(
        None if pg is None or not needed else unbroadcast(np.asarray(pg), p.data.shape)
        for p, needed, pg in zip(parents, needs_grad, input_grads, strict=False)
    )


def _free(node: Any, op: Any, g: np.ndarray, buffers: _Buffers) -> None:
    """Release the op (and the arrays it saved); keep the node's links and gradient for drawing while
    the drawing budget lasts. A kept gradient is marked shared: nothing adds into it afterwards."""
    size = node.data.size + g.size
    if buffers.drawing_budget >= size:
        buffers.drawing_budget -= size
        buffers.shared.add(id(g))
        node._op = FreedNode(op.name, node._parents, g)
    else:
        node._op = FreedNode(op.name)
    node._parents = ()
