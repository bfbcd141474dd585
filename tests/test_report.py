"""report.html: one self-contained file with every section, for classification, regression and sequences."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from biograd import datasets, pipeline
from biograd.report import render_report
from biograd.training import Callback

SECTIONS = [
    "At a glance",
    "1. The data",
    "2. The network",
    "3. Training",
    "4. Test results",
    "5. Network vs classical baselines",
    "6. What drove the predictions",
    "7. Reproducibility",
]


def run(data, **config) -> pipeline.TrainResult:
    return pipeline.train(pipeline.prepare(data, pipeline.TrainConfig(**config)), command="biograd train x")


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "external resource"
    assert "<script" not in page and "@import" not in page
    for png in images(page):
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


@pytest.fixture(scope="module")
def classification() -> pipeline.TrainResult:
    return run(pipeline.load_data(dataset="breast-cancer"), epochs=8)


def test_classification_report_has_every_section(classification):
    page = render_report(classification)
    assert_self_contained(page)
    for title in SECTIONS:
        assert title in page, title
    for text in (
        "569",
        "benign",
        "malignant",
        "ROC AUC",
        "balanced accuracy",
        "confusion matrix",
        "logistic regression",
        "random forest",
        "Diagnosis:",
        "trainable parameters",
        "biograd train x",
        "scikit-learn",
        "numpy",
        "python",
        "worst",
    ):
        assert text in page, text
    # balance, curves, confusion matrix, ROC/PR, feature ranking; the network as an inline neuron diagram
    assert len(images(page)) >= 5
    assert 'class="neuron"' in page and "<svg" in page
    assert "INTERRUPTED" not in page


def test_report_numbers_are_the_results(classification):
    page = render_report(classification)
    m = classification.test_metrics
    assert f"{m['roc_auc']:.3f}" in page and f"{m['balanced_accuracy']:.3f}" in page
    assert classification.comparison["sentence"].replace("'", "&#x27;") in page
    cm = np.asarray(m["confusion_matrix"])
    assert cm.sum() == len(classification.prepared.test_idx)


def test_multiclass_report(tmp_path):
    rng = np.random.default_rng(0)
    import pandas as pd

    frame = pd.DataFrame(rng.normal(size=(150, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = np.array(["x", "y", "z"])[np.argmax(frame[["a", "b", "c"]].to_numpy(), axis=1)]
    path = tmp_path / "three.csv"
    frame.to_csv(path, index=False)
    result = run(pipeline.load_data(path, "kind"), epochs=10)
    assert np.asarray(result.test_metrics["confusion_matrix"]).shape == (3, 3)
    page = render_report(result)
    assert_self_contained(page)
    assert "one vs rest" in page and "MLP 4 -&gt; 32 -&gt; 3" in page


def test_regression_report():
    result = run(pipeline.load_data(dataset="diabetes"), epochs=5)
    page = render_report(result)
    assert_self_contained(page)
    for text in ("R^2", "MAE", "RMSE", "predicted vs true", "ridge regression", "disease_progression"):
        assert text in page, text


def test_sequence_report_shows_attribution_map_and_mutagenesis():
    data = pipeline._load_dataset("motifs", "auto")
    small = datasets.motifs(n=300)
    data.x, data.y, data.ids, data.sequences = small.x, small.y, small.ids, small.sequences
    result = run(data, epochs=10)
    page = render_report(result)
    assert_self_contained(page)
    assert "In-silico mutagenesis" in page or "in-silico mutagenesis" in page
    assert "sequence attribution map" in page and "flattened one-hot" in page


class _Stop(Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


def test_interrupted_report_is_marked():
    prepared = pipeline.prepare(pipeline.load_data(dataset="breast-cancer"), pipeline.TrainConfig(epochs=30))
    result = pipeline.train(prepared, callbacks=[_Stop()])
    page = render_report(result)
    assert "INTERRUPTED" in page and "INTERRUPTED (Ctrl-C) after epoch 2" in page


def test_padded_protein_sequences_report():
    # peptides are 8-56 residues, zero-padded: the mutagenesis axis labels must still fit
    result = run(pipeline.load_data(dataset="peptides"), epochs=2)
    page = render_report(result)
    assert_self_contained(page)
    assert "PROTEIN" in page and "in-silico mutagenesis" in page
