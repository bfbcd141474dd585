"""Bundled datasets: shapes, labels and descriptions against scikit-learn (the oracle) and the generator's
own record of where the motif was planted."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from biograd import datasets


def test_breast_cancer_is_relabelled_so_one_is_malignant():
    data = datasets.breast_cancer()
    raw = load_breast_cancer()
    assert data.x.shape == (569, 30) and data.x.dtype == np.float32
    np.testing.assert_allclose(data.x, raw.data, rtol=1e-6)
    assert list(raw.target_names) == ["malignant", "benign"]
    np.testing.assert_array_equal(data.y, 1 - raw.target)
    assert data.target_names == ["benign", "malignant"] and int(data.y.sum()) == 212
    assert "1 = malignant" in data.description
    assert data.task == "classification" and data.kind == "table"
    frame = data.to_frame()
    assert frame.shape == (569, 31) and (frame["malignant"] == "malignant").sum() == 212


def test_diabetes_original_units():
    data = datasets.diabetes()
    raw = load_diabetes(scaled=False)
    np.testing.assert_allclose(data.x, raw.data, rtol=1e-6)
    np.testing.assert_allclose(data.y, raw.target)
    assert data.x[:, 0].max() > 50  # age in years, not scaled
    assert data.task == "regression" and data.target_names == []
    scaled = datasets.diabetes(scaled=True)
    np.testing.assert_allclose(scaled.x, load_diabetes().data, rtol=1e-5, atol=1e-7)


def test_motifs_plants_the_motif_where_it_says():
    data = datasets.motifs(n=200, length=40, seed=3)
    motif = "CGACCGAACTCC"
    assert data.x.shape == (200, 4, 40) and data.kind == "dna"
    assert int(data.y.sum()) == 100
    positions = data.extra["motif_positions"]
    for seq, label, pos in zip(data.sequences, data.y, positions, strict=True):
        assert len(seq) == 40 and set(seq) <= set("ACGT")
        if label == 1:
            assert seq[pos : pos + len(motif)] == motif
        else:
            assert pos == -1 and motif not in seq
    # x is the one-hot of the sequences, channels A, C, G, T
    letters = np.array(list("ACGT"))
    assert "".join(letters[data.x[7].argmax(axis=0)]) == data.sequences[7]
    np.testing.assert_array_equal(data.x.sum(axis=1), 1.0)
    # positions spread over the whole allowed range; same seed, same data
    assert positions[data.y == 1].min() <= 3 and positions[data.y == 1].max() >= 25
    np.testing.assert_array_equal(datasets.motifs(n=200, length=40, seed=3).x, data.x)
    assert not np.array_equal(datasets.motifs(n=200, length=40, seed=4).x, data.x)
    assert data.to_frame().columns.tolist() == ["id", "sequence", "motif_positions", "has_motif"]


def test_motifs_validates_parameters():
    with pytest.raises(ValueError, match="'length' parameter of motifs"):
        datasets.motifs(length=5)
    with pytest.raises(ValueError, match="'motif' parameter"):
        datasets.motifs(motif="ACGX")


def test_peptides_bundled_with_licence():
    data = datasets.peptides()
    assert data.x.shape == (412, 20, 56) and data.kind == "protein"
    assert np.bincount(data.y).tolist() == [206, 206]
    assert data.sequences[0] == "AAGAATVLLVIVLLAGSYLAVLA" and data.y[0] == 0
    # each position holds exactly one amino acid up to the peptide's length, zeros after it
    lengths = np.array([len(s) for s in data.sequences])
    np.testing.assert_array_equal(data.x.sum(axis=(1, 2)), lengths)
    from importlib import resources

    licence = resources.files("biograd.datasets").joinpath("data/LICENSE-modlamp.txt").read_text("utf-8")
    assert "BSD 3-Clause" in licence and "Müller" in licence
    assert "modlAMP" in data.description


def test_registry_for_the_command_line():
    listed = datasets.available()
    assert [row[0] for row in listed] == ["breast-cancer", "diabetes", "motifs", "peptides"]
    for name, description, n, task in listed:
        data = datasets.load(name)
        assert data.n_samples == n and data.task == task and description
    assert datasets.load("breast_cancer").name == "breast-cancer"
    with pytest.raises(ValueError, match="Did you mean 'motifs'"):
        datasets.load("motif")


def test_import_stays_light():
    code = (
        "import sys, biograd.datasets, biograd.bio, biograd.explain; "
        "print([m for m in ('pandas', 'sklearn', 'anndata', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sub_packages_are_reachable_from_import_biograd_without_importing_them_up_front():
    code = (
        "import sys, biograd; "
        "before = [m for m in ('biograd.datasets', 'biograd.pipeline') if m in sys.modules]; "
        "print(before, biograd.datasets.load('diabetes').n_samples, callable(biograd.pipeline.load_data))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] 442 True"


def test_import_biograd_loads_neither_numpy_random_nor_the_optimizers_until_used():
    """numpy.random is a third of numpy 2's own import time: the generator is made on first draw, and the
    optimizers load on first use of biograd.optim (seeding and a draw still work as before). numpy 1.x
    imports numpy.random itself, so it counts only when ``import numpy`` alone leaves it out."""
    code = (
        "import sys, numpy; by_numpy = {'numpy.random'} & set(sys.modules); import biograd; "
        "before = [m for m in ('numpy.random', 'biograd.optim', 'html') if m in sys.modules and "
        "m not in by_numpy]; "
        "biograd.manual_seed(0); a = biograd.nn.Linear(2, 2).weight.data.copy(); "
        "biograd.manual_seed(0); b = biograd.nn.Linear(2, 2).weight.data; "
        "print(before, bool((a == b).all()), biograd.optim.SGD.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] True SGD"
