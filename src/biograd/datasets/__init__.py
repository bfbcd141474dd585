"""Data that ships with biograd, all offline: two tables and two sequence sets to learn on.

=================  ==========================================================  =============  ========
name (CLI)         what                                                        task           kind
=================  ==========================================================  =============  ========
breast-cancer      Wisconsin diagnostic breast cancer, 569 tumours x 30         classification table
                   cell-nucleus measurements (1 = malignant)
diabetes           442 patients x 10 baseline measurements, disease             regression     table
                   progression after one year (original units)
motifs             generated DNA, half with a planted 12-base motif             classification dna
peptides           412 antimicrobial vs transmembrane peptides (modlAMP)        classification protein
=================  ==========================================================  =============  ========

>>> from biograd import datasets
>>> data = datasets.breast_cancer()
>>> data.x.shape, data.target_names
((569, 30), ['benign', 'malignant'])
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from importlib import resources

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.bio.sequences import ALPHABETS, one_hot


def breast_cancer() -> Dataset:
    """The Wisconsin diagnostic breast cancer data (scikit-learn's bundled copy, from the UCI repository).

    569 fine-needle aspirates of breast masses; 30 features describe the cell nuclei in the image (mean,
    standard error and worst value of radius, texture, perimeter, area, smoothness, ...). Relabelled so
    that 1 = malignant (212) and 0 = benign (357); scikit-learn's own coding is the reverse.
    """
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    y = (raw.target == 0).astype(np.int64)  # sklearn: 0 = malignant, 1 = benign
    return Dataset(
        x=raw.data.astype(np.float32),
        y=y,
        feature_names=[str(n) for n in raw.feature_names],
        target_names=["benign", "malignant"],
        description=(
            "Wisconsin diagnostic breast cancer (scikit-learn's bundled copy of the UCI data): 569 breast "
            "mass aspirates, 30 measurements of the cell nuclei. Relabelled so 1 = malignant (212) and "
            "0 = benign (357); scikit-learn codes them the other way round."
        ),
        task="classification",
        kind="table",
        name="breast-cancer",
        target_name="malignant",
    )


def diabetes(scaled: bool = False) -> Dataset:
    """scikit-learn's diabetes data: 442 patients, 10 baseline variables (age, sex, body mass index,
    mean blood pressure and six blood serum measurements s1-s6), and a quantitative measure of disease
    progression one year later (the target, 25-346).

    ``scaled=False`` (default) gives the original units; ``scaled=True`` scikit-learn's mean-centred
    features scaled by sqrt(n_samples) times their standard deviation.
    """
    from sklearn.datasets import load_diabetes

    raw = load_diabetes(scaled=scaled)
    units = "scikit-learn's scaled features" if scaled else "original units"
    return Dataset(
        x=raw.data.astype(np.float32),
        y=raw.target.astype(np.float32),
        feature_names=[str(n) for n in raw.feature_names],
        target_names=[],
        description=(
            f"Diabetes (scikit-learn's bundled copy, Efron et al. 2004), {units}: 442 patients, 10 baseline "
            "variables (age, sex, bmi, bp = mean blood pressure, s1-s6 = blood serum measurements); the "
            "target is disease progression one year after baseline."
        ),
        task="regression",
        kind="table",
        name="diabetes",
        target_name="disease_progression",
    )


def motifs(n: int = 2000, length: int = 50, motif: str = "CGACCGAACTCC", seed: int = 0) -> Dataset:
    """Generated DNA: half of the sequences carry a planted transcription-factor-like motif.

    Every sequence is ``length`` random bases (A, C, G, T equally likely). A random half (label 1,
    "motif") gets ``motif`` written over it at a random position; the start positions are kept in
    ``extra["motif_positions"]`` (-1 for sequences without it). Random background can contain the motif
    by chance only with negligible probability (4^-12 per position for the default). The classic task
    for a convolutional network: a filter learns the motif, global max pooling finds it anywhere.

    x is one-hot (n, 4, length), channels A, C, G, T.
    """
    motif = motif.upper()
    if not motif or set(motif) - set("ACGT"):
        raise ValueError(
            f"The 'motif' parameter of motifs must be a non-empty A/C/G/T string. Got {motif!r} instead."
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"The 'n' parameter of motifs must be an int >= 2. Got {n!r} instead.")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < len(motif):
        raise ValueError(
            f"The 'length' parameter of motifs must be an int >= the motif length ({len(motif)}). "
            f"Got {length!r} instead."
        )
    rng = np.random.default_rng(seed)
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    codes = bases[rng.integers(0, 4, size=(n, length))]
    y = np.zeros(n, dtype=np.int64)
    y[rng.permutation(n)[: n // 2]] = 1
    positions = np.where(y == 1, rng.integers(0, length - len(motif) + 1, size=n), -1)
    planted = np.frombuffer(motif.encode(), dtype=np.uint8)
    for i in np.flatnonzero(y):
        codes[i, positions[i] : positions[i] + len(motif)] = planted
    seqs = [row.tobytes().decode() for row in codes]
    return Dataset(
        x=one_hot(seqs, "dna"),
        y=y,
        feature_names=list(ALPHABETS["dna"]),
        target_names=["background", "motif"],
        description=(
            f"Generated DNA (seed {seed}): {n} random sequences of {length} bases; a random half (label 1) "
            f"carry the motif {motif} at a random position (kept in extra['motif_positions'])."
        ),
        task="classification",
        kind="dna",
        name="motifs",
        target_name="has_motif",
        sequences=seqs,
        ids=[f"seq{i + 1}" for i in range(n)],
        extra={"motif_positions": positions.astype(np.int64), "motif": motif},
    )


def peptides() -> Dataset:
    """Antimicrobial peptides (AMP, label 1) vs transmembrane sequences (TM, label 0): 206 each.

    Bundled from modlAMP (BSD-3-Clause; Müller et al. 2017, Bioinformatics 33:2753; data compiled by
    Schneider et al. 2016, Mol. Inf.); the attribution and licence ship alongside the data file
    (``biograd/datasets/data/LICENSE-modlamp.txt``). Peptides are 8-56 residues long: x is one-hot
    (412, 20, 56), shorter peptides padded with zeros at the end.
    """
    text = resources.files("biograd.datasets").joinpath("data/peptides_amp_vs_tm.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    seqs = [r["sequence"] for r in rows]
    y = np.array([1 if r["label"] == "AMP" else 0 for r in rows], dtype=np.int64)
    with warnings.catch_warnings():  # unequal lengths are expected here and documented above
        warnings.simplefilter("ignore")
        x = one_hot(seqs, "protein")
    return Dataset(
        x=x,
        y=y,
        feature_names=list(ALPHABETS["protein"]),
        target_names=["transmembrane", "antimicrobial"],
        description=(
            "Peptides from modlAMP (BSD-3-Clause, Müller et al. 2017; Schneider et al. 2016): 206 "
            "antimicrobial peptides (label 1) and 206 transmembrane protein segments (label 0), 8-56 amino "
            f"acids, one-hot encoded and zero-padded at the end to {x.shape[2]}."
        ),
        task="classification",
        kind="protein",
        name="peptides",
        target_name="antimicrobial",
        sequences=seqs,
        ids=[f"pep{i + 1}" for i in range(len(seqs))],
    )


# name on the command line -> (loader, one-line description, number of samples, task)
_REGISTRY: dict[str, tuple[Callable[[], Dataset], str, int, str]] = {
    "breast-cancer": (
        breast_cancer,
        "Wisconsin breast cancer: 30 nucleus measurements, 1 = malignant",
        569,
        "classification",
    ),
    "diabetes": (
        diabetes,
        "Diabetes: 10 baseline variables -> disease progression after a year",
        442,
        "regression",
    ),
    "motifs": (
        motifs,
        "Generated DNA (50 bases): does it contain the motif CGACCGAACTCC?",
        2000,
        "classification",
    ),
    "peptides": (
        peptides,
        "Peptides: antimicrobial vs transmembrane (modlAMP, BSD-3)",
        412,
        "classification",
    ),
}


def available() -> list[tuple[str, str, int, str]]:
    """The bundled datasets as (command-line name, description, number of samples, task)."""
    return [(name, desc, n, task) for name, (_, desc, n, task) in _REGISTRY.items()]


def load(name: str) -> Dataset:
    """Load a bundled dataset by its command-line name ("breast-cancer", "diabetes", "motifs",
    "peptides"); underscores work too."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(key, list(_REGISTRY), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown dataset {name!r}.{hint} Available: {', '.join(_REGISTRY)}.")
    return _REGISTRY[key][0]()


__all__ = ["Dataset", "available", "breast_cancer", "diabetes", "load", "motifs", "peptides"]
