"""bio.relatives: duplicates (against pandas), k-mer composition (against scikit-learn), related sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biograd.bio.relatives import cluster_sequences, find_duplicates, kmer_composition
from biograd.bio.sequences import ALPHABETS


def test_duplicate_rows_match_pandas_and_conflicting_labels_are_named():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(60, 3)).astype(np.float64)  # few values: many repeated rows
    labels = rng.integers(0, 2, 60)
    found = find_duplicates(x, labels)
    frame = pd.DataFrame(x)
    assert found.copies == int(frame.duplicated().sum())
    for g in found.groups:
        assert len({tuple(x[i]) for i in g}) == 1
    conflicting = {tuple(g) for g in found.conflicting}
    for g in found.groups:
        assert (tuple(g) in conflicting) == (len(set(labels[g])) > 1)
    assert "exact copies" in found.describe()


def test_duplicate_sequences_ignore_case():
    found = find_duplicates(["ACGT", "acgt", "GGGG", "ACGA"], labels=["a", "b", "a", "a"])
    assert found.copies == 1 and found.groups == [[0, 1]] and found.conflicting == [[0, 1]]
    assert found.group.tolist() == [0, 0, 2, 3]
    assert "p0, p1" in found.describe(ids=["p0", "p1", "p2", "p3"])
    assert not find_duplicates(["A", "C"]).any


@pytest.mark.parametrize("k", [1, 2, 3])
def test_kmer_composition_equals_scikit_learn_character_ngram_counts(k):
    from sklearn.feature_extraction.text import CountVectorizer

    rng = np.random.default_rng(k)
    seqs = ["".join(rng.choice(list("ACGT"), size=rng.integers(5, 30))) for _ in range(20)]
    got, names = kmer_composition(seqs, "dna", k=(k,))
    vec = CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=False)
    counts = vec.fit_transform(seqs).toarray()
    for j, kmer in enumerate(vec.get_feature_names_out()):
        col = names.index(kmer)
        np.testing.assert_allclose(got[:, col], counts[:, j] / counts.sum(axis=1), rtol=1e-6)
    assert len(names) == 4**k


def test_kmer_composition_skips_unknown_letters_and_short_sequences():
    got, _ = kmer_composition(["ANA", "A"], "dna", k=(2,))
    assert got[0].sum() == 0 and got[1].sum() == 0
    got1, _ = kmer_composition(["ANA"], "dna", k=(1,))
    assert got1[0, 0] == 1.0  # two A's counted, N left out


def _mutate(seq: str, rate: float, rng: np.random.Generator) -> str:
    letters = ALPHABETS["protein"]
    return "".join(rng.choice(list(letters)) if rng.random() < rate else c for c in seq)


def test_related_sequences_share_a_cluster_and_unrelated_ones_do_not():
    rng = np.random.default_rng(1)
    letters = list(ALPHABETS["protein"])
    families = ["".join(rng.choice(letters, size=40)) for _ in range(5)]
    seqs, family = [], []
    for f, parent in enumerate(families):
        for _ in range(6):
            seqs.append(_mutate(parent, 0.05, rng))  # ~95% identical to the parent
            family.append(f)
    seqs.append(seqs[0].lower())  # an exact copy in other case
    family.append(0)
    cluster = cluster_sequences(seqs, "protein")
    family = np.array(family)
    for f in range(5):
        assert len(set(cluster[family == f])) == 1
    assert len(set(cluster)) == 5


def test_cluster_sequences_is_fast_enough_for_many_peptides():
    # 5,000 random 25-residue peptides: each its own cluster (a smoke test of the inverted index)
    rng = np.random.default_rng(2)
    letters = np.array(list(ALPHABETS["protein"]))
    seqs = ["".join(row) for row in rng.choice(letters, size=(5000, 25))]
    cluster = cluster_sequences(seqs, "protein")
    assert len(set(cluster)) > 4900


def test_distant_relatives_below_the_stated_identity_are_not_grouped():
    from biograd.bio.relatives import approximate_identity

    rng = np.random.default_rng(3)
    letters = list(ALPHABETS["protein"])
    parent = "".join(rng.choice(letters, size=60))
    distant = [_mutate(parent, 0.6, rng) for _ in range(10)]  # ~40% identical: far below ~67%
    assert approximate_identity(0.3, 3) == pytest.approx(0.669, abs=0.001)
    assert len(set(cluster_sequences([parent, *distant], "protein"))) >= 10
