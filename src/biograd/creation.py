"""Making tensors: from data (``tensor``), filled with zeros or ones, or a range of numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.tensor import Tensor


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> Tensor:
    """Create a tensor from numbers, lists or a numpy array (float32 unless told otherwise).

    >>> w = biograd.tensor([0.5, -1.0], requires_grad=True, name="w")
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(x: Any, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(x)), requires_grad=requires_grad)


def ones_like(x: Any, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(x)), requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = np.float32) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        return tuple(shape[0])
    return tuple(shape)
