"""Resampled evaluation: train one network per cross-validation fold, predict each fold's test rows with
the network that never saw them, and keep the fold networks as a committee (:class:`biograd.nn.Committee`).

For each fold (the folds come from :func:`biograd.stats.cross_validation_folds`):

1. the fold's training rows are split again into training and validation rows (stratified by class, whole
   groups of ``Dataset.groups`` on one side); the validation rows decide the best epoch (early stopping);
2. tables: the scaling (mean and standard deviation of each numeric column) is learned from the fold's
   training rows only; with many more features than samples the ``k`` features that best separate the
   classes (or track the target) on those rows are kept (:func:`biograd.stats.univariate_selection`);
3. the network is trained, then predicts the fold's test rows; the classical baselines (for sequences also
   the k-mer composition models) learn from the same training rows and predict the same test rows.

With repeated cross-validation each sample is predicted once per repeat; its predictions (class
probabilities, or values) are averaged. The test metrics are computed on these out-of-fold predictions.

The saved model is the committee of the fold networks. A table's saved preprocessing is learned from all
rows (so every category is known); each member starts with a :class:`biograd.nn.Standardize` layer that
maps that preprocessing's output to its own fold's scaling, then its :class:`biograd.nn.SelectFeatures`
(if any), then its network. The networks' out-of-fold predictions during evaluation went through exactly
these layers. (Missing values, with ``--impute``, are filled with the value learned from all rows: a
statistic of the features alone, never of the target.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.bio.errors import DataError
from biograd.pipeline.evaluate import baseline_outputs, composition_outputs
from biograd.pipeline.prepare import Prepared, _held_out_group, _loss_for, build_model
from biograd.random import manual_seed
from biograd.stats import Fold, univariate_selection
from biograd.training import EarlyStopping, ProgressBar, fit, predict, predict_proba


@dataclass
class FoldResult:
    """One fold's network, what it learned from, and its predictions on the fold's test rows."""

    fold: Fold
    network: Any  # the trained network (inputs: the fold's scaled and selected features)
    member: Any  # the committee member: Standardize -> SelectFeatures -> network, on the saved inputs
    history: Any
    train_rows: np.ndarray  # rows the network learned from
    val_rows: np.ndarray  # rows that decided its best epoch
    selected: np.ndarray | None  # kept feature columns (of the saved preprocessing's output)
    warnings: list[str] = field(default_factory=list)


@dataclass
class CrossValidation:
    """Every fold's result plus the out-of-fold predictions (network and baselines) of the samples."""

    folds: list[FoldResult]
    rows: np.ndarray  # samples with an out-of-fold prediction (all of them unless interrupted)
    output: dict[str, np.ndarray]  # network: y_true, y_pred, proba (classification), on ``rows``
    baselines: dict[str, dict[str, np.ndarray]]  # name -> {"proba"} or {"y_pred"}, on ``rows``
    interrupted: bool = False


def _fold_target_scale(model: Any, mean: float, std: float) -> None:
    """Make a network trained on standardized targets z = (y - mean) / std predict y itself.

    The last layer is Linear: z_hat = W h + b, so y_hat = std * z_hat + mean = (std W) h + (std b + mean).
    Exact, and the saved model then needs no extra step to predict in the original units.
    """
    from biograd.nn import Linear

    last = [m for m in model.modules() if isinstance(m, Linear)][-1]
    last.weight.data = (last.weight.data * std).astype(last.weight.data.dtype)
    last.bias.data = (last.bias.data * std + mean).astype(last.bias.data.dtype)


def fold_scaling(prepared: Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shift, scale) that turn the saved preprocessing's output into the scaling learned from ``rows``.

    A numeric column standardized with all rows' mean m and sd s, g = (x - m) / s, becomes
    (x - m_f) / s_f = (g - (m_f - m) / s) / (s_f / s) with the mean m_f and sd s_f of ``rows``: shift
    (m_f - m) / s, scale s_f / s. One-hot columns keep shift 0, scale 1.
    """
    from biograd.bio.preprocess import Preprocessor

    saved = Preprocessor.from_config(prepared.preprocessing["table"])
    fold = Preprocessor(
        impute=saved.impute,
        max_categories=saved.max_categories,
        id_column=saved.id_column or "",
        standardize=saved.standardize,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fold.fit(prepared.data.features.iloc[rows])
    learned = {c["name"]: c for c in fold.numeric}
    shift, scale = [], []
    numeric = {c["name"]: c for c in saved.numeric}
    for name in saved.columns:
        if name in numeric:
            g, f = numeric[name], learned[name]
            shift.append((f["mean"] - g["mean"]) / g["std"])
            scale.append(f["std"] / g["std"])
        else:
            n_categories = len(next(c for c in saved.categorical if c["name"] == name)["categories"])
            shift += [0.0] * n_categories
            scale += [1.0] * n_categories
    return np.asarray(shift), np.asarray(scale)


def _inner_split(prepared: Prepared, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training rows split into (training, validation) rows, stratified by class; with
    ``data.groups`` no group straddles the two (copies of a sample never both train and stop training)."""
    from biograd.data import split_indices

    data = prepared.data
    labels = data.y[rows] if data.task == "classification" else None
    try:
        if data.groups is not None:
            kept, held = _held_out_group(
                labels, np.asarray(data.groups)[rows], prepared.config.val_fraction, seed, "validation"
            )
        else:
            kept, held = split_indices(
                len(rows), prepared.config.val_fraction, labels, seed, part="validation"
            )
    except ValueError as err:
        raise DataError(
            f"A cross-validation fold's {len(rows)} training samples are too few for a validation part "
            f"(validation fraction {prepared.config.val_fraction:g}): {err}"
        ) from None
    return np.sort(rows[kept]), np.sort(rows[held])


def _fold_output(prepared: Prepared, network: Any, x: np.ndarray) -> np.ndarray:
    if prepared.data.task == "classification":
        return predict_proba(network, x)
    return np.asarray(predict(network, x), dtype=np.float64).reshape(len(x))


def cross_validate(
    prepared: Prepared,
    callbacks: Sequence[Any] | None = None,
    progress: bool = False,
    progress_stream: Any = None,
) -> CrossValidation:
    """Train and evaluate one network per fold of ``prepared.folds`` (see the module's docstring).

    Progress (``progress=True``) writes one line per fold to ``progress_stream`` before its progress bar.
    Ctrl-C during a fold keeps that fold's best weights and skips the remaining folds; the samples those
    folds would have predicted are then left out of the evaluation.
    """
    from biograd import nn, optim

    data, config = prepared.data, prepared.config
    x, y = prepared.x, data.y
    n, task = len(y), data.task
    k_out = len(data.target_names) if task == "classification" else 1
    sums = np.zeros((n, k_out)) if task == "classification" else np.zeros(n)
    counts = np.zeros(n, dtype=np.int64)
    base_sums: dict[str, np.ndarray] = {}
    results: list[FoldResult] = []
    interrupted = False
    total = len(prepared.folds)
    for number, fold in enumerate(prepared.folds):
        fold_seed = config.seed + number
        train_rows, val_rows = _inner_split(prepared, fold.train, fold_seed)
        if data.is_sequence:
            x_fold, shift, scale = x, None, None
        else:
            shift, scale = fold_scaling(prepared, fold.train)
            x_fold = ((x - shift) / scale).astype(np.float32)
        selected = None
        if prepared.selected_features:
            selected = univariate_selection(
                x_fold[fold.train], y[fold.train], task, prepared.selected_features
            )
            selected = np.sort(selected)
            x_fold = x_fold[:, selected]
        if task == "regression":
            mean, std = float(y[train_rows].mean()), float(y[train_rows].std())
            std = std if std > 0 else 1.0
            y_fit = ((y - mean) / std).astype(np.float32)
        else:
            y_fit = y.astype(np.int64)
        manual_seed(fold_seed)
        n_inputs: Any = x_fold.shape[1] if not data.is_sequence else (x.shape[1], x.shape[2])
        network, _, _, _ = build_model(data, n_inputs, config)
        opt = optim.create(
            config.optimizer, network.parameters(), lr=prepared.lr, weight_decay=config.weight_decay
        )
        fold_callbacks: list[Any] = [EarlyStopping(monitor="val_loss", patience=config.patience)]
        if progress:
            if progress_stream is not None:
                repeat = f" (repeat {fold.repeat + 1})" if prepared.scheme.repeats > 1 else ""
                progress_stream.write(
                    f"fold {number + 1}/{total}{repeat}: training on {len(train_rows)} samples, stopping "
                    f"on {len(val_rows)}, predicting {len(fold.test)}\n"
                )
                progress_stream.flush()
            fold_callbacks.append(ProgressBar(stream=progress_stream, patience=config.patience))
        fold_callbacks += list(callbacks or [])
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            history = fit(
                network,
                x_fold[train_rows],
                y_fit[train_rows],
                optimizer=opt,
                epochs=config.epochs,
                batch_size=config.batch_size,
                validation_data=(x_fold[val_rows], y_fit[val_rows]),
                callbacks=fold_callbacks,
                loss=_loss_for(data),
                seed=fold_seed,
                verbose=False,
            )
        if task == "regression":
            _fold_target_scale(network, mean, std)
        if data.is_sequence:
            member = network
        else:
            layers = [nn.Standardize(shift, scale)]
            if selected is not None:
                layers.append(nn.SelectFeatures(selected.tolist(), x.shape[1]))
            member = nn.Sequential(*layers, network)
        test = fold.test
        sums[test] += _fold_output(prepared, network, x_fold[test])
        counts[test] += 1
        fold_baselines = baseline_outputs(
            x_fold[fold.train], y[fold.train], x_fold[test], task, data.target_names, fold_seed
        )
        if data.is_sequence and data.sequences is not None:  # the strongest baseline may ignore positions
            fold_baselines.update(
                composition_outputs(
                    [data.sequences[i] for i in fold.train],
                    y[fold.train],
                    [data.sequences[i] for i in test],
                    task,
                    data.target_names,
                    data.kind,
                )
            )
        for name, out in fold_baselines.items():
            values = out["proba"] if task == "classification" else out["y_pred"]
            base_sums.setdefault(name, np.zeros_like(sums))[test] += values
        results.append(
            FoldResult(
                fold,
                network,
                member,
                history,
                train_rows,
                val_rows,
                selected,
                [str(r.message) for r in records],
            )
        )
        if history.stop_reason == "interrupted":
            interrupted = True
            break
    rows = np.flatnonzero(counts > 0)
    divide = counts[rows][:, None] if task == "classification" else counts[rows]
    mean_out = sums[rows] / divide
    if task == "classification":
        output = {"y_true": y[rows], "y_pred": mean_out.argmax(axis=1), "proba": mean_out}
        baselines = {name: {"proba": s[rows] / divide} for name, s in base_sums.items()}
    else:
        output = {"y_true": y[rows].astype(np.float64), "y_pred": mean_out}
        baselines = {name: {"y_pred": s[rows] / divide} for name, s in base_sums.items()}
    return CrossValidation(results, rows, output, baselines, interrupted)


def committee_of(prepared: Prepared, folds: Sequence[FoldResult]) -> Any:
    """The fold networks as one :class:`biograd.nn.Committee` (probabilities averaged for classes, values
    for regression), carrying what fit learned about the target (so ``predict`` names the classes)."""
    from biograd import nn
    from biograd.training.targets import get_target_info, set_class_names, set_target_info

    data = prepared.data
    combines = {True: "mean", False: "sigmoid" if len(data.target_names) <= 2 else "softmax"}
    combine = combines[data.task == "regression"]
    committee = nn.Committee([f.member for f in folds], combine=combine)
    info = get_target_info(folds[0].network)
    if info is not None:
        set_target_info(committee, info)
        if data.task == "classification":
            set_class_names(committee, list(data.target_names))
    committee.eval()
    return committee
