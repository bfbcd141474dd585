"""The command line end to end: one short run per kind of data, then predict / evaluate / explain on the
saved model. Oracles: scikit-learn's metrics recomputed from the written predictions, the split's
bookkeeping, and the model's own saved predictions reproduced after a reload with shuffled columns."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from biograd import datasets, pipeline
from biograd.cli import main
from biograd.training import Callback


def synthetic_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Two informative numeric columns (gene_a, gene_b), noise columns, a categorical column and IDs."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sample": [f"S{i:03d}" for i in range(n)],
            "gene_a": rng.normal(size=n),
            "gene_b": rng.normal(size=n),
            "noise_1": rng.normal(size=n),
            "noise_2": rng.normal(size=n),
            "noise_3": rng.normal(size=n),
            "tissue": rng.choice(["liver", "lung", "brain"], size=n),
        }
    )
    frame["status"] = np.where(2.0 * frame.gene_a - 1.5 * frame.gene_b > 0, "disease", "healthy")
    return frame


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("table")
    frame = synthetic_table()
    csv = root / "expression.csv"
    frame.to_csv(csv, index=False)
    out = root / "run"
    code = main(["train", str(csv), "--target", "status", "--epochs", "60", "--quiet", "--out", str(out)])
    assert code == 0
    return csv, out, frame


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "biograd 0.1.0" in capsys.readouterr().out
    for command in ("train", "predict", "evaluate", "explain", "datasets", "demo"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "example" in text, command
    assert main(["--help"]) == 0
    assert "biograd train --dataset breast-cancer" in capsys.readouterr().out


def test_datasets_lists_name_size_task(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name, _, n, task in datasets.available():
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert f"{n:,}" in line and task in line


def test_train_csv_writes_every_file_and_honest_metrics(table_run):
    _, out, frame = table_run
    for name in pipeline.RUN_FILES:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds.columns[:3]) == ["id", "true", "predicted"]
    assert {"probability_disease", "probability_healthy"} <= set(preds.columns)
    # the test metrics are those of the written predictions (scikit-learn as the oracle)
    assert metrics["test"]["accuracy"] == pytest.approx(skm.accuracy_score(preds.true, preds.predicted))
    y = (preds.true == "healthy").astype(int)
    assert metrics["test"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, preds.probability_healthy), abs=1e-5
    )
    # 240 samples: cross-validated (5 folds, twice), every sample predicted by networks that never saw it
    evaluation, split = metrics["evaluation"], metrics["split"]
    assert (evaluation["scheme"], evaluation["folds"], evaluation["repeats"]) == ("cross-validation", 5, 2)
    assert evaluation["samples"] == len(preds) == 240 and sorted(preds.id) == sorted(frame["sample"])
    assert split["train"] + split["validation"] + split["test"] == 240 and split["test"] == 48
    # two features decide the label: they are ranked first
    assert metrics["test"]["accuracy"] > 0.8
    assert set(metrics["baselines"]) == {
        "constant guess (class frequencies)",
        "logistic regression",
        "random forest",
    }
    assert metrics["comparison"]["network_beats_baseline"] in (True, False)


def test_predict_is_the_same_with_shuffled_columns(table_run, tmp_path, capsys):
    _, out, frame = table_run
    rows = frame.head(40)
    shuffled = rows[["tissue", "noise_3", "gene_b", "sample", "noise_1", "gene_a", "noise_2"]]
    results = []
    for name, table in (("ordered", rows), ("shuffled", shuffled)):
        new = tmp_path / f"{name}.csv"
        table.to_csv(new, index=False)
        target = tmp_path / f"p_{name}.csv"
        assert main(["predict", str(out), str(new), "--out", str(target)]) == 0
        results.append(pd.read_csv(target))
    got, expected = results[1], results[0]
    assert list(got.id) == list(expected.id) == list(rows["sample"])
    assert list(got.predicted) == list(expected.predicted)
    np.testing.assert_allclose(got.probability_disease, expected.probability_disease, atol=1e-6)
    # the saved committee agrees with the out-of-fold predictions on most samples (it saw these ones)
    saved = pd.read_csv(out / "predictions.csv").set_index("id").loc[got.id]
    assert (saved.predicted.to_numpy() == got.predicted.to_numpy()).mean() >= 0.85


def test_evaluate_scores_the_saved_model(table_run, tmp_path, capsys):
    _, out, frame = table_run
    path = tmp_path / "labelled.csv"
    frame.head(60).to_csv(path, index=False)
    target = tmp_path / "p.csv"
    assert main(["predict", str(out), str(path), "--out", str(target)]) == 0
    predicted = pd.read_csv(target).predicted
    capsys.readouterr()
    assert main(["evaluate", str(out), str(path)]) == 0
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if line.strip().startswith("accuracy"))
    expected = skm.accuracy_score(frame.head(60).status, predicted)  # scikit-learn as the oracle
    assert float(line.split()[-1]) == pytest.approx(expected, abs=5e-4)
    assert "Confusion matrix" in text


def test_explain_ranks_the_two_driving_features_first(table_run, tmp_path, capsys):
    csv, out, _ = table_run
    ranking = tmp_path / "ranking.csv"
    assert main(["explain", str(out), str(csv), "--top", "5", "--out", str(ranking)]) == 0
    table = pd.read_csv(ranking)
    assert set(table.feature[:2]) == {"gene_a", "gene_b"}
    # planted rule: "disease" when 2a - 1.5b > 0. Two classes are explained towards the positive class
    # ("healthy" reads as the negative one, whatever the alphabet says): gene_a raises it, gene_b lowers it
    direction = dict(zip(table.feature, table.direction, strict=False))
    assert direction["gene_b"] < 0 < direction["gene_a"]
    assert "towards 'disease'" in capsys.readouterr().out
    assert main(["explain", str(out), str(csv), "--class", "healthy", "--out", str(ranking)]) == 0
    flipped = pd.read_csv(ranking)
    direction = dict(zip(flipped.feature, flipped.direction, strict=False))
    assert direction["gene_a"] < 0 < direction["gene_b"]


def test_unseen_category_at_predict_time_is_a_warning_not_a_crash(table_run, tmp_path, capsys):
    _, out, frame = table_run
    rows = frame.head(5).copy()
    rows.loc[0, "tissue"] = "kidney"
    path = tmp_path / "unseen.csv"
    rows.to_csv(path, index=False)
    assert main(["predict", str(out), str(path), "--out", str(tmp_path / "p.csv")]) == 0
    assert "kidney" in capsys.readouterr().err


def test_readme_first_command_breast_cancer(tmp_path, capsys):
    out = tmp_path / "runs" / "demo"
    assert main(["train", "--dataset", "breast-cancer", "--epochs", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "MLP 30 -> 32 -> 1 (relu, dropout 0.3)" in text and "logistic regression" in text
    assert ("does NOT beat" in text) or ("beats the best" in text) or ("No clear difference" in text)
    assert "5-fold cross-validation" in text
    assert (out / "report.html").exists()


def test_regression_dataset_predicts_in_original_units(tmp_path):
    data = pipeline.load_data(dataset="diabetes")
    result = pipeline.train(pipeline.prepare(data, pipeline.TrainConfig(epochs=40)))
    out = pipeline.write_run(result, tmp_path / "diabetes")
    preds = pd.read_csv(out / "predictions.csv")
    assert result.test_metrics["r2"] == pytest.approx(skm.r2_score(preds.true, preds.predicted), abs=1e-6)
    assert 25 <= preds.predicted.mean() <= 346  # disease progression units, not standardized ones
    assert result.test_metrics["r2"] > 0  # better than predicting the mean
    assert set(result.baselines) == {"constant guess (mean)", "ridge regression", "random forest"}


def test_splits_are_disjoint_stratified_and_test_first():
    data = pipeline.load_data(dataset="breast-cancer")
    config = pipeline.TrainConfig(test_fraction=0.25, val_fraction=0.2, seed=3, evaluation="holdout")
    prepared = pipeline.prepare(data, config)
    tr, va, te = prepared.train_idx, prepared.val_idx, prepared.test_idx
    assert len(set(tr) | set(va) | set(te)) == len(tr) + len(va) + len(te) == 569
    assert len(te) == int(np.ceil(0.25 * 569))
    for part in (tr, va, te):
        assert abs(data.y[part].mean() - data.y.mean()) < 0.02
    # the preprocessing means come from the training rows only
    means = {c["name"]: c["mean"] for c in prepared.preprocessing["table"]["numeric"]}
    expected = data.features.iloc[tr]["mean radius"].to_numpy(np.float64).mean()
    assert means["mean radius"] == pytest.approx(expected)


def write_fasta(path: Path, data, rows, with_labels: bool) -> None:
    lines = []
    for i in rows:
        label = f" label={data.target_names[data.y[i]]}" if with_labels else ""
        seq = data.sequences[i]
        lines += [f">{data.ids[i]}{label}", seq[:25].lower(), seq[25:]]  # multi-line, soft-masked
    path.write_text("\n".join(lines) + "\n")


def test_train_fasta_then_predict_and_explain(tmp_path, capsys):
    data = datasets.motifs(n=200)
    fasta = tmp_path / "train.fa"
    write_fasta(fasta, data, range(200), with_labels=True)
    out = tmp_path / "seq"
    assert main(["train", str(fasta), "--epochs", "15", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "CNN: Conv1d 4 -> 32 filters x 12" in text and "convolutional" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "dna" and metrics["test"]["accuracy"] > 0.8
    new = tmp_path / "new.fa"
    write_fasta(new, data, range(20), with_labels=False)
    assert main(["predict", str(out), str(new), "--out", str(tmp_path / "p.csv")]) == 0
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got.id) == data.ids[:20] and set(got.predicted) <= {"background", "motif"}
    assert main(["explain", str(out), str(new), "--top", "3"]) == 0
    assert "In-silico mutagenesis" in capsys.readouterr().out


def test_train_fasta_with_label_csv(tmp_path):
    data = datasets.motifs(n=120, seed=1)
    fasta = tmp_path / "seqs.fasta"
    write_fasta(fasta, data, range(120), with_labels=False)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": data.ids, "active": data.y}).to_csv(labels, index=False)
    out = tmp_path / "run"
    args = ["train", str(fasta), "--labels", str(labels), "--label-column", "active", "--epochs", "3"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["data"]["classes"] == {"0": 60, "1": 60}


def test_train_h5ad_and_predict_with_reordered_genes(tmp_path, capsys):
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(0)
    n, genes = 80, [f"GENE{i}" for i in range(8)]
    x = rng.normal(size=(n, 8)).astype(np.float32)
    cell_type = np.where(x[:, 0] + x[:, 3] > 0, "T cell", "B cell")
    adata = anndata.AnnData(
        X=x, obs=pd.DataFrame({"cell_type": pd.Categorical(cell_type)}, index=[f"cell{i}" for i in range(n)])
    )
    adata.var_names = genes
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    out = tmp_path / "run"
    assert (
        main(["train", str(path), "--target", "cell_type", "--epochs", "5", "--quiet", "--out", str(out)])
        == 0
    )
    reordered = adata[:, genes[::-1]].copy()
    new = tmp_path / "new.h5ad"
    reordered.write_h5ad(new)
    assert main(["predict", str(out), str(new), "--out", str(tmp_path / "p.csv")]) == 0
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got.id[:3]) == ["cell0", "cell1", "cell2"] and set(got.predicted) <= {"T cell", "B cell"}
    assert main(["evaluate", str(out), str(path)]) == 0


class _InterruptAt(Callback):
    """Presses Ctrl-C (raises KeyboardInterrupt) at the end of a given epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_interrupt_keeps_best_model_and_marks_report(tmp_path):
    data = pipeline.load_data(dataset="breast-cancer")
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=50))
    result = pipeline.train(prepared, callbacks=[_InterruptAt(4)])
    assert result.interrupted and result.history.epochs_run == 4
    out = pipeline.write_run(result, tmp_path / "run")
    assert "INTERRUPTED" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["training"]["interrupted"] is True


def test_ctrl_c_in_a_real_process_exits_130_with_outputs(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "biograd",
            "train",
            "--dataset",
            "motifs",
            "--epochs",
            "2000",
            "--patience",
            "2000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr.readline().startswith("epoch")  # training has begun (motifs: one held-out set)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "INTERRUPTED" in (out / "report.html").read_text()
    assert (out / "model.safetensors").exists()
