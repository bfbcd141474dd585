"""Callbacks: code that runs during ``fit`` at the start and end of training, epochs and batches.

- :class:`EarlyStopping` stops when the validation loss has not improved for ``patience`` epochs and puts
  the best epoch's weights back.
- :class:`ModelCheckpoint` saves the model (``biograd.save``) when the monitored value improves.
- :class:`ProgressBar` writes a progress line (epoch, losses, metrics, time left) to stderr.

Write your own by subclassing :class:`Callback` and overriding the hooks you need.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.training.history import History
from biograd.training.metrics import _is_lower_better


class Callback:
    """Base class for code that runs during ``fit``: override the hooks you need.

    ``fit`` sets ``self.model`` (the network) and ``self.history`` (the History being filled) before
    ``on_train_begin``. ``logs`` holds the numbers of the moment: after a batch ``{"loss", "batch_size"}``,
    after an epoch every value that goes into ``history.history`` (``loss``, ``val_loss``, ``accuracy``...).
    Call ``self.history.stop_training()`` to stop after the current epoch.

    >>> class PrintLoss(biograd.Callback):                     # doctest: +SKIP
    ...     def on_epoch_end(self, epoch, logs):
    ...         print(epoch, logs["loss"])
    """

    model: Module
    history: History

    def set_context(self, model: Module, history: History, params: dict[str, Any]) -> None:
        self.model, self.history, self.params = model, history, params

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...


def _check_mode(mode: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            f"The 'mode' parameter of {owner} must be 'auto', 'min' or 'max'. Got {mode!r} instead."
        )
    return mode


class _Monitor:
    """Shared by EarlyStopping and ModelCheckpoint: is the monitored value better than the best so far?"""

    def _init_monitor(self, monitor: str, mode: str, min_delta: float, owner: str) -> None:
        self.monitor = monitor
        self.mode = _check_mode(mode, owner)
        self.min_delta = float(min_delta)
        self._owner = owner
        self._warned = False
        self.best: float | None = None
        self.best_epoch: int | None = None

    def _lower_is_better(self) -> bool:
        return self.mode == "min" or (self.mode == "auto" and _is_lower_better(self.monitor))

    def _value(self, logs: dict[str, Any]) -> float | None:
        if self.monitor not in logs:
            if not self._warned:
                self._warned = True
                available = ", ".join(k for k in logs if k != "lr")
                warnings.warn(
                    f"{self._owner} is monitoring {self.monitor!r}, which fit does not record. Available: "
                    f"{available}. (Validation values such as 'val_loss' need validation_split or "
                    "validation_data.)",
                    UserWarning,
                    stacklevel=4,
                )
            return None
        value = float(logs[self.monitor])
        return value if math.isfinite(value) else None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self._lower_is_better():
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stop training when the monitored value has not improved for ``patience`` epochs.

    Args:
        monitor: a key of ``history.history``, usually ``"val_loss"``. A key that fit does not record
            triggers one warning listing the ones it does (and the callback then does nothing).
        patience: how many epochs without improvement to wait before stopping.
        min_delta: an improvement smaller than this does not count.
        mode: ``"min"`` (losses), ``"max"`` (accuracy, R^2) or ``"auto"`` (from the name).
        restore_best_weights: at the end of training, put back the weights of the best epoch (True by
            default, unlike Keras: the best model is what you want to keep).

    After fit, ``best_epoch``, ``best`` (the value) and ``stopped_epoch`` tell what happened.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if not isinstance(patience, (int, np.integer)) or isinstance(patience, bool) or patience < 0:
            raise ValueError(
                f"The 'patience' parameter of EarlyStopping must be an int >= 0. Got {patience!r} instead."
            )
        if not min_delta >= 0:
            raise ValueError(
                f"The 'min_delta' parameter of EarlyStopping must be >= 0. Got {min_delta!r} instead."
            )
        self._init_monitor(monitor, mode, min_delta, "EarlyStopping")
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.best_weights: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best, self.best_epoch, self.best_weights, self.stopped_epoch, self.wait = (
            None,
            None,
            None,
            None,
            0,
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self._value(logs or {})
        if value is None and self.monitor not in (logs or {}):
            return
        if value is not None and self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.history.stop_training()
            self.history.notes.append(
                f"Early stopping at epoch {epoch}: {self.monitor} did not improve for {self.patience} epochs "
                f"after its best value {self.best:.4g} at epoch {self.best_epoch}."
                if self.best is not None
                else f"Early stopping at epoch {epoch}: {self.monitor} was never finite."
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            said = self.history.restored_epoch == self.best_epoch  # fit put them back on Ctrl-C already
            self.model.load_state_dict(self.best_weights)
            self.history.restored_epoch = self.best_epoch
            if not said and self.history.epochs and self.best_epoch != self.history.epochs[-1]:
                self.history.notes.append(
                    f"Restored the weights of epoch {self.best_epoch} (best {self.monitor})."
                )


class ModelCheckpoint(Callback, _Monitor):
    """Save the model with ``biograd.save`` during training.

    Args:
        path: where to save (a directory, or a ``.safetensors``/``.json`` name). It may contain fields
            such as ``"runs/epoch{epoch:03d}"`` or ``"{val_loss:.3f}"`` filled from the epoch's values.
        monitor, mode: what "best" means (as in EarlyStopping).
        save_best_only: save only when the monitored value improves (otherwise after every epoch).

    ``best_epoch`` and ``saved`` (list of (epoch, path)) tell what was written.
    """

    def __init__(
        self,
        path: str | Path,
        monitor: str = "val_loss",
        save_best_only: bool = True,
        mode: str = "auto",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._init_monitor(monitor, mode, 0.0, "ModelCheckpoint")
        self.path = str(path)
        self.save_best_only = save_best_only
        self.metadata = dict(metadata or {})
        self.saved: list[tuple[int, str]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best, self.best_epoch, self.saved = None, None, []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        from biograd.io import save

        logs = logs or {}
        value = self._value(logs)
        if self.save_best_only:
            if value is None or not self._improved(value):
                return
            self.best, self.best_epoch = value, epoch
        path = self.path.format(epoch=epoch, **logs)
        info = {
            "task": self.history.task,
            "class_names": self.history.class_names,
            "feature_names": self.history.feature_names,
            **self.metadata,
            "training": {"epoch": epoch, **{k: float(v) for k, v in logs.items()}},
        }
        save(self.model, path, metadata=info)
        self.saved.append((epoch, path))


class ProgressBar(Callback):
    """A progress line on stderr: epoch, loss, val_loss, the metrics and the time left (ETA).

    On a terminal the line is redrawn in place (at most 10 times a second). When the stream is not a
    terminal (a log file, a CI job, a notebook), it writes a plain line for about every tenth of the epochs
    and the last one, or with ``plain=False`` nothing at all; ``every=1`` writes one line per epoch.
    ``fit(verbose=True)`` adds one that is quiet when stderr is not a terminal (in Jupyter it writes the
    plain lines); ``verbose=2`` one line per epoch anywhere; ``verbose=False`` means silence.

    ``patience``: the patience of an :class:`EarlyStopping` on ``val_loss`` in the same fit. The time left
    is then a range: from now to the epoch training stops at if ``val_loss`` does not improve again (best
    epoch + patience), up to the epoch limit.
    """

    def __init__(
        self, stream: Any = None, every: int | None = None, plain: bool = True, patience: int | None = None
    ) -> None:
        self.stream = stream
        self.every = every
        self.plain = plain
        self.patience = patience

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._out = self.stream if self.stream is not None else sys.stderr
        isatty = getattr(self._out, "isatty", None)
        terminal = bool(isatty and isatty())
        self._live = terminal and self.every is None
        self._silent = not terminal and not self.plain and self.every is None
        self._epochs = int(self.params.get("epochs", 0))
        self._every = self.every or max(1, self._epochs // 10)
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0
        self._best: tuple[float, int] | None = None  # (best val_loss, its epoch)

    def _line(self, epoch: int, logs: dict[str, Any]) -> str:
        elapsed = time.perf_counter() - self._start
        per_epoch = elapsed / epoch if epoch else 0.0
        eta = per_epoch * (self._epochs - epoch)
        parts = [f"epoch {epoch:>{len(str(self._epochs))}}/{self._epochs}"]
        for key, value in logs.items():
            if key not in ("lr", "batch_size") and isinstance(value, (int, float)):
                parts.append(f"{key} {value:.4f}")
        val = logs.get("val_loss")
        improved = isinstance(val, (int, float)) and np.isfinite(val)
        if self.patience is not None and improved and (self._best is None or val < self._best[0]):
            self._best = (float(val), epoch)
        if epoch >= self._epochs:
            parts.append(f"{_seconds(elapsed)}")
        elif self._best is not None:
            stop = min(self._epochs, self._best[1] + int(self.patience or 0))
            soon = per_epoch * max(0, stop - epoch)
            parts.append(
                f"ETA {_seconds(soon)}-{_seconds(eta)} (early stopping)"
                if soon < eta
                else f"ETA {_seconds(eta)}"
            )
        else:
            parts.append(f"ETA {_seconds(eta)}")
        return "  ".join(parts)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self._silent:
            return
        line = self._line(epoch, logs or {})
        if self._live:
            now = time.perf_counter()
            if now - self._last_draw >= 0.1 or epoch == self._epochs:
                self._out.write("\r" + line.ljust(self._width))
                self._out.flush()
                self._width, self._last_draw = len(line), now
        elif epoch % self._every == 0 or epoch == self._epochs or epoch == 1:
            self._out.write(line + "\n")
            self._out.flush()
            line = ""  # written already
        self._last_line = line

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._silent:
            return
        last = getattr(self, "_last_line", "")
        if self._live:
            self._out.write(("\r" + last.ljust(self._width) if last else "") + "\n")
        elif last:  # the epoch training stopped at, if its line was skipped
            self._out.write(last + "\n")
        for note in self.history.notes:
            self._out.write(note + "\n")
        self._out.flush()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel), not merely with ipykernel imported."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


def _seconds(s: float) -> str:
    s = round(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
