"""``fit``: train a network by gradient descent and return the :class:`History` of every epoch.

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

import dataclasses
import math
import signal
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.data import DataLoader, StratifyError, Subset, TensorDataset, split_indices
from biograd.nn.module import Module
from biograd.optim import Optimizer, ReduceLROnPlateau, create
from biograd.random import manual_seed
from biograd.record import RecordedStep, blas_threads_for
from biograd.tensor import Tensor, no_grad
from biograd.training.callbacks import Callback, ProgressBar, _in_notebook
from biograd.training.history import History
from biograd.training.inputs import _evaluate_arrays, _features, _model_dtype, _peek_output, _target_tensor
from biograd.training.metrics import _resolve_metrics
from biograd.training.targets import (
    BINARY_LOSSES,
    TargetInfo,
    _encode_like,
    _prepare_target,
    set_target_info,
)

STOP_REASONS = ("completed", "early_stopping", "diverged", "interrupted")


class ConvergenceWarning(UserWarning):
    """Training reached the epoch limit while the loss was still falling (scikit-learn's warning)."""


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
    loss_fn: Any, target: TargetInfo, y_train: np.ndarray, y_eval: np.ndarray, dtype
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
        elif target.loss in BINARY_LOSSES:
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
    record: bool = True,
) -> History:
    """Train ``model`` on (x, y) by gradient descent and return the History of every epoch.

    Args:
        model: the network (a biograd Module). It is trained in place.
        x: the inputs, one row per sample: numpy array, nested list, Tensor or pandas DataFrame (whose
            column names become ``history.feature_names``).
        y: the targets: class labels (text, booleans, or a few whole numbers such as 0/1 or 0/1/2) for
            classification, measured numbers for regression.
        loss: a loss module (``biograd.nn.CrossEntropyLoss()``), a name for ``biograd.nn.get_loss``
            (``"mse"``, ``"cross_entropy"``, ``"bce_with_logits"``...), or None to choose from y and the
            model by the rule of :mod:`biograd.training.targets`: class labels with 2 classes and 1 output
            -> BCEWithLogitsLoss; k classes and k outputs -> CrossEntropyLoss; measured numbers (and 3 or
            more class-like whole numbers for a 1-output model, with a warning) -> MSELoss. Floats
            0.0/1.0 are two classes (with a warning: pass ``loss="mse"`` to fit them as numbers).
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
        record: train with a recorded step (:func:`biograd.record_step`): the first batch runs eagerly and
            is recorded, the following batches of the same shape replay it without building a graph (the
            same numbers, faster on small networks); the last, shorter batch of an epoch and anything the
            recording cannot hold run eagerly. False: every batch eagerly. Either way numpy's BLAS uses one
            thread while training a network whose matrix products are all small
            (``biograd.record.blas_threads_for``), and the setting is restored afterwards.

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

    # The training rows are x_all[train_idx] (None: all of them); they are never copied out of x_all,
    # so a large table costs itself once. The targets (one value per row) are small enough to copy.
    train_idx = val_idx = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError("validation_data must be a pair (x_val, y_val).")
        y_train = y_all
        x_val, _ = _features(validation_data[0], dtype, "validation_data x")
        y_val = _encode_like(validation_data[1], target, out_shape, "validation_data y")
        if len(x_val) != len(y_val):
            raise ValueError(f"validation_data has {len(x_val)} rows of x but {len(y_val)} values of y.")
    elif validation_split > 0:
        labels = y_all.reshape(len(y_all), -1)[:, 0] if target.task == "classification" else None
        train_idx, val_idx = _validation_rows(n_rows, float(validation_split), labels)
        y_train, y_val = y_all[train_idx], y_all[val_idx]
        x_val = x_all  # its rows val_idx, read in place like the training rows
    else:
        y_train, x_val, y_val = y_all, None, None
    has_val = y_val is not None and len(y_val) > 0

    opt = _resolve_optimizer(optimizer, model, lr)
    _check_scheduler(scheduler, opt)
    metric_fns = _resolve_metrics(metrics, target.task)
    n_train = len(y_train)
    bs = n_train if batch_size == "full" else min(int(batch_size), n_train)
    # the training rows, reshuffled every epoch by biograd's generator (the one seed= sets)
    rows = TensorDataset(x_all, y_all, dtype=None)
    train_rows = rows if train_idx is None else Subset(rows, train_idx)
    batches = DataLoader(train_rows, batch_size=bs, shuffle=shuffle)
    params = {
        "epochs": int(epochs),
        "batch_size": batch_size if batch_size == "full" else int(batch_size),
        "optimizer": type(opt).__name__,
        "lr": _get_lr(opt),
        "loss": target.loss,
        "n_train": n_train,
        "n_val": len(y_val) if has_val else 0,
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
    set_target_info(model, dataclasses.replace(target, feature_names=feature_names))

    callbacks = list(callbacks or [])
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar(every=1 if verbose == 2 else None, plain=_in_notebook()))
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be biograd Callback objects; got {type(cb).__name__}.")
        cb.set_context(model, history, params)

    parameters = list(model.parameters())
    last_good = [p.data.copy() for p in parameters]  # weights of the last step whose loss was finite
    step = RecordedStep(model, loss_fn, opt) if record and isinstance(opt, Optimizer) else None

    def keep_last_good(value: float) -> bool:
        """Called by the recorded step between backward and the update: update only on a finite loss."""
        if not math.isfinite(value):
            return False
        for saved, p in zip(last_good, parameters, strict=False):
            np.copyto(saved, p.data)
        return True

    best_state: dict[str, np.ndarray] | None = None
    best_value: float | None = None
    best_epoch: int | None = None
    was_training = model.training
    reason = "completed"
    try:
        # inf/NaN are handled below (divergence), so numpy's overflow warnings would only be noise
        with (
            _InterruptFlag() as interrupt,
            np.errstate(over="ignore", invalid="ignore", divide="ignore"),
            blas_threads_for(model, (bs, *x_all.shape[1:])),
        ):
            for cb in callbacks:
                cb.on_train_begin({})
            for epoch in range(1, int(epochs) + 1):
                model.train()
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                for batch_index, (xb, yb) in enumerate(batches, start=1):
                    if step is not None:  # forward, loss, backward, update: replayed when it can be
                        value = step.run(xb, _target_tensor(yb.data, dtype), before_update=keep_last_good)
                        if not math.isfinite(value):
                            history.diverged_at = (epoch, batch_index)
                            reason = "diverged"
                            break
                    else:
                        opt.zero_grad()
                        batch_loss = loss_fn(model(xb), _target_tensor(yb.data, dtype))
                        value = float(batch_loss.item())
                        if not math.isfinite(value):
                            history.diverged_at = (epoch, batch_index)
                            reason = "diverged"
                            break
                        batch_loss.backward()
                        keep_last_good(value)
                        opt.step()
                    for cb in callbacks:
                        cb.on_batch_end(batch_index, {"loss": value, "batch_size": len(xb)})
                    if interrupt.raised:
                        raise KeyboardInterrupt
                if reason == "diverged":
                    break

                model.eval()
                logs: dict[str, float] = {}
                train_loss, train_out = _evaluate_arrays(model, loss_fn, x_all, y_train, rows=train_idx)
                if not math.isfinite(train_loss):  # the last step of the epoch blew the weights up
                    history.diverged_at = (epoch, len(batches))
                    reason = "diverged"
                    break
                logs["loss"] = train_loss
                if has_val:
                    logs["val_loss"], val_out = _evaluate_arrays(model, loss_fn, x_val, y_val, rows=val_idx)
                for name, fn in metric_fns:
                    logs[name] = fn(y_train, train_out, target.output_kind)
                    if has_val:
                        logs["val_" + name] = fn(y_val, val_out, target.output_kind)
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


def _get_lr(optimizer: Any) -> float:
    lr = getattr(optimizer, "lr", None)
    if lr is None and hasattr(optimizer, "param_groups"):
        lr = optimizer.param_groups[0].get("lr")
    return float(lr) if lr is not None else math.nan
