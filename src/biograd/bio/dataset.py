"""Dataset: the data, its labels and what they mean, as every biograd loader returns them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Dataset:
    """Inputs, targets and their names, with a description of where the data came from.

    Attributes:
        x: the network's input. Tables: float32 (samples, features). Sequences: one-hot float32
            (samples, channels, length), PyTorch's channels-first layout for Conv1d.
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
    """

    x: np.ndarray
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

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[0])

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        classes = f", classes={self.target_names}" if self.task == "classification" else ""
        return (
            f"Dataset(name={self.name!r}, kind={self.kind!r}, task={self.task!r}, x shape={self.x.shape}"
            f"{classes})"
        )

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
