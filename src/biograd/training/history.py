"""What happened during training: the :class:`History` that ``fit`` returns, and its ``diagnose()``.

``History`` holds one value per epoch for every loss and metric (Keras's ``history.history``), the best
epoch and why training stopped. ``History.diagnose()`` reads the learning curves as a teacher would
(diverged, overfitting, underfitting, not converged, good fit) and returns a :class:`Diagnosis` with the
numbers it rests on and what to try next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.training.metrics import _is_lower_better


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
