"""Duplicates and relatives: samples that must stay on the same side of every split.

A sample that appears twice (the same table row, the same sequence) lets a model "predict" a test sample by
remembering its copy from training, and related sequences (members of one protein family, promoters of
paralogous genes) leak the same way. An honest evaluation keeps each group of copies or relatives together:
all in training or all in test.

- :func:`find_duplicates` finds exact copies (and copies whose labels disagree).
- :func:`cluster_sequences` groups related sequences by shared k-mers (greedy, like CD-HIT's short-word
  filter): a sequence joins the first representative with which it shares at least ``min_shared`` of its
  k-mers, otherwise it starts a new cluster.
- :func:`kmer_composition` turns sequences into k-mer frequencies, the features of a composition baseline.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.bio.sequences import ALPHABETS

#: k used for relatives when none is given: long enough that sharing k-mers by chance is rare (a random
#: 25-residue peptide shares ~7% of its 3-mers with another; a random 1 kb promoter ~2% of its 8-mers).
DEFAULT_K = {"protein": 3, "dna": 8, "rna": 8}
#: Two sequences at identity q share about q**k of their k-mers, so 0.3 shared k-mers means about 67%
#: identity for proteins (k = 3) and 86% for DNA (k = 8).
DEFAULT_MIN_SHARED = 0.3


def approximate_identity(min_shared: float, k: int) -> float:
    """The sequence identity at which two sequences share ``min_shared`` of their k-mers: min_shared**(1/k)
    (each k-mer survives when all k of its letters do)."""
    return float(min_shared) ** (1.0 / int(k))


@dataclass
class Duplicates:
    """What :func:`find_duplicates` found. ``group`` gives each sample the index of its first copy."""

    group: np.ndarray
    n_samples: int
    copies: int  # samples that repeat an earlier one
    groups: list[list[int]] = field(default_factory=list)  # each group of >= 2 identical samples
    conflicting: list[list[int]] = field(default_factory=list)  # groups whose labels disagree

    @property
    def any(self) -> bool:
        return self.copies > 0

    def describe(self, ids: Sequence[Any] | None = None, what: str = "samples") -> str:
        """A one-paragraph account for warnings and the report."""
        if not self.any:
            return f"No duplicate {what}."

        def name(i: int) -> str:
            return str(ids[i]) if ids is not None else f"#{i + 1}"

        text = (
            f"{self.copies} of {self.n_samples} {what} are exact copies of another one "
            f"({len(self.groups)} groups); copies are kept on the same side of every split."
        )
        if self.conflicting:
            shown = "; ".join(", ".join(name(i) for i in g[:4]) for g in self.conflicting[:3])
            text += f" {len(self.conflicting)} groups carry different labels (e.g. {shown})."
        return text


def _row_keys(x: np.ndarray) -> np.ndarray:
    """One hashable key per row (its bytes), so identical rows get identical keys."""
    x = np.ascontiguousarray(x.reshape(len(x), -1))
    return x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()


def find_duplicates(samples: Any, labels: Any = None) -> Duplicates:
    """Exact duplicates among ``samples`` (a 2-D array of table rows, or a list of sequences).

    Sequences are compared in upper case. With ``labels``, groups whose members disagree are listed in
    ``conflicting``: such a sample cannot be predicted right both times.
    """
    if isinstance(samples, np.ndarray) and samples.dtype.kind in "biuf":
        keys: Any = _row_keys(samples)
    else:
        keys = np.array([str(s).upper() for s in samples], dtype=object)
    n = len(keys)
    first: dict[Any, int] = {}
    group = np.empty(n, dtype=np.int64)
    for i, key in enumerate(keys.tolist() if isinstance(keys, np.ndarray) else keys):
        group[i] = first.setdefault(key, i)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group.tolist()):
        members.setdefault(g, []).append(i)
    groups = [m for m in members.values() if len(m) > 1]
    conflicting = []
    if labels is not None:
        lab = np.asarray(labels)
        conflicting = [g for g in groups if len({str(v) for v in lab[g]}) > 1]
    return Duplicates(group, n, n - len(members), groups, conflicting)


def _codes(seq: str, lookup: np.ndarray) -> np.ndarray:
    raw = np.frombuffer(seq.upper().encode("ascii", "replace"), dtype=np.uint8)
    return lookup[raw]


def _lookup(alphabet: str) -> tuple[np.ndarray, int]:
    letters = ALPHABETS[alphabet]
    lookup = np.full(256, -1, dtype=np.int64)
    for i, letter in enumerate(letters):
        lookup[ord(letter)] = i
    if alphabet == "dna":
        lookup[ord("U")] = letters.index("T")
    return lookup, len(letters)


def _kmer_index(codes: np.ndarray, k: int, size: int) -> np.ndarray:
    """The index of each k-mer (base-``size`` number of its letters); windows with an unknown letter
    (code -1) are left out."""
    if len(codes) < k:
        return np.empty(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)
    valid = (windows >= 0).all(axis=1)
    powers = size ** np.arange(k - 1, -1, -1, dtype=np.int64)
    return (windows[valid] * powers).sum(axis=1)


def kmer_composition(
    sequences: Sequence[str], alphabet: str, k: Sequence[int] = (1, 2)
) -> tuple[np.ndarray, list[str]]:
    """k-mer frequencies per sequence: for each k, the counts of every k-mer divided by the number of
    k-mers in the sequence (so long and short sequences compare). Returns (samples x features, names)."""
    if alphabet not in ALPHABETS:
        raise ValueError(f"alphabet must be one of {', '.join(ALPHABETS)}; got {alphabet!r}.")
    lookup, size = _lookup(alphabet)
    letters = ALPHABETS[alphabet]
    blocks, names = [], []
    for kk in k:
        width = size**kk
        block = np.zeros((len(sequences), width), dtype=np.float32)
        for row, seq in enumerate(sequences):
            index = _kmer_index(_codes(seq, lookup), kk, size)
            if len(index):
                block[row] = np.bincount(index, minlength=width) / len(index)
        blocks.append(block)
        for code in range(width):
            digits = [(code // size**p) % size for p in range(kk - 1, -1, -1)]
            names.append("".join(letters[d] for d in digits))
    return np.concatenate(blocks, axis=1), names


def cluster_sequences(
    sequences: Sequence[str],
    alphabet: str,
    k: int | None = None,
    min_shared: float = DEFAULT_MIN_SHARED,
) -> np.ndarray:
    """Group related sequences: a cluster index per sequence (0, 1, ...).

    Greedy, longest first, as CD-HIT does: each sequence is compared with the representatives (first
    members) of the clusters so far and joins the first one that contains at least ``min_shared`` of its
    distinct k-mers; otherwise it becomes a new representative. An inverted index from k-mer to
    representatives keeps this fast for tens of thousands of sequences. Exact copies always share a
    cluster. Defaults: k = 3 for protein and 8 for DNA/RNA, ``min_shared`` 0.3: about 67% and 86% identity
    (:func:`approximate_identity`).
    """
    if not 0 < min_shared <= 1:
        raise ValueError(f"min_shared must be in (0, 1]; got {min_shared!r}.")
    if alphabet not in ALPHABETS:
        raise ValueError(f"alphabet must be one of {', '.join(ALPHABETS)}; got {alphabet!r}.")
    k = int(k or DEFAULT_K[alphabet])
    lookup, size = _lookup(alphabet)
    kmers = [np.unique(_kmer_index(_codes(s, lookup), k, size)) for s in sequences]
    order = sorted(range(len(sequences)), key=lambda i: (-len(kmers[i]), i))
    cluster = np.full(len(sequences), -1, dtype=np.int64)
    index: dict[int, list[int]] = {}  # k-mer -> clusters whose representative holds it
    exact: dict[str, int] = {}
    n_clusters = 0
    for i in order:
        key = sequences[i].upper()
        if key in exact:
            cluster[i] = exact[key]
            continue
        own = kmers[i]
        best = -1
        if len(own):
            # every cluster id once per k-mer it shares with this sequence, counted in one bincount
            hits = np.fromiter(
                itertools.chain.from_iterable(index.get(km, ()) for km in own.tolist()), dtype=np.int64
            )
            if hits.size:
                enough = np.flatnonzero(np.bincount(hits) >= min_shared * len(own))
                best = int(enough[0]) if enough.size else -1
        if best < 0:
            best = n_clusters
            n_clusters += 1
            for km in own.tolist():
                index.setdefault(km, []).append(best)
        cluster[i] = best
        exact[key] = best
    return cluster


def connected_groups(*labelings: Any) -> np.ndarray:
    """One group index per sample (0, 1, ... in order of first appearance) joining every labeling given:
    two samples share a group when any labeling puts them together, directly or through a chain (a
    patient's duplicated row copied into another patient's rows joins both patients). ``None`` labelings
    are skipped.

    >>> connected_groups(["a", "a", "b", "c"], [0, 1, 1, 2]).tolist()
    [0, 0, 0, 1]
    """
    given = [np.asarray(lab) for lab in labelings if lab is not None]
    if not given:
        raise ValueError("connected_groups needs at least one labeling.")
    n = len(given[0])
    if any(len(lab) != n for lab in given):
        raise ValueError(f"Every labeling needs one label per sample ({n}); got {[len(g) for g in given]}.")
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for lab in given:
        first: dict[Any, int] = {}
        for i, value in enumerate(lab.tolist()):
            j = first.setdefault(value, i)
            if j != i:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = np.array([root(i) for i in range(n)])
    _, first_seen, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first_seen))
    return rank[inverse].astype(np.int64)
