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


def run_baselines(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Classical models on the same rows: a constant guess, logistic regression (classification) or ridge
    regression, and a random forest, all from scikit-learn, scored on the test rows like the network.

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
        results["constant guess (class frequencies)"] = classification_metrics(y_test, constant, class_names)
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
            results[name] = classification_metrics(y_test, proba, class_names)
            results[name]["seconds"] = time.perf_counter() - started
    else:
        results["constant guess (mean)"] = regression_metrics(y_test, np.full(len(y_test), y_fit.mean()))
        models = {
            "ridge regression": Ridge(alpha=1.0),
            "random forest": RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
        }
        for name, est in models.items():
            started = time.perf_counter()
            est.fit(x_fit, y_fit)
            results[name] = regression_metrics(y_test, est.predict(x_test))
            results[name]["seconds"] = time.perf_counter() - started
    return results


#: k-mer sizes of the composition baselines, one model each: amino acids alone (20 features, hard to
#: overfit on a few hundred peptides) and with dipeptides (420); for DNA/RNA up to 2-mers and up to 4-mers.
COMPOSITION_K = {
    "protein": ((1,), (1, 2)),
    "dna": ((1, 2), (1, 2, 3, 4)),
    "rna": ((1, 2), (1, 2, 3, 4)),
}


def composition_baselines(
    seqs_fit: Sequence[str],
    y_fit: np.ndarray,
    seqs_test: Sequence[str],
    y_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    alphabet: str,
) -> dict[str, dict[str, Any]]:
    """Baselines that ignore where letters sit: each sequence's k-mer frequencies
    (:func:`~biograd.bio.relatives.kmer_composition`, one model per k set of :data:`COMPOSITION_K`),
    standardized, into logistic regression (classification) or ridge regression. Padding does not enter
    (a sequence's own k-mers over its own number of k-mers), so short and long sequences compare;
    peptide activity often follows composition (charge, hydrophobicity) more than any one position.
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
            result = classification_metrics(y_test, proba, class_names)
            name += "logistic regression"
        else:
            est = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
            est.fit(x_fit, y_fit)
            result = regression_metrics(y_test, est.predict(x_test))
            name += "ridge regression"
        result["seconds"] = time.perf_counter() - started
        results[name] = result
    return results


def compare(task: str, network: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Does the network beat the best classical baseline on the test set? (ties count as "no")."""
    metric, net_value = key_metric(task, network)
    best_name, best_value = None, None
    for name, values in baselines.items():
        if name.startswith("constant"):
            continue
        value = values.get(metric)
        if value is not None and (best_value is None or value > best_value):
            best_name, best_value = name, value
    label = {"roc_auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "r2": "R^2"}[metric]
    if net_value is None or best_value is None:
        beats = None
        sentence = f"The comparison on {label} is not possible on this test set."
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


def _prediction_table(prepared: Prepared, out: dict[str, np.ndarray]) -> Any:
    import pandas as pd

    data = prepared.data
    ids = np.asarray(data.ids, dtype=object)[prepared.test_idx]
    if data.task == "classification":
        names = np.asarray(data.target_names, dtype=object)
        frame = pd.DataFrame({"id": ids, "true": names[out["y_true"]], "predicted": names[out["y_pred"]]})
        for j, name in enumerate(data.target_names):
            frame[f"probability_{name}"] = np.round(out["proba"][:, j], 6)
        return frame
    return pd.DataFrame(
        {"id": ids, "true": out["y_true"], "predicted": out["y_pred"], "error": out["y_pred"] - out["y_true"]}
    )
