"""Reading the data: a CSV/TSV table, a FASTA file, an .h5ad file or a bundled dataset, checked, into
one :class:`~biograd.bio.Dataset` (the record every reader returns)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.dataset import SEQUENCE_KINDS, Dataset
from biograd.bio.errors import DataError
from biograd.pipeline.config import ConfigError

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".ffn", ".faa", ".fas", ".seq")
H5AD_SUFFIXES = (".h5ad",)


#: Fewer samples than this cannot be split into training, validation and test sets that mean anything.
MIN_SAMPLES = 20


def data_format(path: str | os.PathLike) -> str:
    """ "csv", "fasta" or "h5ad" from the file name (a final .gz is ignored)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in FASTA_SUFFIXES:
        return "fasta"
    if last in H5AD_SUFFIXES:
        return "h5ad"
    if last in TABLE_SUFFIXES:
        return "csv"
    raise DataError(
        f"Cannot tell the format of {str(path)!r} from its name: use .csv/.tsv for tables, "
        ".fa/.fasta for sequences, .h5ad for single-cell data."
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"Data file {str(path)!r} not found. Check the path.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; expected a data file.")
    if not os.access(path, os.R_OK):
        raise DataError(f"{str(path)!r} cannot be read (permission denied).")
    if path.stat().st_size == 0:
        raise DataError(f"{str(path)!r} is empty (0 bytes).")


@contextlib.contextmanager
def _warnings_if_ok() -> Iterator[None]:
    """Hold back the warnings raised inside; show them only if the block succeeds. A reader's warning
    (padding, class imbalance) is noise in front of the error that stops the command anyway."""
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("always")
        yield
    for w in held:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _check_not_id_like(y: np.ndarray, target_names: list[str], task: str, target: str, hint: str) -> None:
    """Classification on a column where most values occur once cannot work (no class can be split into
    training, validation and test samples): it is a sample ID or a continuous measurement."""
    if task != "classification" or len(target_names) <= 2:
        return
    counts = np.bincount(y, minlength=len(target_names))
    once = int((counts == 1).sum())
    if once * 2 > len(target_names):
        raise DataError(
            f"The target {target!r} has {len(target_names)} different values in {len(y)} samples and "
            f"{once} of them occur only once, so it cannot be learned as classes: it looks like an ID "
            "column or a continuous value. If it is a measurement, pass --task regression; otherwise "
            f"{hint}."
        )


def _check_labels(y: np.ndarray, target_names: list[str], task: str, target: str, where: str) -> None:
    """Checks every kind of data needs: enough samples, and a warning for extreme class imbalance."""
    if len(y) < MIN_SAMPLES:
        raise DataError(
            f"{where} has {len(y)} labelled samples; at least {MIN_SAMPLES} are needed to train, validate "
            "and test a network."
        )
    if task == "classification":
        from biograd.bio.tabular import warn_class_imbalance

        warn_class_imbalance(y, target_names, target, stacklevel=3)


def load_data(
    path: str | os.PathLike | None = None,
    target: str | None = None,
    *,
    dataset: str | None = None,
    task: str = "auto",
    id_column: str | None = None,
    labels: str | os.PathLike | None = None,
    label_column: str | None = None,
    layer: str | None = None,
    impute: str | None = None,
    merge_labels: bool = False,
) -> Dataset:
    """Read training data: a CSV/TSV table, a FASTA file, an .h5ad file, or a bundled dataset.

    Args:
        path: the data file; its name decides the format (.csv/.tsv, .fa/.fasta, .h5ad).
        target: the column to predict (tables), or the ``obs`` column (.h5ad). FASTA labels come from
            ``labels`` (a CSV keyed by record ID) or from ``label=...`` in the headers.
        dataset: a bundled dataset's name instead of a file ("breast-cancer", "diabetes", "motifs",
            "peptides").
        task: "auto", "classification" or "regression".
        id_column: a table's column of sample names (default: detected).
        labels, label_column: the FASTA label file and its label column.
        layer: the .h5ad layer to read instead of X.
        impute: "mean" or "median" to fill in missing feature values (tables); None makes them an error.
        merge_labels: class labels that differ only by case or surrounding spaces are one class (without
            it they are warned about).

    Raises:
        FileNotFoundError, DataError: with a message that says what is wrong and how to fix it.
    """
    if (path is None) == (dataset is None):
        raise ConfigError("Give either a data file (with --target) or --dataset NAME, not both or neither.")
    if dataset is not None:
        return _load_dataset(dataset, task)
    path = Path(path)
    fmt = data_format(path)
    _check_readable(path)
    if fmt == "csv":
        if not target:
            raise ConfigError(
                f"Which column of {path.name!r} should the network predict? Pass --target COLUMN."
            )
        from biograd.bio.tabular import load_table

        with _warnings_if_ok():
            table = load_table(
                path,
                target,
                id_column=id_column,
                task=task,
                impute=impute,
                min_samples=MIN_SAMPLES,
                merge_labels=merge_labels,
            )
            _check_not_id_like(table.y, table.target_names, table.task, target, "choose another --target")
        _task_of(table, task)
        ids = table.ids if table.ids is not None else [str(i + 1) for i in range(table.n_samples)]
        return replace(table, ids=ids)
    if fmt == "fasta":
        from biograd.bio.sequences import load_fasta

        with _warnings_if_ok():
            seqs = load_fasta(
                path, labels=labels, task=task, label_column=label_column, merge_labels=merge_labels
            )
            _check_not_id_like(
                seqs.y, seqs.target_names, seqs.task, label_column or "label", "choose another --label-column"
            )
            _check_labels(seqs.y, seqs.target_names, seqs.task, "label", repr(str(path)))
        _task_of(seqs, task)
        extra = {**seqs.extra, "labels": str(labels) if labels else None}
        return replace(seqs, ids=list(seqs.ids), extra=extra)
    # .h5ad
    if not target:
        raise ConfigError(f"Which obs column of {path.name!r} should the network predict? Pass --target.")
    from biograd.bio.singlecell import read_h5ad

    with _warnings_if_ok():
        cells = read_h5ad(path, label=target, layer=layer, task=task, merge_labels=merge_labels)
        _check_not_id_like(cells.y, cells.target_names, cells.task, target, "choose another --target")
        _check_labels(cells.y, cells.target_names, cells.task, target, repr(str(path)))
    _task_of(cells, task)
    return replace(cells, x=None, features=_frame(cells.x, cells.feature_names), ids=list(cells.ids))


def _frame(x: np.ndarray, names: Sequence[str]) -> Any:
    import pandas as pd

    names = [str(n) for n in names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"Duplicated feature names {', '.join(map(repr, duplicated[:5]))}; make them unique.")
    return pd.DataFrame(np.asarray(x), columns=names)


def _load_dataset(name: str, task: str) -> Dataset:
    from biograd import datasets

    data = datasets.load(name)
    _task_of(data, task)
    ids = list(data.ids) if data.ids is not None else [f"{data.name}-{i + 1}" for i in range(len(data))]
    common: dict[str, Any] = dict(
        input_format="dataset",
        source=f"bundled dataset {data.name!r}",
        ids=ids,
        target_names=list(data.target_names),
    )
    if data.kind in SEQUENCE_KINDS:
        return replace(data, sequences=list(data.sequences), **common)
    return replace(data, x=None, features=_frame(data.x, data.feature_names), **common)


def _task_of(data: Dataset, asked: str = "auto") -> str:
    """Classification or regression: the task of the data as read, checked against ``--task``.

    The one place the pipeline decides the task; every step after reading uses ``data.task``. The
    readers (``bio.tabular.encode_target``) apply the rule to the raw target: text, booleans or a few
    whole numbers are classes, anything else a measurement, unless ``--task`` says otherwise.
    """
    if asked not in ("auto", data.task):
        raise ConfigError(
            f"The data {data.name!r} were read as a {data.task} task; --task {asked} does not apply."
        )
    return data.task
