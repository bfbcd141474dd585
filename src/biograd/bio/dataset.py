"""Dataset: the data, its labels and what they mean, as every biograd reader returns them.

One record for "the data as read", whatever the source: the bundled datasets, :func:`~biograd.bio.load_table`
(CSV/TSV), :func:`~biograd.bio.load_fasta` and :func:`~biograd.bio.read_h5ad` all return a Dataset, and
``biograd train`` works on it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The kinds of sequence data (one-hot, channels first); every other Dataset is a ``"table"``.
SEQUENCE_KINDS = ("dna", "rna", "protein")


@dataclass
class Dataset:
    """Inputs, targets and their names, with a description of where the data came from.

    Attributes:
        x: the network's input. Tables: float32 (samples, features). Sequences: one-hot float32
            (samples, channels, length), PyTorch's channels-first layout for Conv1d. None for a table
            read with its raw columns (``features``): a :class:`~biograd.bio.Preprocessor` learned on the
            training rows turns those into numbers.
        y: targets. Classification: int64 class codes 0..k-1 (names in ``target_names``);
            regression: float32 values. None when the data came without labels (for prediction).
        feature_names: column names (tables, genes), or the alphabet's letters for sequences (the
            channels of the one-hot encoding: ``feature_names[c]`` is the letter of ``x[:, c, :]``).
        target_names: class names in code order (``target_names[1]`` is the class coded 1); empty for
            regression.
        description: where the data come from and how they were changed.
        task: "classification" or "regression".
        kind: "table", "dna", "rna" or "protein".
        name: a short name ("breast-cancer", or the file name).
        target_name: what y measures (a column name such as "malignant" or "disease_progression").
        sequences: the sequences as strings (sequence sets only).
        ids: one identifier per sample (FASTA record IDs, an ID column, cell barcodes), or None.
        extra: anything else a loader keeps, e.g. ``extra["motif_positions"]`` for ``motifs()``.
        features: a table's input columns as read (pandas DataFrame: unscaled, categories as text), or
            None.
        id_column: the table column the ``ids`` came from, or None.
        source: where the data were read from (a path, or "bundled dataset 'motifs'").
        input_format: "csv", "fasta", "h5ad" or "dataset" (bundled).
        layer: the .h5ad layer read instead of X, or None.
        groups: one group label per sample (a patient, a donor, a sequence family, the first of a set of
            identical samples), or None: samples of one group are never split between training and test.
            The one source of the grouping for every split (holdout and cross-validation).
        grouping: how ``groups`` were made, in one sentence for the report ("" when there are none).
    """

    x: np.ndarray | None
    y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]
    description: str
    task: str
    kind: str
    name: str = ""
    target_name: str = "target"
    sequences: list[str] | None = None
    ids: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    features: Any = None
    id_column: str | None = None
    source: str = ""
    input_format: str = ""
    layer: str | None = None
    groups: np.ndarray | None = None
    grouping: str = ""

    @property
    def n_samples(self) -> int:
        if self.x is not None:
            return int(self.x.shape[0])
        if self.features is not None:
            return int(self.features.shape[0])
        return len(self.y) if self.y is not None else 0

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_KINDS

    @property
    def n_features(self) -> int:
        """Inputs per sample: columns of ``x`` (letters x positions for sequences), else raw columns."""
        if self.x is not None:
            return int(np.prod(self.x.shape[1:]))
        return int(self.features.shape[1])

    def class_counts(self) -> dict[str, int]:
        """Samples per class name, in code order; empty for regression or unlabelled data."""
        if self.task != "classification" or self.y is None:
            return {}
        counts = np.bincount(self.y, minlength=len(self.target_names))
        return {name: int(c) for name, c in zip(self.target_names, counts, strict=True)}

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        classes = f", classes={self.target_names}" if self.task == "classification" else ""
        shape = f"x shape={self.x.shape}" if self.x is not None else f"features={self.n_features}"
        return f"Dataset(name={self.name!r}, kind={self.kind!r}, task={self.task!r}, {shape}{classes})"

    def to_frame(self) -> Any:
        """A pandas DataFrame, one row per sample: the features (or the ID and sequence for sequence
        sets), then the target, with class names rather than codes for classification."""
        import pandas as pd

        columns: dict[str, Any] = {}
        if self.ids is not None:
            columns["id"] = list(self.ids)
        if self.sequences is not None:
            columns["sequence"] = list(self.sequences)
            for key, value in self.extra.items():
                if isinstance(value, np.ndarray) and value.shape == (self.n_samples,):
                    columns[key] = value
            frame = pd.DataFrame(columns)
        elif self.x is None:
            frame = pd.concat([pd.DataFrame(columns), self.features.reset_index(drop=True)], axis=1)
        else:
            frame = pd.concat(
                [
                    pd.DataFrame(columns),
                    pd.DataFrame(self.x.reshape(self.n_samples, -1), columns=self.feature_names),
                ],
                axis=1,
            )
        if self.y is not None:
            if self.task == "classification" and self.target_names:
                frame[self.target_name] = np.asarray(self.target_names, dtype=object)[self.y]
            else:
                frame[self.target_name] = self.y
        return frame
