"""The training run: train the network(s) with early stopping, evaluate them on the test rows (or every
sample out of fold), compare them with classical baselines and explain them, into one :class:`TrainResult`."""

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
    baseline_outputs,
    compare,
    composition_outputs,
    key_metric,
    metric_intervals,
    score_outputs,
)
from biograd.pipeline.prepare import Prepared, _loss_for
from biograd.pipeline.resample import _fold_target_scale, committee_of, cross_validate
from biograd.training import EarlyStopping, ProgressBar, fit, predict, predict_proba, set_class_names


@dataclass
class TrainResult:
    """What :func:`train` produced: the trained model and every number the report shows.

    With cross-validation ``history`` and ``diagnosis`` are those of the first fold's network (each fold's
    history is in ``fold_histories``), the test figures come from the out-of-fold predictions of every
    sample, and ``committee`` (the saved model) holds the fold networks.
    """

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
    #: the 95% bootstrap interval of each headline test metric: {"roc_auc": [low, high]} (None: undefined)
    test_ci: dict[str, list[float] | None] = field(default_factory=dict)
    #: metrics.json's "evaluation": scheme, folds, repeats, samples (those with a test prediction)
    evaluation: dict[str, Any] = field(default_factory=dict)
    committee: Any = None  # the saved model with cross-validation: an nn.Committee of the fold networks
    fold_histories: list[Any] = field(default_factory=list)
    #: per fold: repeat, fold, train / validation / test samples, epochs run, best epoch
    fold_summaries: list[dict[str, Any]] = field(default_factory=list)
    #: features kept inside the folds (many more features than samples): {"k", "kept": {name: share}}
    selection: dict[str, Any] | None = None
    #: a plain warning when the test figures rest on few samples (per class), else None
    small_sample: str | None = None
    #: ``--test-data``: the metrics on an external cohort, with intervals (:func:`evaluate_external`)
    external_test: dict[str, Any] | None = None

    @property
    def model(self) -> Any:
        """The saved model: the committee of fold networks, or the one network of a held-out split."""
        return self.committee if self.committee is not None else self.prepared.model

    @property
    def data(self) -> Dataset:
        return self.prepared.data

    @property
    def interrupted(self) -> bool:
        return self.history.stop_reason == "interrupted" or any(
            h.stop_reason == "interrupted" for h in self.fold_histories
        )

    @property
    def scheme_text(self) -> str:
        """The evaluation scheme in words (report and console)."""
        return self.prepared.scheme.describe()


#: Fewer test samples than this in a class (or in all, for regression) earn a small-sample warning.
FEW_SAMPLES = 10


def small_sample_warning(
    task: str, y_true: np.ndarray, class_names: Sequence[str], ci: dict[str, Any], key: str
) -> str | None:
    """A plain sentence when the test figures rest on few samples per class (or few samples), else None.

    For classes it quotes accuracy's interval (a Wilson interval, which never collapses to a point: with
    every sample right a bootstrap of ``key`` can read [1.000, 1.000], which would say the opposite)."""
    if task == "classification" and ci.get("accuracy"):
        key = "accuracy"
    interval = ci.get(key)
    width = ""
    if task == "classification":
        counts = np.bincount(np.asarray(y_true, dtype=np.int64), minlength=len(class_names))
        few = [(str(class_names[c]), int(n)) for c, n in enumerate(counts) if n < FEW_SAMPLES]
        if not few:
            return None
        listed = ", ".join(f"{name!r} {n}" for name, n in few)
        what = f"only {listed} test sample(s) in {'that class' if len(few) == 1 else 'these classes'}"
    else:
        if len(y_true) >= 3 * FEW_SAMPLES:
            return None
        what = f"only {len(y_true)} test samples"
    if interval:
        width = (
            f"; the 95% interval of {key}, [{interval[0]:.3f}, {interval[1]:.3f}], shows how little that "
            "pins down"
        )
    return (
        f"The test figures rest on few samples ({what}): one sample more or less right moves them a lot"
        f"{width}. Read the intervals, not the single figures, and collect more samples before trusting "
        "a verdict."
    )


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
    """Train the network(s) with early stopping, then evaluate, compare and explain.

    Cross-validation (``prepared.scheme``): one network per fold (:func:`cross_validate`), the metrics on
    every sample's out-of-fold prediction, the saved model a committee of the fold networks. Held-out
    split: one network, the metrics on the test rows. Either way each headline metric gets a 95% bootstrap
    interval and the comparison with the best baseline is paired (the same samples, the same folds).

    Ctrl-C (KeyboardInterrupt, also raised by a callback) stops training after the current batch with the
    best epoch's weights put back; the rest (test metrics, baselines, files) still happens and
    ``result.interrupted`` is True (with cross-validation the remaining folds are skipped).
    """
    started = time.perf_counter()
    data, config = prepared.data, prepared.config
    committee, fold_histories, fold_summaries, selection = None, [], [], None
    if prepared.scheme.scheme == "cross-validation":
        cv = cross_validate(prepared, callbacks, progress, progress_stream)
        history = cv.folds[0].history
        fold_histories = [f.history for f in cv.folds]
        fold_summaries = [
            {
                "repeat": f.fold.repeat + 1,
                "fold": f.fold.fold + 1,
                "train": len(f.train_rows),
                "validation": len(f.val_rows),
                "test": len(f.fold.test),
                "epochs": f.history.epochs_run,
                "best_epoch": f.history.best_epoch,
            }
            for f in cv.folds
        ]
        caught = _fold_warnings([f.warnings for f in cv.folds])
        committee = committee_of(prepared, cv.folds)
        out, rows, base_out = cv.output, cv.rows, cv.baselines
        if prepared.selected_features:
            shares: dict[str, float] = {}
            for f in cv.folds:
                for j in f.selected if f.selected is not None else []:
                    name = prepared.feature_names[j]
                    shares[name] = shares.get(name, 0.0) + 1 / len(cv.folds)
            kept = dict(sorted(shares.items(), key=lambda t: -t[1]))
            selection = {"k": prepared.selected_features, "kept": kept}
    else:
        history, caught = _train_holdout(prepared, callbacks, progress, progress_stream)
        out, rows = _test_outputs(prepared), prepared.test_idx
        fit_rows = np.concatenate([prepared.train_idx, prepared.val_idx])
        base_out = baseline_outputs(
            prepared.x[fit_rows],
            data.y[fit_rows],
            prepared.x[rows],
            data.task,
            data.target_names,
            config.seed,
        )
        if data.is_sequence and data.sequences is not None:  # the strongest baseline may ignore positions
            base_out.update(
                composition_outputs(
                    [data.sequences[i] for i in fit_rows],
                    data.y[fit_rows],
                    [data.sequences[i] for i in rows],
                    data.task,
                    data.target_names,
                    data.kind,
                )
            )
    diagnosis = history.diagnose()
    names = data.target_names
    test_metrics = score_outputs(data.task, out["y_true"], out, names)
    baselines = {}
    for name, b in base_out.items():
        baselines[name] = score_outputs(data.task, out["y_true"], b, names)
        if "seconds" in b and not name.startswith("constant"):
            baselines[name]["seconds"] = b["seconds"]
    test_ci = metric_intervals(data.task, out["y_true"], out, seed=config.seed)
    comparison = compare(
        data.task,
        test_metrics,
        baselines,
        y_true=out["y_true"],
        network_output=out,
        baseline_outputs=base_out,
        seed=config.seed,
    )
    key, _ = key_metric(data.task, test_metrics)
    small = small_sample_warning(data.task, out["y_true"], names, test_ci, key)
    model = committee if committee is not None else prepared.model

    importance = _explain(prepared, model, out, rows) if explain else None
    return TrainResult(
        prepared=prepared,
        history=history,
        diagnosis=diagnosis,
        test_metrics=test_metrics,
        baselines=baselines,
        comparison=comparison,
        predictions=_prediction_table(prepared, out, rows),
        test_output=out,
        importance=importance,
        seconds=time.perf_counter() - started,
        versions=_versions(),
        command=command,
        warnings=caught,
        test_ci=test_ci,
        evaluation=prepared.scheme.as_dict(len(rows)),
        committee=committee,
        fold_histories=fold_histories,
        fold_summaries=fold_summaries,
        selection=selection,
        small_sample=small,
    )


def _fold_warnings(per_fold: list[list[str]]) -> list[str]:
    """Each kind of warning once (as the first fold that raised it worded it), with how many folds did."""
    first: dict[str, str] = {}
    folds: dict[str, int] = {}
    for messages in per_fold:
        for kind in {m.split(":")[0][:80] for m in messages}:
            folds[kind] = folds.get(kind, 0) + 1
        for m in messages:
            first.setdefault(m.split(":")[0][:80], m)
    if len(per_fold) == 1:
        return list(first.values())
    return [f"{m} (in {folds[kind]} of {len(per_fold)} folds)" for kind, m in first.items()]


def _train_holdout(
    prepared: Prepared, callbacks: Sequence[Any] | None, progress: bool, progress_stream: Any
) -> tuple[Any, list[str]]:
    """One network on the training rows, early stopping on the validation rows: (history, warnings)."""
    from biograd import optim

    data, config, model = prepared.data, prepared.config, prepared.model
    tr, va = prepared.train_idx, prepared.val_idx
    x, y_fit = prepared.x, prepared.y_fit
    opt = optim.create(config.optimizer, model.parameters(), lr=prepared.lr, weight_decay=config.weight_decay)
    all_callbacks: list[Any] = [EarlyStopping(monitor="val_loss", patience=config.patience)]
    if progress:
        all_callbacks.append(ProgressBar(stream=progress_stream, patience=config.patience))
    all_callbacks += list(callbacks or [])
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
    if prepared.y_scale is not None:
        _fold_target_scale(model, *prepared.y_scale)
    if data.task == "classification":
        # predict() after biograd.load returns the class names rather than the codes 0..k-1
        set_class_names(model, list(data.target_names))
    return history, [str(r.message) for r in records]


def _explain(prepared: Prepared, model: Any, out: dict[str, np.ndarray], rows: np.ndarray) -> Explanation:
    """What drove the saved model's predictions on the test rows (every sample with cross-validation;
    for sequences the correctly predicted ones)."""
    data, config, x = prepared.data, prepared.config, prepared.x
    if data.is_sequence:
        correct = (
            out["y_pred"] == out["y_true"] if data.task == "classification" else np.ones(len(rows), bool)
        )
        chosen = rows[correct] if correct.any() else rows
        return explain_sequences(
            model,
            x[chosen],
            [data.ids[i] for i in chosen],
            [data.sequences[i] for i in chosen] if data.sequences else None,
            data.task,
            prepared.kernel_size or 12,
            class_names=data.target_names,
            seed=config.seed,
        )
    return explain_table(
        model,
        x[rows],
        prepared.feature_names,
        task=data.task,
        class_names=data.target_names,
        ids=[data.ids[i] for i in rows],
        seed=config.seed,
    )


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (for the report's reproducibility section)."""
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    return "biograd " + " ".join(shlex.quote(a) for a in args)


def evaluate_external(result: TrainResult, x: np.ndarray, y: np.ndarray, source: str) -> dict[str, Any]:
    """The saved model (the committee, with cross-validation) scored once on an external cohort: network
    inputs ``x`` read with the saved preprocessing, labels or values ``y``. The cohort never influenced
    training, early stopping, the preprocessing or any choice; its figures get 95% intervals too.

    Returns metrics.json's ``"external_test"``: source, samples, metrics, their intervals, a small-sample
    warning (or None). Also stored as ``result.external_test``.
    """
    data = result.prepared.data
    model = result.model
    if data.task == "classification":
        proba = predict_proba(model, x)
        out = {"y_true": np.asarray(y, dtype=np.int64), "y_pred": proba.argmax(axis=1), "proba": proba}
    else:
        pred = np.asarray(predict(model, x), dtype=np.float64).reshape(len(x))
        out = {"y_true": np.asarray(y, dtype=np.float64), "y_pred": pred}
    metrics = score_outputs(data.task, out["y_true"], out, data.target_names)
    ci = metric_intervals(data.task, out["y_true"], out, seed=result.prepared.config.seed)
    key, _ = key_metric(data.task, metrics)
    external = {
        "source": source,
        "samples": len(x),
        "metrics": metrics,
        "ci": ci,
        "small_sample_warning": small_sample_warning(data.task, out["y_true"], data.target_names, ci, key),
    }
    result.external_test = external
    return external
