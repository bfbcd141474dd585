"""Scoring on the test rows: classification and regression metrics, the classical baselines
(scikit-learn) trained on the same rows, and whether the network beats them."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from biograd.training import predict, predict_proba

if TYPE_CHECKING:
    from biograd.pipeline.prepare import Prepared


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, ROC AUC, PR AUC (average precision) and the confusion matrix.

    Two classes: ROC and PR AUC of P(class 1). More classes: one-vs-rest, macro-averaged. An AUC is None
    when a class is missing from y_true (it is undefined then).
    """
    from sklearn import metrics as skm

    k = len(class_names)
    y_pred = proba.argmax(axis=1)
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": None,
        "pr_auc": None,
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
    }
    present = np.unique(y_true)
    if len(present) == k:
        if k == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
            out["pr_auc"] = float(skm.average_precision_score(y_true, proba[:, 1]))
        else:
            onehot = np.eye(k)[y_true]
            out["roc_auc"] = float(skm.roc_auc_score(onehot, proba, average="macro"))
            out["pr_auc"] = float(skm.average_precision_score(onehot, proba, average="macro"))
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """R^2, MAE, RMSE (in the target's units) and Pearson's r."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    r = float(np.corrcoef(y_true, y_pred)[0, 1]) if np.std(y_pred) > 0 and np.std(y_true) > 0 else None
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "pearson_r": r,
    }


def key_metric(task: str, metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The one number used to compare models: ROC AUC (or balanced accuracy when undefined) for
    classification, R^2 for regression. Higher is better for all three."""
    if task == "regression":
        return "r2", metrics.get("r2")
    if metrics.get("roc_auc") is not None:
        return "roc_auc", metrics["roc_auc"]
    return "balanced_accuracy", metrics.get("balanced_accuracy")


def baseline_outputs(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """The classical models' predictions on ``x_test``, each model fitted on (``x_fit``, ``y_fit``): a
    constant guess, logistic regression (classification) or ridge regression, and a random forest (all
    scikit-learn). Per model ``{"proba": ...}`` (classification) or ``{"y_pred": ...}`` and ``"seconds"``.

    Sequences come in flattened (one-hot, samples x (alphabet * length)); :func:`composition_baselines`
    adds a model of their k-mer composition.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    x_fit = x_fit.reshape(len(x_fit), -1).astype(np.float64)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float64)
    results: dict[str, dict[str, Any]] = {}
    if task == "classification":
        k = len(class_names)
        prior = np.bincount(y_fit, minlength=k) / len(y_fit)
        constant = np.tile(prior, (len(x_test), 1))
        constant[:, prior.argmax()] += 1e-9  # the majority class, when probabilities tie
        results["constant guess (class frequencies)"] = {"proba": constant, "seconds": 0.0}
        models = {
            "logistic regression": LogisticRegression(max_iter=5000),
            "random forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        }
        for name, est in models.items():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(x_fit, y_fit)
            proba = np.zeros((len(x_test), k))
            proba[:, est.classes_] = est.predict_proba(x_test)
            results[name] = {"proba": proba, "seconds": time.perf_counter() - started}
    else:
        constant = np.full(len(x_test), float(np.mean(y_fit)))
        results["constant guess (mean)"] = {"y_pred": constant, "seconds": 0.0}
        models = {
            "ridge regression": Ridge(alpha=1.0),
            "random forest": RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
        }
        for name, est in models.items():
            started = time.perf_counter()
            est.fit(x_fit, y_fit)
            pred = np.asarray(est.predict(x_test), dtype=np.float64)
            results[name] = {"y_pred": pred, "seconds": time.perf_counter() - started}
    return results


def score_outputs(
    task: str, y_true: np.ndarray, output: dict[str, Any], class_names: Sequence[str]
) -> dict[str, Any]:
    """The metrics of one model's predictions (``{"proba": ...}`` or ``{"y_pred": ...}``)."""
    if task == "classification":
        return classification_metrics(y_true, output["proba"], class_names)
    return regression_metrics(y_true, output["y_pred"])


def run_baselines(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Classical models on the same rows (:func:`baseline_outputs`), scored on the test rows like the
    network."""
    results: dict[str, dict[str, Any]] = {}
    for name, output in baseline_outputs(x_fit, y_fit, x_test, task, class_names, seed).items():
        results[name] = score_outputs(task, y_test, output, class_names)
        if not name.startswith("constant"):
            results[name]["seconds"] = output["seconds"]
    return results


# --------------------------------------------------------------------------------------------------
# Fast metrics for the bootstrap: the same numbers as scikit-learn's (tests/test_evaluation.py checks
# them against it), computed with plain numpy because an interval recomputes each metric 2,000 times.
# --------------------------------------------------------------------------------------------------


def _binary_roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """P(score of a random positive > score of a random negative), ties counting one half
    (Mann-Whitney U / (n_pos n_neg), from average ranks)."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _binary_average_precision(positive: np.ndarray, score: np.ndarray) -> float | None:
    """AP = sum_n (R_n - R_(n-1)) P_n over the distinct score thresholds, highest first."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-score, kind="stable")
    s, hit = score[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # the last row of each threshold
    tps = np.cumsum(hit)[last]
    precision = tps / (last + 1)
    recall = tps / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _one_vs_rest(binary: Any, y: np.ndarray, proba: np.ndarray) -> float | None:
    k = proba.shape[1]
    if k == 2:
        return binary(y == 1, proba[:, 1])
    values = [binary(y == c, proba[:, c]) for c in range(k)]
    return None if any(v is None for v in values) else float(np.mean(values))


def _accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    return float(np.mean(proba.argmax(axis=1) == y))


def _balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    pred = proba.argmax(axis=1)
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float | None:
    return _one_vs_rest(_binary_roc_auc, y, proba)


def _pr_auc(y: np.ndarray, proba: np.ndarray) -> float | None:
    return _one_vs_rest(_binary_average_precision, y, proba)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - pred) ** 2) / total) if total > 0 else 0.0


def _mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y - pred)))


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def _pearson(y: np.ndarray, pred: np.ndarray) -> float | None:
    if np.std(y) == 0 or np.std(pred) == 0:
        return None
    return float(np.corrcoef(y, pred)[0, 1])


#: The headline metrics of each task (those with an interval), as functions of (y_true, output).
HEADLINE_METRICS: dict[str, dict[str, Any]] = {
    "classification": {
        "accuracy": _accuracy,
        "balanced_accuracy": _balanced_accuracy,
        "roc_auc": _roc_auc,
        "pr_auc": _pr_auc,
    },
    "regression": {"r2": _r2, "mae": _mae, "rmse": _rmse, "pearson_r": _pearson},
}


def _prediction_array(task: str, output: dict[str, Any]) -> np.ndarray:
    return np.asarray(output["proba"] if task == "classification" else output["y_pred"], dtype=np.float64)


def metric_intervals(
    task: str, y_true: np.ndarray, output: dict[str, Any], seed: int = 0
) -> dict[str, list[float] | None]:
    """A 95% interval for each headline metric: ``{"roc_auc": [low, high]}``.

    Accuracy, a share of samples right, gets the Wilson score interval
    (:func:`biograd.stats.proportion_interval`), which stays honest when every sample came out right; the
    other metrics a percentile bootstrap (resampling the samples, within each class for classification,
    so every resample keeps the class sizes)."""
    from biograd.stats import bootstrap_interval, proportion_interval

    pred = _prediction_array(task, output)
    y = np.asarray(y_true)
    strata = y if task == "classification" else None
    out: dict[str, list[float] | None] = {}
    for name, metric in HEADLINE_METRICS[task].items():
        if name == "accuracy":
            right = int(np.count_nonzero(pred.argmax(axis=1) == y))
            interval = proportion_interval(right, len(y))
        else:
            interval = bootstrap_interval(metric, y, pred, seed=seed, strata=strata)
        out[name] = None if interval is None else [interval[0], interval[1]]
    return out


#: k-mer sizes of the composition baselines, one model each: amino acids alone (20 features, hard to
#: overfit on a few hundred peptides) and with dipeptides (420); for DNA/RNA up to 2-mers and up to 4-mers.
COMPOSITION_K = {
    "protein": ((1,), (1, 2)),
    "dna": ((1, 2), (1, 2, 3, 4)),
    "rna": ((1, 2), (1, 2, 3, 4)),
}


def composition_outputs(
    seqs_fit: Sequence[str],
    y_fit: np.ndarray,
    seqs_test: Sequence[str],
    task: str,
    class_names: Sequence[str],
    alphabet: str,
) -> dict[str, dict[str, Any]]:
    """Predictions on ``seqs_test`` of baselines that ignore where letters sit: each sequence's k-mer
    frequencies (:func:`~biograd.bio.relatives.kmer_composition`, one model per k set of
    :data:`COMPOSITION_K`), standardized, into logistic regression (classification) or ridge regression,
    fitted on (``seqs_fit``, ``y_fit``). Padding does not enter (a sequence's own k-mers over its own
    number of k-mers), so short and long sequences compare; peptide activity often follows composition
    (charge, hydrophobicity) more than any one position. Per model ``{"proba": ...}`` or
    ``{"y_pred": ...}`` and ``"seconds"``, like :func:`baseline_outputs`.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from biograd.bio.relatives import kmer_composition

    results: dict[str, dict[str, Any]] = {}
    for ks in COMPOSITION_K[alphabet]:
        started = time.perf_counter()
        x_fit, _ = kmer_composition(seqs_fit, alphabet, ks)
        x_test, _ = kmer_composition(seqs_test, alphabet, ks)
        name = f"k-mer composition (k = {', '.join(map(str, ks))}) + "
        if task == "classification":
            est: Any = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(x_fit, y_fit)
            proba = np.zeros((len(x_test), len(class_names)))
            proba[:, est.classes_] = est.predict_proba(x_test)
            output: dict[str, Any] = {"proba": proba}
            name += "logistic regression"
        else:
            est = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
            est.fit(x_fit, y_fit)
            output = {"y_pred": est.predict(x_test)}
            name += "ridge regression"
        output["seconds"] = time.perf_counter() - started
        results[name] = output
    return results


def composition_baselines(
    seqs_fit: Sequence[str],
    y_fit: np.ndarray,
    seqs_test: Sequence[str],
    y_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    alphabet: str,
) -> dict[str, dict[str, Any]]:
    """The composition baselines (:func:`composition_outputs`) scored on the test rows like the network."""
    results: dict[str, dict[str, Any]] = {}
    for name, output in composition_outputs(seqs_fit, y_fit, seqs_test, task, class_names, alphabet).items():
        results[name] = {**score_outputs(task, y_test, output, class_names), "seconds": output["seconds"]}
    return results


def compare(
    task: str,
    network: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    *,
    y_true: np.ndarray | None = None,
    network_output: dict[str, Any] | None = None,
    baseline_outputs: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The network against the best classical baseline (the one with the highest key metric).

    With the predictions of both on the same samples (``y_true``, ``network_output``,
    ``baseline_outputs``) the comparison is paired: the difference in the key metric with its 95% bootstrap
    interval (:func:`biograd.stats.paired_difference`) and a verdict, "better" only when the whole
    interval lies above zero, "worse" when below, else "no clear difference". ``network_beats_baseline``
    is True only for "better". Without them only the two figures are compared (no verdict).
    """
    from biograd.stats import BETTER, WORSE, format_interval, paired_difference

    metric, net_value = key_metric(task, network)
    best_name, best_value = None, None
    for name, values in baselines.items():
        if name.startswith("constant"):
            continue
        value = values.get(metric)
        if value is not None and (best_value is None or value > best_value):
            best_name, best_value = name, value
    label = {"roc_auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "r2": "R^2"}[metric]
    paired: dict[str, Any] = {"difference": None, "ci_low": None, "ci_high": None, "verdict": None}
    if net_value is None or best_value is None:
        beats = None
        sentence = f"The comparison on {label} is not possible on this test set."
    elif y_true is not None and network_output is not None and baseline_outputs is not None:
        diff = paired_difference(
            HEADLINE_METRICS[task][metric],
            np.asarray(y_true),
            _prediction_array(task, network_output),
            _prediction_array(task, baseline_outputs[best_name]),
            seed=seed,
            strata=np.asarray(y_true) if task == "classification" else None,
        )
        paired = diff.as_dict()
        beats = diff.verdict == BETTER
        interval = None if np.isnan(diff.ci_low) else (diff.ci_low, diff.ci_high)
        figures = (
            f"{label} {net_value:.3f} vs {best_value:.3f} ({best_name}); the difference "
            f"{format_interval(diff.difference, interval)} (95% interval)"
        )
        if beats:
            sentence = f"The network beats the best classical baseline: {figures} lies above zero."
        elif diff.verdict == WORSE:
            sentence = (
                f"The network does NOT beat the classical baseline, it is worse: {figures} lies below zero. "
                "On data like these the simpler model is the better choice."
            )
        else:
            sentence = (
                f"No clear difference between the network and the best classical baseline: {figures} "
                "includes zero, so these data cannot tell them apart. The simpler model is as good a choice."
            )
    elif round(net_value, 3) > round(best_value, 3):
        beats = True
        sentence = (
            f"The network beats the best classical baseline on the test set: {label} {net_value:.3f} vs "
            f"{best_value:.3f} ({best_name})."
        )
    else:
        beats = False
        sentence = (
            f"The network does NOT beat the classical baseline: {label} {net_value:.3f} vs {best_value:.3f} "
            f"({best_name}). On data like these the simpler model is the better choice."
        )
    return {
        "metric": metric,
        "metric_label": label,
        "network": net_value,
        "best_baseline": best_name,
        "best_baseline_value": best_value,
        "network_beats_baseline": beats,
        **paired,
        "sentence": sentence,
    }


def _test_outputs(prepared: Prepared) -> dict[str, np.ndarray]:
    model, data = prepared.model, prepared.data
    x_test = prepared.x[prepared.test_idx]
    y_true = data.y[prepared.test_idx]
    if data.task == "classification":
        proba = predict_proba(model, x_test)
        return {"y_true": y_true, "y_pred": proba.argmax(axis=1), "proba": proba}
    pred = np.asarray(predict(model, x_test), dtype=np.float64).reshape(len(x_test))
    return {"y_true": y_true.astype(np.float64), "y_pred": pred}


def _prediction_table(prepared: Prepared, out: dict[str, np.ndarray], rows: np.ndarray | None = None) -> Any:
    """The predictions of the test rows (``rows``, default ``prepared.test_idx``) as a table."""
    import pandas as pd

    data = prepared.data
    ids = np.asarray(data.ids, dtype=object)[prepared.test_idx if rows is None else rows]
    if data.task == "classification":
        names = np.asarray(data.target_names, dtype=object)
        frame = pd.DataFrame({"id": ids, "true": names[out["y_true"]], "predicted": names[out["y_pred"]]})
        for j, name in enumerate(data.target_names):
            frame[f"probability_{name}"] = np.round(out["proba"][:, j], 6)
        return frame
    return pd.DataFrame(
        {"id": ids, "true": out["y_true"], "predicted": out["y_pred"], "error": out["y_pred"] - out["y_true"]}
    )
