"""The training run: train the prepared network with early stopping, then evaluate it on the test rows,
compare it with classical baselines and explain it, all into one :class:`TrainResult`."""

from __future__ import annotations

import platform
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.explain.predictions import Explanation, explain_sequences, explain_table
from biograd.pipeline.evaluate import (
    _prediction_table,
    _test_outputs,
    classification_metrics,
    compare,
    composition_baselines,
    regression_metrics,
    run_baselines,
)
from biograd.pipeline.prepare import Prepared, _loss_for
from biograd.training import EarlyStopping, ProgressBar, fit, set_class_names


@dataclass
class TrainResult:
    """What :func:`train` produced: the trained model and every number the report shows."""

    prepared: Prepared
    history: Any
    diagnosis: Any
    test_metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    comparison: dict[str, Any]
    predictions: Any  # DataFrame: id, true, predicted, probabilities (test rows)
    test_output: dict[str, np.ndarray]  # y_true codes/values, y_pred, proba (test rows)
    importance: Explanation | None = None  # what drove the test predictions (None: not explained)
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    command: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> Any:
        return self.prepared.model

    @property
    def data(self) -> Dataset:
        return self.prepared.data

    @property
    def interrupted(self) -> bool:
        return self.history.stop_reason == "interrupted"


def _fold_target_scale(model: Any, mean: float, std: float) -> None:
    """Make a network trained on standardized targets z = (y - mean) / std predict y itself.

    The last layer is Linear: z_hat = W h + b, so y_hat = std * z_hat + mean = (std W) h + (std b + mean).
    Exact, and the saved model then needs no extra step to predict in the original units.
    """
    from biograd.nn import Linear

    last = [m for m in model.modules() if isinstance(m, Linear)][-1]
    last.weight.data = (last.weight.data * std).astype(last.weight.data.dtype)
    last.bias.data = (last.bias.data * std + mean).astype(last.bias.data.dtype)


def _biograd_version() -> str:
    """The installed biograd's version, from the package metadata (the package root is not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("biograd")
    except PackageNotFoundError:
        return "unknown"


def _versions() -> dict[str, str]:
    import sklearn

    return {
        "biograd": _biograd_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def train(
    prepared: Prepared,
    callbacks: Sequence[Any] | None = None,
    progress: bool = False,
    progress_stream: Any = None,
    command: str = "",
    explain: bool = True,
) -> TrainResult:
    """Train the prepared network with early stopping, then evaluate, compare and explain it.

    Ctrl-C (KeyboardInterrupt, also raised by a callback) stops training after the current batch with the
    best epoch's weights put back; the rest (test metrics, baselines, files) still happens and
    ``result.interrupted`` is True.
    """
    from biograd import optim

    started = time.perf_counter()
    data, config, model = prepared.data, prepared.config, prepared.model
    tr, va, te = prepared.train_idx, prepared.val_idx, prepared.test_idx
    x, y_fit = prepared.x, prepared.y_fit
    opt = optim.create(config.optimizer, model.parameters(), lr=prepared.lr, weight_decay=config.weight_decay)
    all_callbacks: list[Any] = [EarlyStopping(monitor="val_loss", patience=config.patience)]
    if progress:
        all_callbacks.append(ProgressBar(stream=progress_stream, patience=config.patience))
    all_callbacks += list(callbacks or [])
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        history = fit(
            model,
            x[tr],
            y_fit[tr],
            optimizer=opt,
            epochs=config.epochs,
            batch_size=config.batch_size,
            validation_data=(x[va], y_fit[va]),
            callbacks=all_callbacks,
            loss=_loss_for(data),
            seed=config.seed,
            verbose=False,
        )
    for r in records:
        caught.append(str(r.message))
    diagnosis = history.diagnose()
    if prepared.y_scale is not None:
        _fold_target_scale(model, *prepared.y_scale)
    if data.task == "classification":
        # predict() after biograd.load returns the class names rather than the codes 0..k-1
        set_class_names(model, list(data.target_names))

    out = _test_outputs(prepared)
    if data.task == "classification":
        test_metrics = classification_metrics(out["y_true"], out["proba"], data.target_names)
    else:
        test_metrics = regression_metrics(out["y_true"], out["y_pred"])
    fit_rows = np.concatenate([tr, va])
    baselines = run_baselines(
        x[fit_rows], data.y[fit_rows], x[te], data.y[te], data.task, data.target_names, config.seed
    )
    if data.is_sequence and data.sequences is not None:  # the strongest baseline may ignore positions
        baselines.update(
            composition_baselines(
                [data.sequences[i] for i in fit_rows],
                data.y[fit_rows],
                [data.sequences[i] for i in te],
                data.y[te],
                data.task,
                data.target_names,
                data.kind,
            )
        )
    comparison = compare(data.task, test_metrics, baselines)

    importance = None
    if explain:
        if data.is_sequence:
            correct = (
                out["y_pred"] == out["y_true"] if data.task == "classification" else np.ones(len(te), bool)
            )
            rows = te[correct] if correct.any() else te
            importance = explain_sequences(
                model,
                x[rows],
                [data.ids[i] for i in rows],
                [data.sequences[i] for i in rows] if data.sequences else None,
                data.task,
                prepared.kernel_size or 12,
                class_names=data.target_names,
                seed=config.seed,
            )
        else:
            importance = explain_table(
                model,
                x[te],
                prepared.feature_names,
                task=data.task,
                class_names=data.target_names,
                ids=[data.ids[i] for i in te],
                seed=config.seed,
            )
    return TrainResult(
        prepared=prepared,
        history=history,
        diagnosis=diagnosis,
        test_metrics=test_metrics,
        baselines=baselines,
        comparison=comparison,
        predictions=_prediction_table(prepared, out),
        test_output=out,
        importance=importance,
        seconds=time.perf_counter() - started,
        versions=_versions(),
        command=command,
        warnings=caught,
    )


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (for the report's reproducibility section)."""
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    return "biograd " + " ".join(shlex.quote(a) for a in args)
