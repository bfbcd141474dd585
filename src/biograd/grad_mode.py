"""Gradient mode: whether operations record a graph for backpropagation.

Inside ``no_grad()`` nothing is recorded (prediction, evaluation, the optimizer's update step), so no
memory is spent on a graph nobody will differentiate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

#: True unless inside ``no_grad()``. Read it (the engine does, for every op); change it only through
#: ``no_grad()`` and ``enable_grad()``, which put the previous value back when they end.
enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _recreate_cm(self) -> _GradMode:
        # As a decorator, each call gets its own context, so recursive calls restore the right mode.
        return _GradMode(self.enabled)

    def __enter__(self) -> None:
        global enabled
        self._previous = enabled
        enabled = self.enabled

    def __exit__(self, *exc) -> None:
        global enabled
        enabled = self._previous


def no_grad(func: Callable | None = None) -> Any:
    """Context manager (or decorator) in which no graph is recorded: for prediction and evaluation.

    >>> with biograd.no_grad():          # doctest: +SKIP
    ...     prediction = model(x)

    As a decorator both ``@biograd.no_grad()`` and ``@biograd.no_grad`` work, as in PyTorch.
    """
    return _GradMode(False) if func is None else _GradMode(False)(func)


def enable_grad(func: Callable | None = None) -> Any:
    """Context manager (or decorator) that turns graph recording back on inside ``no_grad()``."""
    return _GradMode(True) if func is None else _GradMode(True)(func)
