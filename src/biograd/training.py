"""Training a network: ``fit()``, the ``History`` it returns and its ``diagnose()``, callbacks, predictions.

The loop ``fit`` runs is the one the notes describe, with nothing hidden::

    for epoch in 1..epochs:
        for each batch (x_b, y_b) of the shuffled training rows:
            output = model(x_b)                  # forward pass
            L = loss(output, y_b)                # how wrong the network is on this batch
            L.backward()                         # backpropagation: dL/dw for every weight w
            optimizer.step()                     # gradient descent: w <- w - lr * dL/dw (or Adam's rule)
        loss and metrics on the training rows and on the validation rows (eval mode, no gradients)

``batch_size="full"`` is batch gradient descent, ``batch_size=1`` stochastic gradient descent, anything in
between mini-batch gradient descent.

Epochs are counted from 1 everywhere (``history.epochs``, callbacks, messages).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biograd.data import DataLoader, StratifyError, TensorDataset, split_indices
from biograd.nn.module import Module
from biograd.optim import Optimizer, ReduceLROnPlateau, create
from biograd.random import manual_seed
from biograd.tensor import Tensor, no_grad

STOP_REASONS = ("completed", "early_stopping", "diverged", "interrupted")


class ConvergenceWarning(UserWarning):
    """Training reached the epoch limit while the loss was still falling (scikit-learn's warning)."""


# ==================================================================================================
# Metrics
# ==================================================================================================


def _class_predictions(output: np.ndarray, output_kind: str) -> np.ndarray:
    """Predicted class indices from the network's output.

    One output column: a logit (class 1 when it is > 0, i.e. sigmoid > 0.5) or, for ``BCELoss``, a
    probability (class 1 when > 0.5). k columns: the class with the largest score (argmax).
    """
    if output.ndim == 1 or output.shape[1] == 1:
        threshold = 0.5 if output_kind == "probabilities" else 0.0
        return (output.reshape(len(output)) > threshold).astype(np.int64)
    return output.reshape(len(output), -1).argmax(axis=1)


def accuracy(y_true: np.ndarray, output: np.ndarray, output_kind: str = "logits") -> float:
    """Fraction of rows whose predicted class (see ``_class_predictions``) equals the label."""
    labels = np.asarray(y_true).reshape(len(output))
    return float(np.mean(_class_predictions(np.asarray(output), output_kind) == labels))


def r2_score(y_true: np.ndarray, output: np.ndarray, output_kind: str = "values") -> float:
    """Coefficient of determination R^2 = 1 - sum (y - y_hat)^2 / sum (y - mean y)^2.

    1 is a perfect fit, 0 is no better than predicting the mean, negative is worse. With several output
    columns, the average of the per-column R^2 (scikit-learn's ``multioutput="uniform_average"``).
    """
    y = np.asarray(y_true, dtype=np.float64).reshape(len(output), -1)
    y_hat = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
    ss_res = ((y - y_hat) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(
            ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res > 0, 0.0, 1.0)
        )
    return float(r2.mean())


def mean_absolute_error(y_true: np.ndarray, output: np.ndarray, output_kind: str = "values") -> float:
    """MAE = mean |y - y_hat|, in the units of y."""
    y = np.asarray(y_true, dtype=np.float64).reshape(len(output), -1)
    return float(np.abs(y - np.asarray(output, dtype=np.float64).reshape(len(output), -1)).mean())


_METRICS: dict[str, Callable[..., float]] = {
    "accuracy": accuracy,
    "r2": r2_score,
    "mae": mean_absolute_error,
}
_METRIC_ALIASES = {"acc": "accuracy", "r2_score": "r2", "mean_absolute_error": "mae"}


def _resolve_metrics(metrics: Any, task: str) -> list[tuple[str, Callable[..., float]]]:
    if metrics is None:
        metrics = ["accuracy"] if task == "classification" else ["r2"]
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    resolved = []
    for m in metrics:
        if isinstance(m, str):
            name = _METRIC_ALIASES.get(m.lower(), m.lower())
            if name not in _METRICS:
                raise ValueError(
                    f"Unknown metric {m!r}. Known metrics: {', '.join(_METRICS)}; or pass a function "
                    "f(y_true, output) -> float."
                )
            resolved.append((name, _METRICS[name]))
        elif callable(m):
            fn = m
            resolved.append(
                (getattr(fn, "__name__", "metric"), lambda y, out, kind, fn=fn: float(fn(y, out)))
            )
        else:
            raise TypeError(f"A metric must be a name or a function f(y_true, output); got {m!r}.")
    return resolved


def _is_lower_better(name: str) -> bool:
    base = name[4:] if name.startswith("val_") else name
    return "loss" in base or "error" in base or base in ("mae", "mse", "rmse")


# ==================================================================================================
# History and its diagnosis
# ==================================================================================================


@dataclass
class Diagnosis:
    """What ``History.diagnose()`` concluded, why (the numbers), and what to try next.

    Attributes:
        verdict: one of ``"diverged"``, ``"overfitting"``, ``"underfitting"``, ``"not converged"``,
            ``"good fit"``.
        evidence: the numbers the verdict rests on (losses, epochs, ratios).
        explanation: one sentence stating the evidence in words.
        advice: what to try next.
    """

    verdict: str
    evidence: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""
    advice: str = ""

    def __str__(self) -> str:
        return " ".join(part for part in (self.explanation, self.advice) if part)

    def _repr_html_(self) -> str:
        import html

        return f"<p><b>{html.escape(self.verdict)}</b>: {html.escape(str(self))}</p>"


# Thresholds of diagnose(); named so the docstring and the code say the same thing.
OVERFIT_RISE = 0.10  # final validation loss >= 10% above its minimum ...
OVERFIT_RISE_OF_BASELINE = 0.02  # ... and by at least 2% of the baseline loss (not just noise near 0)
OVERFIT_GAP_RATIO = 2.0  # or: best validation loss > 2x the training loss at that epoch ...
OVERFIT_GAP_OF_BASELINE = 0.25  # ... and the gap is at least 25% of the baseline loss
UNDERFIT_RATIO = 0.6  # best training loss still >= 60% of the baseline loss
NOT_CONVERGED_DROP = 0.02  # training loss fell > 2% over the last tenth of the epochs ...
NOT_CONVERGED_OF_BASELINE = 0.01  # ... and by > 1% of the baseline loss
UNDERFIT_ACCURACY_MARGIN = 0.05  # classification: best accuracy <= majority-class rate + 5 points


class History:
    """What happened during ``fit``: one value per epoch for every loss and metric.

    ``history.history`` is a dict of lists, as in Keras: ``"loss"`` and ``"val_loss"`` (the loss on the
    training and validation rows at the end of each epoch, in eval mode), ``"accuracy"`` /
    ``"val_accuracy"`` for classification or ``"r2"`` / ``"val_r2"`` for regression, and ``"lr"``.
    The same lists are attributes: ``history.loss``, ``history.val_loss``, ... and ``history["loss"]``.

    Attributes:
        epochs: the epoch numbers run, from 1.
        monitor: the value that defines the best epoch (``"val_loss"``, or ``"loss"`` without validation).
        best_epoch, best_value: where the monitored value was best, and that value.
        stop_reason: ``"completed"`` (ran every epoch), ``"early_stopping"`` (a callback stopped it),
            ``"diverged"`` (a loss became inf/NaN) or ``"interrupted"`` (Ctrl-C / KeyboardInterrupt).
        restored_epoch: the epoch whose weights the model holds after fit, if they were restored
            (early stopping, divergence, interruption); None if the model holds the last epoch's weights.
        task, class_names, feature_names: what fit inferred about the data.
        val_indices: the row numbers of x that validation_split held out (None otherwise).
        baseline: the loss of a constant guess (the class proportions, or the mean of y) on the training
            and validation rows: the yardstick of ``diagnose()``.
        notes: sentences about events (divergence, restored weights, ...).
    """

    def __init__(self, task: str = "regression", monitor: str = "val_loss", params: dict | None = None):
        self.history: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self.task = task
        self.monitor = monitor
        self.params: dict[str, Any] = dict(params or {})
        self.stop_reason = "completed"
        self.restored_epoch: int | None = None
        self.class_names: list[str] | None = None
        self.feature_names: list[str] | None = None
        self.baseline: dict[str, float | None] = {"loss": None, "val_loss": None, "accuracy": None}
        self.notes: list[str] = []
        self.diverged_at: tuple[int, int] | None = None  # (epoch, batch) of the first non-finite loss
        self.val_indices: np.ndarray | None = None  # the rows of x held out by validation_split
        self._stop_requested = False

    # -- recording ---------------------------------------------------------------------------------
    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one epoch's values (every key gets a list)."""
        self.epochs.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, [math.nan] * (len(self.epochs) - 1)).append(float(value))
        for values in self.history.values():
            if len(values) < len(self.epochs):
                values.append(math.nan)

    def stop_training(self) -> None:
        """Ask fit to stop after the current epoch (what callbacks call); ``stop_reason`` becomes
        ``"early_stopping"``."""
        self._stop_requested = True

    # -- reading -----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History has no {key!r}; it has: {', '.join(self.history)}.") from None

    def __getattr__(self, name: str) -> Any:
        history = self.__dict__.get("history", {})
        if name in history:
            return history[name]
        raise AttributeError(
            f"'History' object has no attribute {name!r}. Recorded values: {', '.join(history)}."
        )

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def epochs_run(self) -> int:
        return len(self.epochs)

    def _best_index(self) -> int | None:
        values = self.history.get(self.monitor)
        if not values:
            return None
        arr = np.asarray(values, dtype=np.float64)
        if not np.isfinite(arr).any():
            return None
        arr = np.where(np.isfinite(arr), arr, np.inf if _is_lower_better(self.monitor) else -np.inf)
        return int(np.argmin(arr) if _is_lower_better(self.monitor) else np.argmax(arr))

    @property
    def best_epoch(self) -> int | None:
        """The epoch (from 1) where the monitored value was best."""
        i = self._best_index()
        return None if i is None else self.epochs[i]

    @property
    def best_value(self) -> float | None:
        i = self._best_index()
        return None if i is None else self.history[self.monitor][i]

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary (what ``biograd.save(..., history=h)`` stores as ``"training"``)."""
        final = {k: (v[-1] if v and math.isfinite(v[-1]) else None) for k, v in self.history.items()}
        return {
            "epochs_run": self.epochs_run,
            "stop_reason": self.stop_reason,
            "monitor": self.monitor,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "restored_epoch": self.restored_epoch,
            "final": final,
            "params": {
                k: v for k, v in self.params.items() if isinstance(v, (str, int, float, bool, type(None)))
            },
        }

    def to_frame(self):
        """The per-epoch values as a pandas DataFrame indexed by epoch (pandas is imported here)."""
        import pandas as pd

        return pd.DataFrame(self.history, index=pd.Index(self.epochs, name="epoch"))

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epochs run)"
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if k != "lr")
        best = (
            f", best_epoch={self.best_epoch} ({self.monitor}={self.best_value:.4g})"
            if self.best_epoch
            else ""
        )
        return (
            f"History(epochs={self.epochs_run}, stop_reason={self.stop_reason!r}{best}; last epoch: {last})"
        )

    def _repr_html_(self) -> str:
        import html

        keys = list(self.history)
        rows = []
        shown = self.epochs if len(self.epochs) <= 12 else [*self.epochs[:5], None, *self.epochs[-5:]]
        for epoch in shown:
            if epoch is None:
                rows.append("<tr>" + "<td>...</td>" * (len(keys) + 1) + "</tr>")
                continue
            i = self.epochs.index(epoch)
            style = ' style="font-weight:bold"' if epoch == self.best_epoch else ""
            cells = "".join(f"<td>{self.history[k][i]:.4g}</td>" for k in keys)
            rows.append(f"<tr{style}><td>{epoch}</td>{cells}</tr>")
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        caption = html.escape(
            f"{self.epochs_run} epochs, stop reason: {self.stop_reason}, best epoch: {self.best_epoch}"
        )
        return (
            f"<table><caption>{caption}</caption><tr><th>epoch</th>{head}</tr>{''.join(rows)}</table>"
            f"<p>{html.escape(str(self.diagnose()))}</p>"
        )

    # -- diagnosis ---------------------------------------------------------------------------------
    def diagnose(self) -> Diagnosis:
        """Read the learning curves like a teacher would: is the model over- or underfitting?

        The rules, applied in this order (L_train and L_val are the per-epoch losses; the *baseline* is
        the loss of a constant guess, the class proportions or the mean of y, see ``history.baseline``):

        1. **diverged**: training stopped because a loss became inf or NaN, or the last losses are not
           finite. Advice: lower the learning rate, scale the inputs.
        2. **overfitting** (validation loss turned back up): the final L_val is at least 10% above its
           minimum (and by at least 2% of the baseline loss, so that tiny wobbles near zero do not count),
           the minimum is not at the last epoch, and L_train at the end is below L_train at that minimum
           (training kept improving while validation got worse).
        3. **not converged**: the run used every epoch (``stop_reason == "completed"``), L_train fell by
           more than 2% (and by more than 1% of the baseline loss) over the last tenth of the epochs (but
           at least the last 5), and L_val (if any) reached its minimum in that last stretch: more epochs
           would still help. fit then also warns with a
           ConvergenceWarning, as scikit-learn does.
        4. **underfitting**: the best L_train is still at least 60% of the baseline loss (the network
           removed less than 40% of what a constant guess gets wrong; for MSE on standardized targets
           this is R^2 < 0.4), or, for classification, the training accuracy (at the lowest L_train) is
           at most 5 points above always predicting the most frequent class; and it is no longer falling.
        5. **overfitting** (large gap): the best L_val is more than twice L_train at that epoch and the
           gap is at least 25% of the baseline loss.
        6. otherwise a **good fit**.

        Without validation data only rules 1, 3, 4 and 6 can apply (overfitting needs held-out data).
        """
        ev: dict[str, Any] = {"epochs_run": self.epochs_run, "stop_reason": self.stop_reason}
        train = np.asarray(self.history.get("loss", []), dtype=np.float64)
        val = np.asarray(self.history.get("val_loss", []), dtype=np.float64)
        base = self.baseline.get("loss")
        val_base = self.baseline.get("val_loss") or base
        restored = (
            f" The weights from epoch {self.restored_epoch} were restored."
            if self.restored_epoch and self.epochs and self.restored_epoch != self.epochs[-1]
            else ""
        )
        prefix = (
            f"Training was interrupted (Ctrl-C) after {self.epochs_run} epochs. "
            if self.stop_reason == "interrupted"
            else ""
        )
        if base is not None:
            ev["baseline_loss"] = base

        # 1. diverged
        if self.stop_reason == "diverged" or (len(train) and not np.isfinite(train[-1])):
            where = (
                f" at epoch {self.diverged_at[0]}, batch {self.diverged_at[1]}" if self.diverged_at else ""
            )
            ev["diverged_at"] = self.diverged_at
            ev["lr"] = self.history.get("lr", [None])[-1] if self.history.get("lr") else self.params.get("lr")
            return Diagnosis(
                "diverged",
                ev,
                f"{prefix}The loss became infinite or NaN{where}: training diverged.{restored or ''}".strip(),
                "Lower the learning rate (try 10x smaller), standardize the inputs (mean 0, standard "
                "deviation 1), and check the data for inf/NaN values.",
            )
        if len(train) == 0:
            return Diagnosis(
                "not converged", ev, f"{prefix}No epoch was completed.".strip(), "Train for longer."
            )

        finite = np.isfinite(train)
        ev["final_train_loss"] = float(train[-1])
        ev["min_train_loss"] = float(train[finite].min())
        has_val = len(val) == len(train) and np.isfinite(val).any()
        n = len(train)

        # 2. overfitting: validation loss turned back up while training loss kept falling
        if has_val:
            v = np.where(np.isfinite(val), val, np.inf)
            m = int(np.argmin(v))
            v_min, v_end = float(v[m]), float(val[-1])
            rise = (v_end - v_min) / abs(v_min) if v_min != 0 else (np.inf if v_end > 0 else 0.0)
            ev.update(
                min_val_loss=v_min,
                min_val_epoch=self.epochs[m],
                final_val_loss=v_end,
                val_rise=float(rise),
                train_loss_at_min_val=float(train[m]),
            )
            enough = val_base is None or (v_end - v_min) >= OVERFIT_RISE_OF_BASELINE * val_base
            if m < n - 1 and rise >= OVERFIT_RISE and enough and train[-1] < train[m]:
                return Diagnosis(
                    "overfitting",
                    ev,
                    f"{prefix}Validation loss rose {rise:.0%} from its minimum at epoch {self.epochs[m]} "
                    f"({v_min:.4g} -> {v_end:.4g}) while training loss kept falling ({train[m]:.4g} -> "
                    f"{train[-1]:.4g}): overfitting.{restored}",
                    "Consider dropout, weight decay, a smaller network or more data"
                    + (", and early stopping (biograd.EarlyStopping)." if not restored else "."),
                )

        # 3. not converged: still falling at the epoch limit
        w = max(min(5, n - 1), math.ceil(n / 10))
        if n >= 3 and self.stop_reason == "completed":
            start = train[n - 1 - w]
            drop = (start - train[-1]) / abs(start) if start != 0 else 0.0
            ev["train_drop_last_tenth"] = float(drop)
            val_still_best = (
                not has_val or int(np.argmin(np.where(np.isfinite(val), val, np.inf))) >= n - 1 - w
            )
            steep = base is None or (start - train[-1]) > NOT_CONVERGED_OF_BASELINE * base
            if drop > NOT_CONVERGED_DROP and steep and val_still_best:
                return Diagnosis(
                    "not converged",
                    ev,
                    f"{prefix}Training loss was still falling at the last epoch ({drop:.1%} over the "
                    f"last {w} epochs, to {train[-1]:.4g}): the model has not converged.",
                    "Train for more epochs, or raise the learning rate a little; use EarlyStopping to stop "
                    "once the validation loss stops improving.",
                )

        # 4. underfitting: no better than a constant guess, and flat
        majority = self.baseline.get("accuracy")
        acc = None  # training accuracy at the epoch of the lowest training loss
        if majority is not None and len(self.history.get("accuracy", [])) == n:
            acc = float(self.history["accuracy"][int(np.argmin(np.where(finite, train, np.inf)))])
            ev["train_accuracy"], ev["majority_class_rate"] = acc, majority
        if base is not None and base > 0:
            ratio = float(ev["min_train_loss"] / base)
            ev["train_loss_vs_baseline"] = ratio
            guess = "the class proportions" if self.task == "classification" else "the mean of y"
            explanation = None
            if ratio >= UNDERFIT_RATIO:
                explanation = (
                    f"The best training loss ({ev['min_train_loss']:.4g}) is {ratio:.0%} of the loss of "
                    f"always predicting {guess} ({base:.4g}), and it stopped improving: underfitting."
                )
            elif acc is not None and acc <= majority + UNDERFIT_ACCURACY_MARGIN:
                explanation = (
                    f"The training accuracy ({acc:.1%}) is no better than always predicting "
                    f"the most frequent class ({majority:.1%}): underfitting."
                )
            if explanation:
                return Diagnosis(
                    "underfitting",
                    ev,
                    prefix + explanation,
                    "Use a bigger network (more neurons or layers, a non-linear activation), train longer "
                    "or with a larger learning rate, check that the inputs are scaled; or the features may "
                    "not carry the information needed to predict y.",
                )

        # 5. overfitting: large train/validation gap
        if has_val:
            m = self.epochs.index(ev["min_val_epoch"])
            gap = ev["min_val_loss"] - float(train[m])
            ev["gap"] = gap
            if (
                val_base is not None
                and ev["min_val_loss"] > OVERFIT_GAP_RATIO * float(train[m])
                and gap >= OVERFIT_GAP_OF_BASELINE * val_base
            ):
                return Diagnosis(
                    "overfitting",
                    ev,
                    f"{prefix}The best validation loss ({ev['min_val_loss']:.4g}, epoch "
                    f"{ev['min_val_epoch']}) is "
                    f"{ev['min_val_loss'] / max(float(train[m]), 1e-12):.1f}x the training loss "
                    f"({float(train[m]):.4g}): the network fits the training rows much better than new "
                    f"ones: overfitting.{restored}",
                    "Consider dropout, weight decay, a smaller network or more data.",
                )

        # 6. good fit
        if has_val:
            text = (
                f"Validation loss reached {ev['min_val_loss']:.4g} at epoch {ev['min_val_epoch']} "
                f"(training loss then: {ev['train_loss_at_min_val']:.4g})"
            )
        else:
            text = f"Training loss fell to {train[-1]:.4g}"
        if base:
            text += f", well below the {base:.4g} of a constant guess"
        advice = (
            "" if has_val else "Hold out validation data (validation_split=0.2) to check for overfitting."
        )
        return Diagnosis("good fit", ev, f"{prefix}{text}: a good fit.{restored}", advice)


# ==================================================================================================
# Callbacks
# ==================================================================================================


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
    """

    def __init__(self, stream: Any = None, every: int | None = None, plain: bool = True) -> None:
        self.stream = stream
        self.every = every
        self.plain = plain

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

    def _line(self, epoch: int, logs: dict[str, Any]) -> str:
        elapsed = time.perf_counter() - self._start
        eta = elapsed / epoch * (self._epochs - epoch) if epoch else 0.0
        parts = [f"epoch {epoch:>{len(str(self._epochs))}}/{self._epochs}"]
        for key, value in logs.items():
            if key not in ("lr", "batch_size") and isinstance(value, (int, float)):
                parts.append(f"{key} {value:.4f}")
        parts.append(f"ETA {_seconds(eta)}" if epoch < self._epochs else f"{_seconds(elapsed)}")
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


# ==================================================================================================
# Preparing the data
# ==================================================================================================

_CLASSIFICATION_LOSSES = {"CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss"}
_REGRESSION_LOSSES = {"MSELoss", "L1Loss"}
_BINARY_LOSSES = {"BCEWithLogitsLoss", "BCELoss"}


@dataclass
class _Target:
    """How fit reads y for this model and loss (also stored on the model for predict/evaluate)."""

    task: str  # "classification" | "regression"
    loss_name: str  # class name of the loss
    output_kind: str  # "logits" | "probabilities" | "log_probabilities" | "values"
    classes: list[Any] | None = None  # the original label values, in index order
    output_shape: tuple[int, ...] = ()  # per-sample shape of the model output

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "loss": self.loss_name,
            "output_kind": self.output_kind,
            "classes": None if self.classes is None else [_plain(c) for c in self.classes],
            "output_shape": list(self.output_shape),
        }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _features(x: Any, dtype: np.dtype, what: str = "x") -> tuple[np.ndarray, list[str] | None]:
    """x as a float array of the model's dtype (numpy arrays, lists, Tensors, pandas tables)."""
    names = None
    columns = getattr(x, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns]
    if isinstance(x, Tensor):
        x = x.data
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise TypeError(f"fit could not read {what} as a table of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must hold numbers; got values of dtype {arr.dtype} (text?). Convert text columns to "
            "numbers first (one-hot encode categories)."
        )
    if arr.ndim == 0:
        raise ValueError(f"{what} must be a table (one row per sample); got a single number.")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{what} contains NaN or infinite values (first at position {tuple(int(i) for i in bad)}). "
            "Remove or impute missing values before training."
        )
    return arr, names


def _loss_name(loss_fn: Any) -> str:
    return type(loss_fn).__name__ if not isinstance(loss_fn, type) else loss_fn.__name__


def _model_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)


def _peek_output(model: Module, x: np.ndarray) -> tuple[int, ...]:
    """Per-sample shape of the model's output, from one forward pass on two rows (eval mode, no graph)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(x[:2]))
    finally:
        model.train(was_training)
    shape = tuple(out.shape)
    if not shape or shape[0] != min(2, len(x)):
        raise ValueError(
            f"The model turned {min(2, len(x))} rows into an output of shape {shape}; it must give "
            "one output per row (first axis = samples)."
        )
    return shape[1:]


def _float_class_indices(y: np.ndarray, width: int) -> bool:
    """Floats that can only be class indices: one whole number 0..width-1 per sample for a model with
    ``width`` > 1 outputs (as regression targets they would not even have the model's shape)."""
    flat = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    return (
        width > 1
        and flat.ndim == 1
        and bool(np.all(np.isfinite(flat)))
        and bool(np.all(flat == np.round(flat)))
        and flat.min(initial=0) >= 0
        and flat.max(initial=0) < width
    )


def _prepare_target(y: Any, loss: Any, out_shape: tuple[int, ...], what: str = "y"):
    """Decide the task, the loss and how y must look, from y itself, the loss asked for and the output.

    Without a loss: integer, boolean or text labels mean classification (two classes and one output ->
    BCEWithLogitsLoss; k classes and k outputs -> CrossEntropyLoss); floating-point y means regression
    (MSELoss).
    """
    from biograd.nn import get_loss

    y_arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y_arr.ndim == 0:
        raise ValueError(f"{what} must have one value (or row) per sample; got a single number.")
    loss_fn = get_loss(loss) if isinstance(loss, str) else loss
    name = _loss_name(loss_fn) if loss_fn is not None else None
    width = int(np.prod(out_shape)) if out_shape else 1
    if name in _CLASSIFICATION_LOSSES:
        task = "classification"
    elif name in _REGRESSION_LOSSES:
        task = "regression"
    elif y_arr.dtype.kind in "biuUSO":
        task = "classification"
    elif loss_fn is None and y_arr.dtype.kind == "f" and _float_class_indices(y_arr, width):
        task = "classification"  # e.g. biograd.tensor([0, 2, 1]) (float32) for a model with 3 outputs
    elif loss_fn is None and y_arr.dtype.kind == "f":
        task = "regression"
        if np.isin(y_arr, (0.0, 1.0)).all() and width == 1:
            warnings.warn(
                f"{what} holds only 0.0 and 1.0 as floating-point numbers, so fit treats this as "
                "regression (MSELoss). For classification pass integer labels (y.astype(int)) or "
                "loss='bce_with_logits'.",
                UserWarning,
                stacklevel=3,
            )
    else:
        task = "classification" if y_arr.dtype.kind in "biuUSO" else "regression"

    if task == "regression":
        if y_arr.dtype.kind not in "biuf":
            raise TypeError(f"{what} must hold numbers for regression; got dtype {y_arr.dtype}.")
        n = len(y_arr)
        if y_arr[0].size != width:
            raise ValueError(
                f"The model gives {width} output(s) per sample but {what} has {y_arr[0].size} value(s) per "
                f"sample. Make the last layer have {y_arr[0].size} output(s)."
            )
        if loss_fn is None:
            loss_fn = get_loss("mse")
        target = _Target("regression", _loss_name(loss_fn), "values", None, out_shape)
        return target, loss_fn, y_arr.reshape((n, *out_shape))

    # classification: labels -> indices 0..k-1
    if y_arr.ndim > 1:
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr[:, 0]
        else:
            raise ValueError(
                f"{what} must be one class label per sample (shape (n,)); got shape {y_arr.shape}. "
                "For one-hot labels, pass y.argmax(axis=1)."
            )
    if y_arr.dtype.kind == "f":
        if not np.all(np.isfinite(y_arr)) or not np.all(y_arr == np.round(y_arr)):
            raise ValueError(
                f"{name} needs class labels (whole numbers such as 0, 1, 2) in {what}; got fractional values "
                "such as " + ", ".join(str(v) for v in y_arr[y_arr != np.round(y_arr)][:3]) + "."
            )
        y_arr = y_arr.astype(np.int64)
    classes, indices = np.unique(y_arr, return_inverse=True)
    k = len(classes)
    if name is None:
        if width == 1 and k <= 2:
            loss_fn = get_loss("bce_with_logits")
        elif width == k and len(out_shape) == 1:
            loss_fn = get_loss("cross_entropy")
        else:
            raise ValueError(
                f"The model gives {width} output(s) per sample but {what} has {k} classes "
                f"({', '.join(str(c) for c in classes[:10])}). Give the last layer {k} outputs "
                "(cross-entropy)"
                + (" or, for two classes, 1 output (binary cross-entropy)." if k == 2 else ".")
            )
        name = _loss_name(loss_fn)
    if name in _BINARY_LOSSES:
        if k > 2:
            raise ValueError(
                f"{name} is for two classes; {what} has {k}: {list(classes[:10])}. Use cross_entropy."
            )
        kind = "probabilities" if name == "BCELoss" else "logits"
        y_out = indices.astype(np.float64).reshape((len(indices), *out_shape)) if width == 1 else None
        if y_out is None:
            raise ValueError(f"{name} needs a model with 1 output per sample; this one gives {width}.")
    else:
        kind = "log_probabilities" if name == "NLLLoss" else "logits"
        y_out = indices.astype(np.int64)
        if width < k and width != 1:
            raise ValueError(
                f"The model gives {width} outputs per sample but {what} has {k} classes; give the last layer "
                f"{k} outputs."
            )
    target = _Target("classification", name, kind, list(classes), out_shape)
    return target, loss_fn, y_out


def _encode_like(y: Any, target: _Target, out_shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validation labels encoded with the training classes (unknown labels are an error)."""
    y_arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if target.task == "regression":
        width = int(np.prod(out_shape)) if out_shape else 1
        if y_arr.ndim == 0 or y_arr[0].size != width:
            raise ValueError(f"{what} must have {width} value(s) per sample, like y.")
        return y_arr.reshape((len(y_arr), *out_shape))
    y_arr = y_arr.reshape(len(y_arr))
    if y_arr.dtype.kind == "f" and np.all(y_arr == np.round(y_arr)):
        y_arr = y_arr.astype(np.int64)
    lookup = {c: i for i, c in enumerate(target.classes)}
    try:
        indices = np.array([lookup[_plain(v)] for v in y_arr], dtype=np.int64)
    except KeyError as err:
        raise ValueError(
            f"{what} contains the label {err.args[0]!r}, which y does not have (classes: "
            f"{', '.join(map(str, target.classes))})."
        ) from None
    if target.loss_name in _BINARY_LOSSES:
        return indices.astype(np.float64).reshape((len(indices), *out_shape))
    return indices


def _validation_rows(n: int, fraction: float, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (and, for classification, stratified) train/validation row indices, each in row order.

    Stratified means every class keeps its proportion in both parts (``biograd.data.split_indices``). When
    that is impossible (a class with a single row, more classes than validation rows) the split is only
    shuffled, with a warning, instead of refusing to train.
    """
    if labels is not None:
        try:
            train_idx, val_idx = split_indices(n, fraction, labels, part="validation")
            return np.sort(train_idx), np.sort(val_idx)
        except StratifyError:
            warnings.warn(
                "The validation split could not be stratified (a class has fewer than 2 rows, or there are "
                "more classes than validation rows); it is shuffled only.",
                UserWarning,
                stacklevel=3,
            )
    train_idx, val_idx = split_indices(n, fraction, None, part="validation")
    return np.sort(train_idx), np.sort(val_idx)


def _baseline_loss(
    loss_fn: Any, target: _Target, y_train: np.ndarray, y_eval: np.ndarray, dtype
) -> float | None:
    """Loss of the best constant guess made from the training targets, evaluated on ``y_eval``.

    Classification: the class proportions (logits log p_k, or the logit / probability of class 1).
    Regression: the mean of y. This is the yardstick of ``History.diagnose()``.
    """
    try:
        n = len(y_eval)
        shape = (n, *target.output_shape)
        if target.task == "regression":
            guess = np.broadcast_to(y_train.mean(axis=0), shape)
        elif target.loss_name in _BINARY_LOSSES:
            p = float(np.clip(np.mean(y_train), 1e-7, 1 - 1e-7))
            value = p if target.output_kind == "probabilities" else math.log(p / (1 - p))
            guess = np.full(shape, value)
        else:
            width = int(np.prod(target.output_shape))
            counts = np.bincount(y_train.astype(np.int64), minlength=width)
            prior = np.clip(counts / counts.sum(), 1e-7, None)
            guess = np.broadcast_to(np.log(prior / prior.sum()), shape)
        with no_grad():
            value = loss_fn(Tensor(np.array(guess, dtype=dtype)), _target_tensor(y_eval, dtype))
        value = float(value.item())
        return value if math.isfinite(value) else None
    except Exception:  # a custom loss that cannot take a constant guess: no baseline
        return None


def _target_tensor(y: np.ndarray, dtype) -> Any:
    """Integer labels stay a numpy array (the classification losses take them so); values become Tensors."""
    return y if y.dtype.kind in "iu" else Tensor(y.astype(dtype, copy=False))


def _resolve_optimizer(optimizer: Any, model: Module, lr: float | None) -> Optimizer:
    if isinstance(optimizer, str):
        return create(optimizer, model.parameters(), lr=lr)
    if hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad"):
        if lr is not None:
            raise ValueError(
                "fit got both an optimizer object and lr=; set the learning rate on the optimizer "
                f"({type(optimizer).__name__}(model.parameters(), lr={lr})) or pass optimizer by name."
            )
        return optimizer
    raise TypeError(
        f"The 'optimizer' parameter of fit must be a name such as 'adam' or 'sgd', or an optimizer from "
        f"biograd.optim. Got {optimizer!r} instead."
    )


def _check_scheduler(scheduler: Any, opt: Any) -> None:
    if scheduler is None:
        return
    if not hasattr(scheduler, "step"):
        raise TypeError(
            "The 'scheduler' parameter of fit must be a learning-rate scheduler such as "
            f"biograd.optim.StepLR(optimizer, step_size=30). Got {scheduler!r} instead."
        )
    if getattr(scheduler, "optimizer", opt) is not opt:
        raise ValueError(
            "The scheduler belongs to another optimizer than the one fit trains with. Build both and pass "
            "both: opt = biograd.optim.SGD(model.parameters(), lr=0.1); "
            "fit(model, x, y, optimizer=opt, scheduler=biograd.optim.StepLR(opt, step_size=30))."
        )


def _check_fit_params(epochs: Any, batch_size: Any, validation_split: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"The 'epochs' parameter of fit must be an int >= 1. Got {epochs!r} instead.")
    if not (
        batch_size == "full"
        or (
            isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size >= 1
        )
    ):
        raise ValueError(
            f"The 'batch_size' parameter of fit must be an int >= 1 or 'full'. Got {batch_size!r} instead."
        )
    if (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0 <= validation_split < 1
    ):
        raise ValueError(
            f"The 'validation_split' parameter of fit must be a float in the range [0, 1). "
            f"Got {validation_split!r} instead."
        )


# ==================================================================================================
# fit
# ==================================================================================================


def _evaluate_arrays(model: Module, loss_fn: Any, x: np.ndarray, y: np.ndarray, batch: int | None = None):
    """(mean loss, outputs) on a whole table, in eval mode without a graph; batches weighted by size."""
    batch = batch or max(len(x), 1)
    total, outputs = 0.0, []
    with no_grad():
        for start in range(0, len(x), batch):
            xb, yb = x[start : start + batch], y[start : start + batch]
            out = model(Tensor(xb))
            total += float(loss_fn(out, _target_tensor(yb, x.dtype)).item()) * len(xb)
            outputs.append(out.data)
    return total / max(len(x), 1), np.concatenate(outputs) if outputs else np.empty((0,))


class _InterruptFlag:
    """Turns the first Ctrl-C into a flag that fit checks after each batch (a second Ctrl-C raises)."""

    def __init__(self) -> None:
        self.raised = False
        self._previous: Any = None

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handle)
            except (ValueError, OSError):  # not allowed here (embedded interpreters)
                self._previous = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def fit(
    model: Module,
    x: Any,
    y: Any,
    loss: Any = None,
    optimizer: Any = "adam",
    lr: float | None = None,
    epochs: int = 100,
    batch_size: int | str = 32,
    validation_split: float = 0.2,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Callback] | None = None,
    seed: int | None = None,
    verbose: bool | int = True,
    metrics: Any = None,
    shuffle: bool = True,
    scheduler: Any = None,
) -> History:
    """Train ``model`` on (x, y) by gradient descent and return the History of every epoch.

    Args:
        model: the network (a biograd Module). It is trained in place.
        x: the inputs, one row per sample: numpy array, nested list, Tensor or pandas DataFrame (whose
            column names become ``history.feature_names``).
        y: the targets: class labels (integers, booleans or text) for classification, numbers for
            regression.
        loss: a loss module (``biograd.nn.CrossEntropyLoss()``), a name for ``biograd.nn.get_loss``
            (``"mse"``, ``"cross_entropy"``, ``"bce_with_logits"``...), or None to choose from y and the
            model: integer/boolean/text labels with 2 classes and 1 output -> BCEWithLogitsLoss; k classes
            and k outputs -> CrossEntropyLoss; floating-point y -> MSELoss.
        optimizer: a name for ``biograd.optim.create`` (``"adam"``, ``"sgd"``, ``"adamw"``, ``"rmsprop"``)
            or an optimizer object built on ``model.parameters()``.
        lr: the learning rate for an optimizer given by name (None: that optimizer's default).
        epochs: how many passes over the training rows, at most.
        batch_size: rows per gradient step. ``"full"``: batch gradient descent (one step per epoch on all
            rows); ``1``: stochastic gradient descent; anything else: mini-batch gradient descent.
        validation_split: the fraction of rows held out to validate, chosen at random and, for
            classification, stratified (each class keeps its proportion). Never "the last rows".
        validation_data: ``(x_val, y_val)`` to validate on instead (then validation_split is ignored).
        callbacks: e.g. ``[biograd.EarlyStopping(patience=10)]``; see :class:`Callback`.
        seed: makes the run repeatable: the same seed and the same starting weights give bit-identical
            weights. It calls ``biograd.manual_seed(seed)``, whose generator then draws the validation split,
            the shuffling of every epoch and the dropout masks. It does not touch the starting weights (the
            model exists already): build the model after ``biograd.manual_seed(...)`` for those. Without a
            seed, fit draws from biograd's global generator as it is.
        verbose: True: a progress line on stderr (see :class:`ProgressBar`); 2: one line per epoch;
            False: silent.
        metrics: names (``"accuracy"``, ``"r2"``, ``"mae"``) or functions ``f(y_true, output) -> float``;
            default accuracy for classification and R^2 for regression.
        shuffle: reshuffle the training rows every epoch (the "stochastic" in SGD).
        scheduler: a learning-rate scheduler built on the optimizer you pass (``optimizer=opt``), stepped
            once per epoch after the epoch's metrics: ``biograd.optim.StepLR(opt, 30)`` with ``step()``,
            ``biograd.optim.ReduceLROnPlateau(opt)`` with ``step(the monitored loss)``. ``history.lr``
            records the learning rate every epoch used.

    Returns:
        A :class:`History`. After every epoch it records ``loss`` and ``val_loss`` (the loss on all training
        and validation rows with that epoch's final weights, in eval mode, so the two are comparable), the
        metrics (``accuracy``/``val_accuracy`` or ``r2``/``val_r2``) and ``lr``.

    Safety:
        - A loss that becomes inf or NaN stops training at once; the weights of the last step with a finite
          loss are put back and ``stop_reason`` is ``"diverged"`` (``history.diagnose()`` advises a smaller
          learning rate).
        - Ctrl-C (KeyboardInterrupt, also when raised by a callback) stops after the current batch; the
          weights of the best epoch so far are put back and ``stop_reason`` is ``"interrupted"``. No
          exception escapes fit.
        - When every epoch ran while the loss was still falling, fit warns with a ConvergenceWarning.
    """
    _check_fit_params(epochs, batch_size, validation_split)
    if not isinstance(model, Module):
        raise TypeError(f"fit needs a biograd Module as model; got {type(model).__name__}.")
    dtype = _model_dtype(model)
    x_all, feature_names = _features(x, dtype)
    n_rows = len(x_all)
    y_len = len(y) if hasattr(y, "__len__") else None
    if y_len != n_rows:
        raise ValueError(f"x has {n_rows} rows but y has {y_len} values; they must match (one y per row).")
    out_shape = _peek_output(model, x_all)
    target, loss_fn, y_all = _prepare_target(y, loss, out_shape)
    class_names = [str(c) for c in target.classes] if target.classes is not None else None

    if seed is not None:
        manual_seed(seed)

    val_idx = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError("validation_data must be a pair (x_val, y_val).")
        x_train, y_train = x_all, y_all
        x_val, _ = _features(validation_data[0], dtype, "validation_data x")
        y_val = _encode_like(validation_data[1], target, out_shape, "validation_data y")
        if len(x_val) != len(y_val):
            raise ValueError(f"validation_data has {len(x_val)} rows of x but {len(y_val)} values of y.")
    elif validation_split > 0:
        labels = y_all.reshape(len(y_all), -1)[:, 0] if target.task == "classification" else None
        train_idx, val_idx = _validation_rows(n_rows, float(validation_split), labels)
        x_train, y_train, x_val, y_val = x_all[train_idx], y_all[train_idx], x_all[val_idx], y_all[val_idx]
    else:
        x_train, y_train, x_val, y_val = x_all, y_all, None, None
    has_val = x_val is not None and len(x_val) > 0

    opt = _resolve_optimizer(optimizer, model, lr)
    _check_scheduler(scheduler, opt)
    metric_fns = _resolve_metrics(metrics, target.task)
    n_train = len(x_train)
    bs = n_train if batch_size == "full" else min(int(batch_size), n_train)
    # the training rows, reshuffled every epoch by biograd's generator (the one seed= sets)
    batches = DataLoader(TensorDataset(x_train, y_train, dtype=None), batch_size=bs, shuffle=shuffle)
    params = {
        "epochs": int(epochs),
        "batch_size": batch_size if batch_size == "full" else int(batch_size),
        "optimizer": type(opt).__name__,
        "lr": _get_lr(opt),
        "loss": target.loss_name,
        "n_train": n_train,
        "n_val": len(x_val) if has_val else 0,
        "seed": seed,
    }
    history = History(target.task, "val_loss" if has_val else "loss", params)
    history.class_names, history.feature_names = class_names, feature_names
    history.val_indices = val_idx
    history.baseline = {
        "loss": _baseline_loss(loss_fn, target, y_train, y_train, dtype),
        "val_loss": _baseline_loss(loss_fn, target, y_train, y_val, dtype) if has_val else None,
        "accuracy": (
            float(np.bincount(y_train.reshape(n_train, -1)[:, 0].astype(np.int64)).max() / n_train)
            if target.task == "classification"
            else None
        ),
    }
    object.__setattr__(model, "_biograd_target", {**target.as_dict(), "feature_names": feature_names})

    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar(every=1 if verbose == 2 else None, plain=_in_notebook()))
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be biograd Callback objects; got {type(cb).__name__}.")
        cb.set_context(model, history, params)

    parameters = list(model.parameters())
    last_good = [p.data.copy() for p in parameters]  # weights of the last step whose loss was finite
    best_state: dict[str, np.ndarray] | None = None
    best_value: float | None = None
    best_epoch: int | None = None
    was_training = model.training
    reason = "completed"
    try:
        # inf/NaN are handled below (divergence), so numpy's overflow warnings would only be noise
        with _InterruptFlag() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for cb in callbacks:
                cb.on_train_begin({})
            for epoch in range(1, int(epochs) + 1):
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                for batch_index, (xb, yb) in enumerate(batches, start=1):
                    opt.zero_grad()
                    batch_loss = loss_fn(model(xb), _target_tensor(yb.data, dtype))
                    value = float(batch_loss.item())
                    if not math.isfinite(value):
                        history.diverged_at = (epoch, batch_index)
                        reason = "diverged"
                        break
                    batch_loss.backward()
                    for saved, p in zip(last_good, parameters, strict=False):
                        np.copyto(saved, p.data)
                    opt.step()
                    for cb in callbacks:
                        cb.on_batch_end(batch_index, {"loss": value, "batch_size": len(xb)})
                    if interrupt.raised:
                        raise KeyboardInterrupt
                if reason == "diverged":
                    break

                model.eval()
                logs: dict[str, float] = {}
                train_loss, train_out = _evaluate_arrays(model, loss_fn, x_train, y_train)
                if not math.isfinite(train_loss):  # the last step of the epoch blew the weights up
                    history.diverged_at = (epoch, len(batches))
                    reason = "diverged"
                    break
                logs["loss"] = train_loss
                if has_val:
                    logs["val_loss"], val_out = _evaluate_arrays(model, loss_fn, x_val, y_val)
                for name, fn in metric_fns:
                    logs[name] = fn(_labels_for_metrics(y_train), train_out, target.output_kind)
                    if has_val:
                        logs["val_" + name] = fn(_labels_for_metrics(y_val), val_out, target.output_kind)
                logs["lr"] = _get_lr(opt)
                history.record(epoch, logs)
                monitored = logs[history.monitor]
                if math.isfinite(monitored) and (best_value is None or monitored < best_value):
                    best_value, best_epoch, best_state = monitored, epoch, model.state_dict()
                if scheduler is not None:
                    if isinstance(scheduler, ReduceLROnPlateau):
                        scheduler.step(monitored)
                    else:
                        scheduler.step()
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if history._stop_requested:
                    reason = "early_stopping"
                    break
    except KeyboardInterrupt:
        reason = "interrupted"
        if best_state is not None:
            model.load_state_dict(best_state)
            history.restored_epoch = best_epoch
            history.notes.append(
                f"Interrupted: restored the weights of epoch {best_epoch} (best {history.monitor})."
            )
        else:
            _put_back(parameters, last_good)
            history.notes.append(
                "Interrupted before the first epoch ended; the weights are those of the last step."
            )
    if reason == "diverged":
        _put_back(parameters, last_good)
        where = f"epoch {history.diverged_at[0]}, batch {history.diverged_at[1]}"
        history.notes.append(
            f"The loss became inf/NaN at {where}; the weights of the last finite step were put back. "
            "Lower the learning rate."
        )
    history.stop_reason = reason
    try:
        for cb in callbacks:
            cb.on_train_end({"stop_reason": reason})
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    model.train(was_training)
    if history.stop_reason == "completed":
        diagnosis = history.diagnose()
        if diagnosis.verdict == "not converged":
            warnings.warn(f"{diagnosis} (fit stopped at epochs={epochs}.)", ConvergenceWarning, stacklevel=2)
    return history


def _put_back(parameters: list, arrays: list[np.ndarray]) -> None:
    for p, arr in zip(parameters, arrays, strict=False):
        p.data = arr.copy()


def _labels_for_metrics(y: np.ndarray) -> np.ndarray:
    return y


def _get_lr(optimizer: Any) -> float:
    lr = getattr(optimizer, "lr", None)
    if lr is None and hasattr(optimizer, "param_groups"):
        lr = optimizer.param_groups[0].get("lr")
    return float(lr) if lr is not None else math.nan


# ==================================================================================================
# Predictions and evaluation
# ==================================================================================================


@contextlib.contextmanager
def _eval_mode(model: Module):
    """Eval mode and no graph inside; the model's previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _outputs(model: Module, x: Any, batch_size: int | None) -> np.ndarray:
    if not isinstance(model, Module):
        raise TypeError(f"Expected a biograd Module as model; got {type(model).__name__}.")
    arr, names = _features(x, _model_dtype(model))
    _check_columns(names, (_target_info(model) or {}).get("feature_names"))
    batch = batch_size or max(len(arr), 1)
    with _eval_mode(model):
        outs = [model(Tensor(arr[i : i + batch])).data for i in range(0, len(arr), batch)]
    return np.concatenate(outs) if outs else np.empty((0,))


def _check_columns(names: list[str] | None, trained: list[str] | None) -> None:
    """A table with column names (pandas) must have the columns the model was trained on, in that order."""
    if names is None or trained is None or names == trained:
        return
    missing = [c for c in trained if c not in names]
    extra = [c for c in names if c not in trained]
    problem = f"missing {missing}, unexpected {extra}" if missing or extra else "same ones, other order"
    raise ValueError(
        f"x has other columns than the table the model was trained on ({problem}). Select them in the "
        f"training order: x[{trained[:5]}{'...' if len(trained) > 5 else ''}]."
    )


def _target_info(model: Module) -> dict[str, Any] | None:
    return model.__dict__.get("_biograd_target")


def predict(model: Module, x: Any, batch_size: int | None = None, task: str | None = None) -> np.ndarray:
    """The model's predictions for x, in eval mode (dropout off) and without recording a graph.

    For a classifier trained by ``fit`` (or loaded with ``biograd.load``) the predicted class labels, in the
    values y had (e.g. 0/1, or "benign"/"malignant"); for regression the predicted values (shape (n,) for
    one output). A model fit has never seen returns its raw outputs, unless ``task`` says
    ``"classification"`` (argmax / logit > 0) or ``"regression"``; ``task="raw"`` always gives the raw
    outputs (logits for a classifier). The model's mode is restored afterwards.
    """
    out = _outputs(model, x, batch_size)
    info = _target_info(model) or {}
    if task not in (None, "classification", "regression", "raw"):
        raise ValueError(
            "The 'task' parameter of predict must be 'classification', 'regression', 'raw' or None. "
            f"Got {task!r} instead."
        )
    task = task or info.get("task")
    if task == "classification":
        indices = _class_predictions(out, info.get("output_kind", "logits"))
        classes = info.get("classes")
        return np.asarray(classes)[indices] if classes is not None else indices
    if task == "regression" and out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    return out


def predict_proba(model: Module, x: Any, batch_size: int | None = None) -> np.ndarray:
    """Class probabilities, shape (n, k), columns in the order of the classes (as scikit-learn).

    k outputs: softmax of the logits (exp of log-probabilities for an NLLLoss model); one output: the
    sigmoid of the logit gives P(class 1) and the columns are [P(class 0), P(class 1)]. Runs in eval mode
    without a graph and restores the model's mode.
    """
    out = _outputs(model, x, batch_size).astype(np.float64)
    kind = (_target_info(model) or {}).get("output_kind", "logits")
    if out.ndim == 1 or out.shape[1] == 1:
        z = out.reshape(len(out))
        p1 = z if kind == "probabilities" else 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid
        return np.stack([1.0 - p1, p1], axis=1)
    if kind == "log_probabilities":
        return np.exp(out)
    if kind == "probabilities":
        return out
    z = out - out.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def evaluate(
    model: Module, x: Any, y: Any, loss: Any = None, metrics: Any = None, batch_size: int | None = None
) -> dict[str, float]:
    """The loss and metrics of the model on (x, y), e.g. ``{"loss": 0.08, "accuracy": 0.97}``.

    ``loss`` defaults to the one fit used (or, for a model fit has not seen, the one fit would choose).
    Runs in eval mode without a graph and restores the model's mode.
    """
    dtype = _model_dtype(model)
    arr, _ = _features(x, dtype)
    info = _target_info(model) or {}
    out_shape = _peek_output(model, arr)
    if loss is None and info.get("loss"):
        loss = {
            "MSELoss": "mse",
            "L1Loss": "l1",
            "BCELoss": "bce",
            "BCEWithLogitsLoss": "bce_with_logits",
            "CrossEntropyLoss": "cross_entropy",
            "NLLLoss": "nll",
        }.get(info["loss"])
    if info.get("classes") is not None and info.get("task") == "classification":
        target = _Target("classification", info["loss"], info["output_kind"], info["classes"], out_shape)
        from biograd.nn import get_loss

        loss_fn = get_loss(loss) if isinstance(loss, str) or loss is None else loss
        if loss_fn is None:
            loss_fn = get_loss({"CrossEntropyLoss": "cross_entropy"}.get(info["loss"], "cross_entropy"))
        y_arr = _encode_like(y, target, out_shape, "y")
    else:
        target, loss_fn, y_arr = _prepare_target(y, loss, out_shape)
    if len(y_arr) != len(arr):
        raise ValueError(f"x has {len(arr)} rows but y has {len(y_arr)} values; they must match.")
    with _eval_mode(model):
        value, out = _evaluate_arrays(model, loss_fn, arr, y_arr, batch_size)
    result = {"loss": value}
    for name, fn in _resolve_metrics(metrics, target.task):
        result[name] = fn(y_arr, out, target.output_kind)
    return result
