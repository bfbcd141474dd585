"""How many threads numpy's BLAS uses while training: one when every matrix product of a step is small.

Waking and joining a second thread costs more than it brings on small products; :func:`blas_threads_for`
sets one thread around a training loop of a small network (``biograd.fit`` trains inside it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from biograd.nn.module import Module

#: Multiply-adds in one matrix product below which a second BLAS thread costs more than it brings: waking
#: and joining threads takes microseconds, and on a busy machine far more. Measured on a loaded 2-core
#: machine (benchmarks/README.md, row 8): two threads made a 2-16-16-2 step of PyTorch ~400x slower than
#: one, and the 784-128-64-10 step (products up to 128 x 784 x 128 = 12.8M) of numpy 35x slower. Products
#: of the 1024-wide MLP (268M) keep the user's setting.
SMALL_PRODUCT = 1 << 25


def largest_product(model: Module, x_shape: tuple[int, ...]) -> int:
    """Multiply-adds of the largest single matrix product a training step of ``model`` makes on a batch of
    shape ``x_shape``, estimated from the weights' shapes: batch x in x out for a 2-D weight, and
    out x in x kernel x length for a 3-D (Conv1d) weight, whose products run one sample at a time."""
    n, length = (x_shape[0], x_shape[-1]) if len(x_shape) else (1, 1)
    largest = 0
    for p in model.parameters():
        shape = p.data.shape
        if len(shape) == 2:
            largest = max(largest, n * shape[0] * shape[1])
        elif len(shape) == 3:
            largest = max(largest, shape[0] * shape[1] * shape[2] * length)
    return largest


@contextlib.contextmanager
def blas_threads_for(model: Module, x_shape: tuple[int, ...]) -> Iterator[int | None]:
    """Inside this block numpy's BLAS uses one thread if every matrix product of a training step is small
    (below :data:`SMALL_PRODUCT` multiply-adds); larger products keep the user's setting. The setting in
    force before the block is restored after it. Yields the thread count chosen (None: unchanged).

    ``biograd.fit`` trains inside it; wrap a hand-written loop the same way::

        with biograd.record.blas_threads_for(model, xb.shape):
            for xb, yb in loader:
                step(xb, yb)
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it numpy keeps its threads
        yield None
        return
    if largest_product(model, x_shape) >= SMALL_PRODUCT:
        yield None
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield 1
