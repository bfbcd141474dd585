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
    """Checks every kind of data needs: enough samples, and warnings for class imbalance and for classes
    with few samples."""
    if len(y) < MIN_SAMPLES:
        raise DataError(
            f"{where} has {len(y)} labelled samples; at least {MIN_SAMPLES} are needed to train, validate "
            "and test a network."
        )
    if task == "classification":
        from biograd.bio.targets import warn_class_imbalance

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
    groups: str | None = None,
    keep_conflicting: bool = False,
    orientation: str = "auto",
    sample_id_column: str | None = None,
    positive: str | None = None,
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
        labels, label_column: the FASTA label file and its label column. For a table, ``labels`` makes
            ``path`` an expression matrix (genes x samples or samples x genes) and ``labels`` its sample
            sheet, holding ``target`` (see :func:`~biograd.bio.matrix.join_matrix_and_sheet`).
        positive: for two classes, the class to call positive (``--positive CLASS``): it is coded 1, so ROC
            and precision-recall curves, AUCs and the attributions' direction refer to it. Default: the
            class whose name does not read as an absence, else the alphabetically second (a guess the report
            states).
        orientation, sample_id_column: for a matrix with a sample sheet: "auto", "genes-by-samples" or
            "samples-by-genes", and the sheet's column of sample IDs (default: detected).
        layer: the .h5ad layer to read instead of X.
        impute: "mean" or "median" to fill in missing feature values (tables); None makes them an error.
        groups: a table's column of group labels (patient, donor, family): a group never straddles
            training and test.
        keep_conflicting: keep identical samples whose labels disagree (by default they are left out,
            with a warning naming them).

    Exact duplicates and, for sequences, related sequences are found and put into ``Dataset.groups``
    (see :func:`group_relatives`), so that no copy or relative of a test sample is trained on.
        merge_labels: class labels that differ only by case or surrounding spaces are one class (without
            it they are warned about).

    Raises:
        FileNotFoundError, DataError: with a message that says what is wrong and how to fix it.
    """
    if (path is None) == (dataset is None):
        raise ConfigError("Give either a data file (with --target) or --dataset NAME, not both or neither.")
    if dataset is not None:
        if groups is not None:
            raise ConfigError("--groups names a column of your own table; it does not apply to --dataset.")
        return group_relatives(
            choose_positive(_load_dataset(dataset, task), positive), keep_conflicting=keep_conflicting
        )
    if groups is not None and data_format(path) != "csv":
        raise ConfigError("--groups names a column of a table (.csv/.tsv); it does not apply to this file.")
    data = (
        _read(path, target, task, id_column, labels, label_column, layer, impute, groups, merge_labels)
        if labels is None or data_format(path) != "csv"
        else _read_matrix(
            path, labels, target, task, impute, groups, orientation, sample_id_column, merge_labels
        )
    )
    return group_relatives(choose_positive(data, positive), keep_conflicting=keep_conflicting)


def choose_positive(data: Dataset, positive: str | None) -> Dataset:
    """Code the class named ``positive`` as 1 (the class every binary score refers to: P(class 1), the
    one logit, ROC and PR curves). Raises ConfigError for a class that does not exist or a task that is
    not binary."""
    if positive is None:
        return data
    names = [str(n) for n in data.target_names]
    if data.task != "classification" or len(names) != 2:
        what = "a regression task" if data.task != "classification" else f"{len(names)} classes"
        raise ConfigError(f"--positive applies to two classes; {data.name!r} has {what}.")
    if positive not in names:
        raise ConfigError(f"--positive {positive!r} is not a class of the target; the classes are {names}.")
    if names[1] == positive:
        return replace(data, extra={**data.extra, "positive_class": positive})
    return replace(
        data,
        y=(1 - data.y).astype(data.y.dtype),
        target_names=[names[1], names[0]],
        extra={**data.extra, "positive_class": positive},
    )


def _read(
    path: str | os.PathLike,
    target: str | None,
    task: str,
    id_column: str | None,
    labels: str | os.PathLike | None,
    label_column: str | None,
    layer: str | None,
    impute: str | None,
    groups: str | None,
    merge_labels: bool = False,
) -> Dataset:
    path = Path(path)
    fmt = data_format(path)
    _check_readable(path)
    if fmt == "csv":
        if not target:
            raise ConfigError(
                f"Which column of {path.name!r} should the network predict? Pass --target COLUMN."
            )
        table = _load_checked_table(path, target, task, id_column, impute, groups, merge_labels)
        ids = table.ids if table.ids is not None else [str(i + 1) for i in range(table.n_samples)]
        extra = {**table.extra, "groups_column": groups} if groups else table.extra
        return replace(table, ids=ids, extra=extra)
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


def read_matrix_frame(
    path: str | os.PathLike,
    sheet_path: str | os.PathLike,
    keep: Sequence[str],
    orientation: str = "auto",
    sample_id_column: str | None = None,
) -> tuple[Any, str]:
    """(one row per sample: sample ID, ``keep`` columns of the sheet, then the genes; the ID column's
    name) from an expression matrix and its sample sheet, both files checked and read."""
    from biograd.bio.matrix import join_matrix_and_sheet
    from biograd.bio.tabular import read_frame

    path, sheet_path = Path(path), Path(sheet_path)
    _check_readable(path)
    _check_readable(sheet_path)
    if data_format(sheet_path) != "csv":
        raise DataError(f"The sample sheet {sheet_path.name!r} must be a CSV/TSV table.")
    sheet = read_frame(sheet_path)
    keep = [c for c in keep if c]
    joined = join_matrix_and_sheet(
        read_frame(path),
        sheet,
        keep,
        matrix_name=path.name,
        sheet_name=sheet_path.name,
        sheet_id_column=sample_id_column,
        orientation=orientation,
    )
    return joined, str(joined.columns[0])


def _load_checked_table(
    table_or_path: Any,
    target: str,
    task: str,
    id_column: str | None,
    impute: str | None,
    groups: str | None,
    merge_labels: bool,
    **extra: Any,
) -> Dataset:
    """A table (a file, or a frame joined from a matrix and its sample sheet) read by ``load_table``, with
    the target checked not to be an ID and the task checked against the one asked for."""
    from biograd.bio.tabular import load_table

    with _warnings_if_ok():
        table = load_table(
            table_or_path,
            target,
            id_column=id_column,
            task=task,
            impute=impute,
            min_samples=MIN_SAMPLES,
            groups=groups,
            merge_labels=merge_labels,
            **extra,
        )
        _check_not_id_like(table.y, table.target_names, table.task, target, "choose another --target")
    _task_of(table, task)
    return table


def _read_matrix(
    path: str | os.PathLike,
    sheet_path: str | os.PathLike,
    target: str | None,
    task: str,
    impute: str | None,
    groups: str | None,
    orientation: str,
    sample_id_column: str | None,
    merge_labels: bool = False,
) -> Dataset:
    """An expression matrix joined with its sample sheet, read like a table of samples."""

    if not target:
        raise ConfigError(
            f"Which column of the sample sheet {Path(sheet_path).name!r} should the network predict? Pass "
            "--target COLUMN."
        )
    with _warnings_if_ok():
        joined, id_column = read_matrix_frame(
            path, sheet_path, [target, groups or ""], orientation, sample_id_column
        )
    name = f"{Path(path).name} + {Path(sheet_path).name}"
    table = _load_checked_table(joined, target, task, id_column, impute, groups, merge_labels, source=name)
    extra = {**table.extra, "sample_sheet": str(sheet_path)}
    if groups:
        extra["groups_column"] = groups
    return replace(table, source=str(path), input_format="matrix", extra=extra)


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
    readers (``bio.targets.encode_target``) apply the rule to the raw target: text, booleans or a few
    whole numbers are classes, anything else a measurement, unless ``--task`` says otherwise.
    """
    if asked not in ("auto", data.task):
        raise ConfigError(
            f"The data {data.name!r} were read as a {data.task} task; --task {asked} does not apply."
        )
    return data.task


def _subset(data: Dataset, keep: np.ndarray) -> Dataset:
    """The samples ``keep`` (row indices) of ``data``, every per-sample field cut alike."""
    n = data.n_samples
    extra = {
        k: (v[keep] if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v)
        for k, v in data.extra.items()
    }
    return replace(
        data,
        x=None if data.x is None else data.x[keep],
        y=None if data.y is None else data.y[keep],
        sequences=None if data.sequences is None else [data.sequences[i] for i in keep],
        ids=None if data.ids is None else [data.ids[i] for i in keep],
        features=None if data.features is None else data.features.iloc[keep].reset_index(drop=True),
        groups=None if data.groups is None else data.groups[keep],
        extra=extra,
    )


def _sample_keys(data: Dataset) -> Any:
    """What makes two samples identical: the sequence, or the whole row of features as read."""
    if data.is_sequence:
        return list(data.sequences) if data.sequences is not None else data.x
    if data.features is not None:
        import pandas as pd

        hashed = pd.util.hash_pandas_object(data.features.reset_index(drop=True), index=False)
        return hashed.to_numpy(dtype=np.uint64).reshape(-1, 1)
    return np.asarray(data.x)


def group_relatives(
    data: Dataset, keep_conflicting: bool = False, min_shared: float | None = None
) -> Dataset:
    """Find exact duplicates (and, for sequences, relatives) and record them as ``data.groups``.

    - Exact copies (the same sequence, the same row of features) are counted in a warning and in
      ``data.extra["duplicates"]``; they always share a group, so they fall on the same side of every split.
    - Copies whose class labels disagree cannot both be predicted right: they are named in a warning and
      left out, unless ``keep_conflicting`` (``--keep-conflicting``).
    - Sequences are clustered by shared k-mers (:func:`~biograd.bio.relatives.cluster_sequences`, at
      ``min_shared``, default :data:`~biograd.bio.relatives.DEFAULT_MIN_SHARED`); each cluster is a group.
    - A table's ``--groups`` column (already in ``data.groups``) is joined with the copies.

    ``data.grouping`` states in one sentence how the splits are grouped; ``data.groups`` stays None when
    every sample is its own group.
    """
    from biograd.bio.relatives import (
        DEFAULT_K,
        DEFAULT_MIN_SHARED,
        approximate_identity,
        cluster_sequences,
        connected_groups,
        find_duplicates,
    )

    what = "sequences" if data.is_sequence else "samples"
    labels = data.y if data.task == "classification" and data.y is not None else None
    dup = find_duplicates(_sample_keys(data), labels)
    ids = data.ids
    removed: list[str] = []
    if dup.any:
        warnings.warn(dup.describe(ids, what), stacklevel=3)
    if dup.conflicting and not keep_conflicting:
        drop = np.array(sorted(i for g in dup.conflicting for i in g), dtype=np.int64)
        removed = [str(ids[i]) if ids is not None else f"#{i + 1}" for i in drop]
        shown = ", ".join(removed[:10]) + (" ..." if len(removed) > 10 else "")
        warnings.warn(
            f"{len(removed)} identical {what} in {len(dup.conflicting)} groups carry different labels and "
            f"were left out ({shown}); pass --keep-conflicting to keep them.",
            stacklevel=3,
        )
        data = _subset(data, np.setdiff1d(np.arange(data.n_samples), drop))
        dup = find_duplicates(_sample_keys(data), None)
    record = {
        "samples": int(dup.n_samples + len(removed)),
        "duplicate_copies": int(dup.copies),
        "duplicate_groups": len(dup.groups),
        "conflicting_removed": len(removed),
        "conflicting_ids": removed[:100],
        "conflicting_kept": bool(keep_conflicting),
    }
    sentences = []
    group_by: list[Any] = []
    if data.groups is not None:
        column = data.extra.get("groups_column", "the --groups column")
        group_by.append(data.groups)
        sentences.append(
            f"Samples are grouped by {column!r} ({len(np.unique(data.groups))} groups): a group is never "
            "split between training, validation and test"
        )
    if data.is_sequence and data.sequences is not None:
        shared = DEFAULT_MIN_SHARED if min_shared is None else float(min_shared)
        k = DEFAULT_K[data.kind]
        clusters = cluster_sequences(data.sequences, data.kind, k=k, min_shared=shared)
        group_by.append(clusters)
        n_clusters = len(np.unique(clusters))
        record.update({"clusters": n_clusters, "cluster_k": k, "cluster_min_shared": shared})
        sentences.append(
            f"Related sequences are grouped before splitting: a sequence joins a cluster whose first member "
            f"holds at least {shared:.0%} of its distinct {k}-mers (about "
            f"{approximate_identity(shared, k):.0%} identity or more), {n_clusters} clusters for "
            f"{data.n_samples} sequences; a cluster is never split between training, validation and test"
        )
    if dup.any:
        group_by.append(dup.group)
        sentences.append(
            f"{dup.copies} identical {what} ({len(dup.groups)} sets of copies) are kept on the same side of "
            "every split"
        )
    groups = connected_groups(*group_by) if group_by else None
    if groups is not None and len(np.unique(groups)) == len(groups) and "groups_column" not in data.extra:
        groups, sentences = None, []
    extra = {**data.extra, "duplicates": record}
    grouping = ". ".join(sentences) + "." if sentences else ""
    return replace(data, groups=groups, grouping=grouping, extra=extra)
