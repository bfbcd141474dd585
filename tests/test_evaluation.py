"""The resampled evaluation of the main job: out-of-fold metrics, intervals, the paired verdict and the
committee that is saved. Oracles: scikit-learn's metrics (on the written out-of-fold predictions and on
resamples), its Preprocessor-free F test (SelectKBest) on the fold's rows, and a Preprocessor fitted on a
fold's rows by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.feature_selection import SelectKBest, f_classif

import biograd
from biograd import nn, pipeline
from biograd.bio.tabular import Preprocessor
from biograd.cli import main
from biograd.pipeline.evaluate import HEADLINE_METRICS
from biograd.training import predict_proba


def separable_table(n: int = 120, seed: int = 0, noise: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"noise_{i}": rng.normal(size=n) for i in range(noise)})
    frame.insert(0, "gene_b", rng.normal(size=n))
    frame.insert(0, "gene_a", rng.normal(size=n))
    frame.insert(0, "sample", [f"S{i:03d}" for i in range(n)])
    logit = 2.0 * frame.gene_a - 1.5 * frame.gene_b + rng.normal(scale=0.7, size=n)
    frame["status"] = np.where(logit > 0, "disease", "healthy")
    return frame


# -- the fast metrics of the bootstrap are scikit-learn's --------------------------------------------


@pytest.mark.parametrize("k", [2, 3])
def test_fast_classification_metrics_match_scikit_learn(k):
    rng = np.random.default_rng(k)
    for trial in range(20):
        n = int(rng.integers(8, 60))
        y = rng.integers(0, k, size=n)
        y[:k] = np.arange(k)  # every class present
        raw = rng.random((n, k))
        if trial % 2:
            raw = np.round(raw, 1) + 0.05  # ties in the scores
        proba = raw / raw.sum(axis=1, keepdims=True)
        fast = HEADLINE_METRICS["classification"]
        pred = proba.argmax(axis=1)
        assert fast["accuracy"](y, proba) == pytest.approx(skm.accuracy_score(y, pred))
        assert fast["balanced_accuracy"](y, proba) == pytest.approx(skm.balanced_accuracy_score(y, pred))
        if k == 2:
            auc = skm.roc_auc_score(y, proba[:, 1])
            ap = skm.average_precision_score(y, proba[:, 1])
        else:
            onehot = np.eye(k)[y]
            auc = skm.roc_auc_score(onehot, proba, average="macro")
            ap = skm.average_precision_score(onehot, proba, average="macro")
        assert fast["roc_auc"](y, proba) == pytest.approx(auc)
        assert fast["pr_auc"](y, proba) == pytest.approx(ap)


def test_fast_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    pred = y + rng.normal(scale=0.5, size=50)
    fast = HEADLINE_METRICS["regression"]
    assert fast["r2"](y, pred) == pytest.approx(skm.r2_score(y, pred))
    assert fast["mae"](y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert fast["rmse"](y, pred) == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert fast["pearson_r"](y, pred) == pytest.approx(np.corrcoef(y, pred)[0, 1])


# -- a cross-validated run end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("cv")
    frame = separable_table()
    csv = root / "table.csv"
    frame.to_csv(csv, index=False)
    out = root / "run"
    args = ["train", str(csv), "--target", "status", "--epochs", "40", "--quiet", "--out", str(out)]
    assert main(args) == 0
    return csv, out, frame


def test_scheme_is_recorded_and_every_sample_is_predicted_out_of_fold(cv_run):
    _, out, frame = cv_run
    metrics = json.loads((out / "metrics.json").read_text())
    evaluation = metrics["evaluation"]
    # 120 samples: small data, so 5 folds repeated twice (biograd.stats.choose_scheme)
    assert (evaluation["scheme"], evaluation["folds"], evaluation["repeats"]) == ("cross-validation", 5, 2)
    assert evaluation["samples"] == 120 and len(evaluation["folds_run"]) == 10
    for fold in evaluation["folds_run"]:
        assert fold["train"] + fold["validation"] + fold["test"] == 120
    preds = pd.read_csv(out / "predictions.csv")
    assert sorted(preds.id) == sorted(frame["sample"])
    # the test metrics are those of the written out-of-fold predictions (scikit-learn as the oracle)
    assert metrics["test"]["accuracy"] == pytest.approx(skm.accuracy_score(preds.true, preds.predicted))
    y = (preds.true == "healthy").astype(int)
    assert metrics["test"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, preds.probability_healthy), abs=1e-5
    )
    assert metrics["test"]["accuracy"] > 0.75


def test_intervals_hold_the_figures_and_the_verdict_agrees_with_its_interval(cv_run):
    _, out, _ = cv_run
    metrics = json.loads((out / "metrics.json").read_text())
    for name, value in metrics["test"].items():
        if name == "confusion_matrix" or value is None:
            continue
        low, high = metrics["test_ci"][name]
        assert low <= value <= high, name
    c = metrics["comparison"]
    best = metrics["baselines"][c["best_baseline"]][c["metric"]]
    assert c["difference"] == pytest.approx(metrics["test"][c["metric"]] - best)
    assert c["ci_low"] <= c["difference"] <= c["ci_high"]
    expected = "better" if c["ci_low"] > 0 else ("worse" if c["ci_high"] < 0 else "no clear difference")
    assert c["verdict"] == expected
    assert c["network_beats_baseline"] is (expected == "better")
    words = {"better": "beats", "worse": "does NOT beat", "no clear difference": "No clear difference"}
    assert words[expected] in c["sentence"]
    assert f"{c['ci_low']:.3f}" in c["sentence"] and f"{c['ci_high']:.3f}" in c["sentence"]


def test_saved_model_is_a_committee_of_the_fold_networks(cv_run):
    csv, out, frame = cv_run
    model = biograd.load(out)
    assert isinstance(model, nn.Committee) and len(model) == 10 and model.combine == "sigmoid"
    _, info = pipeline.load_run(out)
    saved = Preprocessor.from_config(info["preprocessing"]["table"])
    x = saved.transform(frame)
    # the saved preprocessing was learned from all rows
    assert saved.numeric[0]["mean"] == pytest.approx(frame.gene_a.mean())
    # member 0's Standardize turns it into fold 0's own scaling: oracle, a Preprocessor fitted by hand on
    # the rows fold 0 trained on (rebuilt from the same seed)
    data = pipeline.load_data(csv, "status")
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=40))
    fold0 = prepared.folds[0]
    features = frame.drop(columns="status")
    own = Preprocessor(id_column="sample").fit(features.iloc[fold0.train]).transform(features)
    standardize = model.members[0][0]
    assert isinstance(standardize, nn.Standardize)
    np.testing.assert_allclose(standardize(x).data, own, atol=1e-4)
    # biograd predict through the run directory uses the committee
    target = out.parent / "committee_predictions.csv"
    assert main(["predict", str(out), str(csv), "--out", str(target)]) == 0
    got = pd.read_csv(target)
    np.testing.assert_allclose(got.probability_healthy, predict_proba(model, x)[:, 1], atol=1e-5)


def test_wide_table_keeps_features_chosen_inside_each_fold(tmp_path):
    rng = np.random.default_rng(3)
    n, p = 40, 150
    raw = rng.normal(size=(n, p))
    y = np.where(raw[:, 0] + raw[:, 1] > 0, "a", "b")
    frame = pd.DataFrame(raw, columns=[f"g{j}" for j in range(p)])
    frame["kind"] = y
    data = pipeline.load_data(_csv(frame, tmp_path), "kind")
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=5, select_features=20))
    assert prepared.selected_features == 20 and "MLP 20 ->" in prepared.architecture
    result = pipeline.train(prepared, explain=False)
    for member, fold in zip(result.committee.members, prepared.folds, strict=True):
        select = member[1]
        assert isinstance(select, nn.SelectFeatures)
        # oracle: scikit-learn's F test on the fold's training rows only
        best = SelectKBest(f_classif, k=20).fit(raw[fold.train], (y[fold.train] == "b").astype(int))
        assert sorted(select.indices.tolist()) == sorted(np.flatnonzero(best.get_support()).tolist())
    assert set(list(result.selection["kept"])[:2]) == {"g0", "g1"}
    # the default for tables with more features than samples
    assert pipeline.prepare(data, pipeline.TrainConfig(epochs=5)).selected_features == 100


def test_few_samples_per_class_are_flagged_with_the_interval(tmp_path):
    frame = separable_table(n=40, seed=1)
    frame.loc[frame.index[:34], "status"] = "healthy"
    frame.loc[frame.index[34:], "status"] = "disease"  # 6 samples in a class
    data = pipeline.load_data(_csv(frame, tmp_path), "status")
    result = pipeline.train(pipeline.prepare(data, pipeline.TrainConfig(epochs=5)), explain=False)
    assert result.small_sample is not None
    assert "'disease' 6" in result.small_sample and "95% interval" in result.small_sample


def test_a_perfect_score_on_few_samples_is_not_called_certain():
    """Every sample right: the bootstrap of ROC AUC collapses to [1, 1]; the note quotes the Wilson
    interval of accuracy instead (20 of 20 right: [0.839, 1.000]), never a zero-width interval."""
    from biograd.pipeline.evaluate import metric_intervals
    from biograd.pipeline.run import small_sample_warning

    y = np.array([0] * 6 + [1] * 6 + [2] * 5 + [3] * 3)
    proba = np.eye(4)[y]
    ci = metric_intervals("classification", y, {"proba": proba, "y_pred": y})
    assert ci["roc_auc"] == [1.0, 1.0] and ci["accuracy"][0] == pytest.approx(0.8389, abs=1e-4)
    note = small_sample_warning("classification", y, ["a", "b", "c", "d"], ci, "roc_auc")
    assert "[0.839, 1.000]" in note and "[1.000, 1.000]" not in note


def test_another_seed_stays_within_the_intervals_on_a_bundled_dataset():
    """The headline figure of seed 1 lies inside seed 0's interval (and back), and the verdict holds."""
    data = pipeline.load_data(dataset="breast-cancer")
    runs = [
        pipeline.train(pipeline.prepare(data, pipeline.TrainConfig(epochs=30, seed=seed)), explain=False)
        for seed in (0, 1)
    ]
    key = runs[0].comparison["metric"]
    for a, b in ((0, 1), (1, 0)):
        low, high = runs[a].test_ci[key]
        assert low <= runs[b].test_metrics[key] <= high
    assert runs[0].comparison["verdict"] == runs[1].comparison["verdict"]


def _csv(frame: pd.DataFrame, where: Path) -> Path:
    path = where / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_external_test_data_scored_once_with_intervals(tmp_path, capsys):
    train_csv = _csv(separable_table(n=100, seed=0), tmp_path)
    cohort = separable_table(n=50, seed=7)
    cohort["sample"] = [f"E{i:03d}" for i in range(50)]
    cohort_csv = tmp_path / "cohort.csv"
    cohort.to_csv(cohort_csv, index=False)
    out = tmp_path / "run"
    args = ["train", str(train_csv), "--target", "status", "--epochs", "20", "--quiet", "--out", str(out)]
    assert main([*args, "--test-data", str(cohort_csv)]) == 0
    text = capsys.readouterr().out
    assert "External test set" in text and "50 samples" in text
    external = json.loads((out / "metrics.json").read_text())["external_test"]
    assert external["samples"] == 50
    # oracle: scikit-learn on what the saved model predicts for the cohort
    target = tmp_path / "p.csv"
    assert main(["predict", str(out), str(cohort_csv), "--out", str(target)]) == 0
    got = pd.read_csv(target)
    assert external["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(cohort.status, got.predicted))
    low, high = external["ci"]["accuracy"]
    assert low <= external["metrics"]["accuracy"] <= high
    # the cohort never shaped the run: the cross-validated figures are those of a run without it
    plain = tmp_path / "plain"
    assert main([*args[:-1], str(plain)]) == 0
    assert (
        json.loads((plain / "metrics.json").read_text())["test"]
        == json.loads((out / "metrics.json").read_text())["test"]
    )


def test_held_out_split_also_gets_intervals_and_a_paired_verdict():
    data = pipeline.load_data(dataset="diabetes")
    config = pipeline.TrainConfig(epochs=5, evaluation="holdout")
    result = pipeline.train(pipeline.prepare(data, config), explain=False)
    assert result.evaluation == {"scheme": "holdout", "folds": 1, "repeats": 1, "samples": 89}
    assert result.committee is None and not isinstance(result.model, nn.Committee)
    low, high = result.test_ci["r2"]
    assert low <= result.test_metrics["r2"] <= high
    c = result.comparison
    assert c["ci_low"] <= c["difference"] <= c["ci_high"]
    assert c["network_beats_baseline"] is (c["verdict"] == "better")


def test_scheme_follows_the_data_size():
    table = pipeline.load_data(dataset="breast-cancer")  # 569 samples: one round of 5 folds
    scheme = pipeline.prepare(table, pipeline.TrainConfig()).scheme
    assert (scheme.scheme, scheme.folds, scheme.repeats) == ("cross-validation", 5, 1)
    motifs = pipeline.load_data(dataset="motifs")  # 2,000 sequences: one held-out test set
    assert pipeline.prepare(motifs, pipeline.TrainConfig()).scheme.scheme == "holdout"
    forced = pipeline.prepare(motifs, pipeline.TrainConfig(evaluation="cross-validation"))
    assert forced.scheme.scheme == "cross-validation" and len(forced.folds) == 5


def test_progress_names_each_fold(tmp_path):
    import io

    data = pipeline.load_data(_csv(separable_table(n=60), tmp_path), "status")
    stream = io.StringIO()
    pipeline.train(
        pipeline.prepare(data, pipeline.TrainConfig(epochs=2)),
        progress=True,
        progress_stream=stream,
        explain=False,
    )
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("fold ")]
    assert [line.split(":")[0] for line in lines] == [
        f"fold {k}/10" + (f" (repeat {1 + (k - 1) // 5})") for k in range(1, 11)
    ]
