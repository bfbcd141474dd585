"""Learning-rate schedulers: :class:`StepLR` and :class:`ReduceLROnPlateau` change ``optimizer.lr`` during
training (PyTorch's rules)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from biograd.optim.base import Optimizer, _check_real
from biograd.tensor import Tensor


def _check_optimizer(owner: str, optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{owner} needs a biograd optimizer (e.g. biograd.optim.SGD(...)); "
            f"got {type(optimizer).__name__}."
        )
    return optimizer


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (PyTorch's StepLR).

    After e calls of ``step()`` (one per epoch): lr = initial_lr * gamma^(e // step_size).

    >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)      # doctest: +SKIP
    >>> for epoch in range(100):                                     # doctest: +SKIP
    ...     train_one_epoch(...)
    ...     scheduler.step()
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.optimizer = _check_optimizer("StepLR", optimizer)
        if (
            isinstance(step_size, (bool, np.bool_))
            or not isinstance(step_size, numbers.Integral)
            or step_size < 1
        ):
            raise ValueError(
                f"The 'step_size' parameter of StepLR must be an int >= 1. Got {step_size!r} instead."
            )
        self.step_size = int(step_size)
        self.gamma = _check_real("StepLR", "gamma", gamma, 0.0, low_open=True)
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    def step(self) -> None:
        """Call once per epoch, after the optimizer's steps of that epoch."""
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.optimizer.lr = self.optimizer.lr * self.gamma
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last ``step()`` (a one-item list, like PyTorch's)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's counters and settings (JSON-friendly)."""
        return {
            "type": "StepLR",
            "step_size": self.step_size,
            "gamma": self.gamma,
            "base_lr": self.base_lr,
            "last_epoch": self.last_epoch,
            "last_lr": list(self._last_lr),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_scheduler_type(self, state)
        self.step_size, self.gamma = int(state["step_size"]), float(state["gamma"])
        self.base_lr, self.last_epoch = float(state["base_lr"]), int(state["last_epoch"])
        self._last_lr = [float(v) for v in state["last_lr"]]

    def __repr__(self) -> str:
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma:g}, last_epoch={self.last_epoch})"


def _check_scheduler_type(scheduler: Any, state: Mapping[str, Any]) -> None:
    name = type(scheduler).__name__
    saved = state.get("type", name) if isinstance(state, Mapping) else None
    if saved != name:
        raise ValueError(f"This scheduler state was saved from {saved}, so it cannot be loaded into {name}.")


class ReduceLROnPlateau:
    """Lower the learning rate when a metric (usually the validation loss) stops improving (PyTorch's).

    Call ``step(metric)`` once per epoch. The metric counts as better when (``mode="min"``,
    ``threshold_mode="rel"``) metric < best * (1 - threshold), or (``"abs"``) metric < best - threshold
    (for ``mode="max"``: greater than best * (1 + threshold) or best + threshold). After more than
    ``patience`` epochs in a row without improvement, lr <- max(lr * factor, min_lr); then ``cooldown``
    epochs pass before bad epochs are counted again.

    >>> scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=5)    # doctest: +SKIP
    >>> scheduler.step(val_loss)                                             # doctest: +SKIP
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        self.optimizer = _check_optimizer(owner, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"The 'mode' parameter of {owner} must be 'min' or 'max'. Got {mode!r} instead.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"The 'threshold_mode' parameter of {owner} must be 'rel' or 'abs'. "
                f"Got {threshold_mode!r} instead."
            )
        self.factor = _check_real(owner, "factor", factor, 0.0, 1.0, low_open=True)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(
                    f"The {name!r} parameter of {owner} must be an int >= 0. Got {value!r} instead."
                )
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience, self.cooldown = int(patience), int(cooldown)
        self.threshold = _check_real(owner, "threshold", threshold, 0.0)
        self.min_lr = _check_real(owner, "min_lr", min_lr, 0.0)
        self.eps = _check_real(owner, "eps", eps, 0.0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [optimizer.lr]

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (1.0 + self.threshold)
        return value > best + self.threshold

    def step(self, metric: float) -> None:
        """Record this epoch's metric (e.g. validation loss) and lower the lr if it has plateaued."""
        current = float(metric.item() if isinstance(metric, Tensor) else metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            old_lr = self.optimizer.lr
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.param_groups[0]["lr"] = new_lr  # may reach min_lr = 0, which .lr= refuses
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate after the last ``step()`` (a one-item list, like PyTorch's)."""
        return list(self._last_lr)

    _SAVED = (
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lr",
        "eps",
        "best",
        "num_bad_epochs",
        "cooldown_counter",
        "last_epoch",
    )

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's counters and settings (JSON-friendly, except that ``best`` may be +-inf)."""
        state = {"type": "ReduceLROnPlateau", **{k: getattr(self, k) for k in self._SAVED}}
        state["last_lr"] = list(self._last_lr)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_scheduler_type(self, state)
        for k in self._SAVED:
            setattr(self, k, state[k])
        self._last_lr = [float(v) for v in state["last_lr"]]

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor:g}, patience={self.patience}, "
            f"best={self.best:g}, num_bad_epochs={self.num_bad_epochs})"
        )
