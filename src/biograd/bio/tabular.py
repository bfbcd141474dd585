"""Tables: reading a CSV/TSV file (delimiter, encoding, decimal commas, header checks) and
:func:`load_table`, which reads one, checks its columns and encodes its target into a :class:`Dataset`.

The checks live in :mod:`biograd.bio.columns`, the target's encoding in :mod:`biograd.bio.targets`, and
the :class:`Preprocessor` that turns the columns into numbers (learned on the training split) in
:mod:`biograd.bio.preprocess`; their public names are importable from here too.

>>> table = load_table("expression.csv", target="disease")          # doctest: +SKIP
>>> prep = Preprocessor(impute="median").fit(table.features.iloc[train])
>>> x_train = prep.transform(table.features.iloc[train])
"""

from __future__ import annotations

import difflib
import io
import re
import warnings
from collections import Counter
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.columns import (
    FLOAT32_MAX,
    _check_magnitudes,
    _check_text_columns,
    _drop_constant_columns,
    _is_numeric,
    _non_finite_counts,
    check_unique_ids,
    detect_id_column,
    drop_unusable_columns,
    looks_like_id_name,
)
from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError
from biograd.bio.preprocess import Preprocessor
from biograd.bio.targets import (
    MAX_INTEGER_CLASSES,
    check_label_variants,
    encode_target,
    infer_task,
    label_variants,
    warn_class_imbalance,
)


def _delimiter(path: Path, head: str) -> str:
    """The column separator: tab for .tsv/.tab (a comma, with a warning, when the header row has commas
    and no tab); for .csv, whichever of comma, semicolon and tab the header
    row holds most of (a comma on a tie: semicolons come from Excel in countries that write decimal
    commas); for other names, sniffed from the first lines."""
    suffixes = [s.lower() for s in path.suffixes]
    first = head.splitlines()[0] if head else ""
    if ".tsv" in suffixes or ".tab" in suffixes:
        if "\t" not in first and first.count(",") > first.count(";"):
            warnings.warn(
                f"{str(path)!r} is named like a tab-separated file, but its header row has no tab and "
                f"{first.count(',')} comma(s): read it as comma-separated. (Rename it to .csv to say so.)",
                stacklevel=4,
            )
            return ","
        return "\t"
    if ".csv" in suffixes:
        counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
        best = max(counts, key=lambda sep: counts[sep])  # the first of equals: the comma
        return best if counts[best] else ","
    import csv

    try:
        return csv.Sniffer().sniff(head, delimiters="\t,;").delimiter
    except csv.Error:
        return "\t" if "\t" in first else ","


#: Encodings tried after UTF-8, in order: Excel's "CSV" on Windows in Western Europe writes cp1252;
#: latin-1 decodes any bytes at all, so it is the last resort.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


def _decode(path: Path, data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark (Excel's
    "Unicode text"), else cp1252 or latin-1 with a warning naming the file and the encoding."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:65536]:
        raise DataError(f"{str(path)!r} is not a text table (it contains binary data); expected CSV or TSV.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        position = err.start
    for encoding in FALLBACK_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        warnings.warn(
            f"{str(path)!r} is not UTF-8 text (byte {position + 1} is {data[position : position + 1]!r}); "
            f"read it as {encoding} (Windows/Excel, Western European). Check that accented names look "
            "right, or save the file as 'CSV UTF-8'.",
            stacklevel=3,
        )
        return text
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")


def _read_decimal_commas(frame: Any, path: Path) -> Any:
    """In a semicolon-separated table, text columns whose every value is a number written with a
    decimal comma ("5,69"; Excel in most of Europe) become numbers, with a warning naming them."""
    import pandas as pd

    converted = []
    for name in frame.columns:
        column = frame[name]
        # text columns: dtype object in pandas 2, str in pandas 3 (never compare a dtype with object)
        if not (pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column)):
            continue
        present = column.dropna().astype(str).str.strip()
        if not len(present):
            continue
        comma = present.map(lambda v: bool(_DECIMAL_COMMA.fullmatch(v)))
        whole = present.map(lambda v: bool(_WHOLE_NUMBER.fullmatch(v)))
        if comma.any() and (comma | whole).all():
            numbers = pd.to_numeric(present.str.replace(",", ".", regex=False), errors="coerce")
            frame[name] = numbers.reindex(column.index)
            converted.append(str(name))
    if converted:
        shown = ", ".join(map(repr, converted[:6])) + (
            f" and {len(converted) - 6} more" if len(converted) > 6 else ""
        )
        warnings.warn(
            f"{str(path)!r}: read decimal commas as decimal points in {len(converted)} column(s): {shown}.",
            stacklevel=3,
        )
    return frame


#: More columns than this is refused before pandas parses the file (a table of 60,000 genes fits; pandas
#: needs minutes for a million columns).
MAX_COLUMNS = 100_000


def _header_names(text: str, sep: str) -> list[str]:
    """The names in the header row as written (pandas renames repeats to "x.1", "x.2"), read by the csv
    module from the first line only, in time proportional to its length."""
    import csv

    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        return next(csv.reader([first], delimiter=sep), [])
    except csv.Error:  # a stray carriage return or quote: the names as plainly split
        return first.split(sep)


def _check_header(path: Path, text: str, sep: str) -> None:
    """Bounds and duplicates of the header row, before pandas reads the whole table."""
    first_line = text.split("\n", 1)[0]
    n_columns = first_line.count(sep) + 1
    if n_columns > MAX_COLUMNS:
        raise DataError(
            f"{str(path)!r} has {n_columns:,} columns in its header row, more than the {MAX_COLUMNS:,} "
            "biograd reads (set biograd.bio.tabular.MAX_COLUMNS to read more). Is the file transposed "
            "(samples as columns)? Samples must be rows."
        )
    names = [name for name in _header_names(text, sep) if name.strip()]  # blanks become "Unnamed: 6"
    counts = Counter(names)
    duplicated = [name for name, n in counts.items() if n > 1]
    if duplicated:
        raise DataError(
            f"{str(path)!r}: duplicated column names {', '.join(map(repr, duplicated[:10]))}"
            f"{' ...' if len(duplicated) > 10 else ''}; every column needs its own name."
        )


def read_frame(path: str | PathLike, text_only: bool = False) -> Any:
    """Read a CSV or TSV file into a pandas DataFrame (delimiter from the extension or the content).

    Gzipped files are read too. Text that is not UTF-8 is read as cp1252 (or latin-1) with a warning; a
    semicolon-separated table may write numbers with decimal commas ("5,69"), which are read as numbers.
    With ``text_only`` every cell stays text exactly as written (``"000"`` stays ``"000"``, ``"NA"`` stays
    ``"NA"``) and only empty cells are missing: for columns of names, such as a label file's IDs.

    Bounds: at most ``biograd.bio.files.MAX_TEXT_BYTES`` of text (checked while a gzip file is unpacked)
    and ``MAX_COLUMNS`` columns.

    Raises FileNotFoundError for a missing file and DataError for an empty, oversized or unreadable one,
    or one with duplicated column names (which pandas would silently rename).
    """
    import pandas as pd

    from biograd.bio.files import read_bytes

    path = Path(path)
    data = read_bytes(path, kind="CSV/TSV table")
    text = _decode(path, data)
    del data
    sep = _delimiter(path, text[:65536])
    _check_header(path, text, sep)
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""]} if text_only else {}
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, **options)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{str(path)!r} has no columns; expected a CSV/TSV table with a header row."
        ) from None
    except pd.errors.ParserError as err:
        first = str(err).strip().splitlines()[0]
        raise DataError(f"{str(path)!r} could not be read as a table: {first}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{str(path)!r} has a header but no rows of data.")
    frame.columns = [str(c) for c in frame.columns]
    if sep == ";" and not text_only:
        frame = _read_decimal_commas(frame, path)
    return frame


#: The name :func:`load_table`'s result had before every reader returned a :class:`Dataset`.
Table = Dataset


def load_table(
    path: str | PathLike | Any,
    target: str,
    id_column: str | None = None,
    task: str = "auto",
    impute: str | None = None,
    min_samples: int = 20,
    max_categories: int = 50,
    groups: str | None = None,
    source: str | None = None,
    merge_labels: bool = False,
) -> Dataset:
    """Read a CSV/TSV, pick the target column, check the data, and encode the target.

    Returns a :class:`Dataset` whose ``features`` holds the input columns as read (unscaled, categories
    as text; ``x`` is None): fit a :class:`Preprocessor` on its training rows to turn them into numbers.

    Args:
        path: the file (.csv, .tsv, or sniffed from its content), or a DataFrame already read (then
            ``source`` names it in messages).
        target: the column to predict.
        id_column: a column of sample names, kept for the prediction table and not used as a feature.
            Default: detected (see :func:`detect_id_column`; a warning says so unless the column's name
            says it holds IDs). Its values must all be different.
        task: "classification", "regression" or "auto" (text or few whole numbers: classification).
        impute: None, "mean" or "median": whether missing feature values will be filled in (by the
            Preprocessor). Without it, NaN or inf in a numeric feature is an error.
        min_samples: fewer rows than this (after dropping rows without a target) is an error.
        max_categories: a text column with more distinct values is an error (see :class:`Preprocessor`).
        groups: a column of group labels (patient, donor, family), kept in ``Dataset.groups`` and not used
            as a feature.
        merge_labels: treat class labels that differ only by case or surrounding spaces (" yes", "Yes",
            "yes") as one class, written as its most common spelling. Without it they are warned about.

    Raises:
        DataError: target missing (with the closest column names), an all-missing or single-class target,
            NaN/inf in features without ``impute`` (counts per column), duplicated column names or IDs, a
            column of numbers with some text cells (naming them and their lines), numbers beyond float32,
            only constant features, too few samples. Warnings for rows dropped for a missing target,
            constant columns dropped, an ID column guessed, label variants, class imbalance and classes
            with few samples.
    """
    import pandas as pd

    if isinstance(path, pd.DataFrame):
        frame, path = path, source or "the table"
    else:
        frame = read_frame(path)
    where = repr(str(path))
    if target not in frame.columns:
        close = difflib.get_close_matches(str(target), list(frame.columns), n=3, cutoff=0.5)
        if not close:
            close = [c for c in frame.columns if str(target).lower() in c.lower()][:3]
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        shown = ", ".join(map(repr, list(frame.columns)[:12])) + (" ..." if frame.shape[1] > 12 else "")
        raise DataError(f"{where} has no column {target!r}.{hint} Columns: {shown}.")
    if id_column is not None and id_column not in frame.columns:
        close = difflib.get_close_matches(str(id_column), list(frame.columns), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise DataError(f"{where} has no ID column {id_column!r}.{hint}")
    if id_column == target:
        raise DataError(f"The ID column and the target are the same column ({target!r}).")
    if groups is not None and groups not in frame.columns:
        close = difflib.get_close_matches(str(groups), list(frame.columns), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise DataError(f"{where} has no column {groups!r} for --groups.{hint}")
    if groups is not None and groups == target:
        raise DataError(f"The --groups column and the target are the same column ({target!r}).")

    frame = drop_unusable_columns(frame, where, keep=[c for c in (target, id_column, groups) if c])
    lines = np.arange(len(frame)) + 2  # the file line of each row (line 1 is the header)
    y_raw = frame[target]
    missing = y_raw.isna()
    if missing.all():
        raise DataError(
            f"The target column {target!r} in {where} is empty (all {len(frame)} values missing)."
        )
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} of {len(frame)} rows have no value in the target {target!r} "
            "and were dropped.",
            stacklevel=2,
        )
        frame = frame.loc[~missing].reset_index(drop=True)
        lines = lines[~missing.to_numpy()]
        y_raw = frame[target]
    if task == "regression" and _is_numeric(y_raw) and not np.isfinite(y_raw.to_numpy(np.float64)).all():
        raise DataError(f"The target column {target!r} in {where} contains inf; remove those rows.")

    if id_column is None:
        id_column = detect_id_column(frame, exclude=[c for c in (target, groups) if c])
        if id_column is not None and not looks_like_id_name(id_column):
            examples = ", ".join(repr(str(v)) for v in frame[id_column].iloc[:2])
            warnings.warn(
                f"{where}: took column {id_column!r} for the sample IDs, not a feature: its {len(frame)} "
                f"values are all different text, none a number ({examples}, ...). If it is a measurement, "
                "name the real ID column with --id (id_column= in Python).",
                stacklevel=2,
            )
    ids = frame[id_column].astype(str).tolist() if id_column else None
    if ids is not None:
        check_unique_ids(ids, str(id_column), where, lines)
    group_labels = None if groups is None else frame[groups].astype(str).to_numpy()
    features = frame.drop(columns=list(dict.fromkeys(c for c in (target, id_column, groups) if c)))
    if features.shape[1] == 0:
        raise DataError(f"{where} has no feature columns besides the target {target!r}.")

    _check_text_columns(features, where, max_categories, lines)
    _check_magnitudes(features, where, lines)
    features = _drop_constant_columns(features, where)
    bad = _non_finite_counts(features)
    if bad and impute is None:
        listed = ", ".join(f"{name} ({n})" for name, n in list(bad.items())[:6])
        more = f" and {len(bad) - 6} more columns" if len(bad) > 6 else ""
        raise DataError(
            f"{where}: missing or infinite values in {len(bad)} feature column(s): {listed}{more}.\n"
            "Fill them in with --impute mean or --impute median (impute='mean' or 'median' in Python), or "
            "remove them."
        )
    y_values = check_label_variants(y_raw.to_numpy(), f"target {target!r}", where, merge=merge_labels)
    y, target_names, task = encode_target(y_values, task=task, name=target)
    if len(y) < min_samples:
        raise DataError(
            f"{where} has {len(y)} samples with a target; at least {min_samples} are needed to train, "
            "validate and test a network."
        )
    if task == "classification":
        warn_class_imbalance(y, target_names, str(target), stacklevel=3)
    name = Path(path).name
    return Dataset(
        x=None,
        y=y,
        feature_names=[str(c) for c in features.columns],
        target_names=target_names,
        description=f"{len(y)} samples x {features.shape[1]} columns from {name}.",
        task=task,
        kind="table",
        name=name,
        target_name=str(target),
        ids=ids,
        features=features,
        id_column=id_column,
        source=str(path),
        input_format="csv",
        groups=group_labels,
    )


__all__ = [
    "FALLBACK_ENCODINGS",
    "FLOAT32_MAX",
    "MAX_COLUMNS",
    "MAX_INTEGER_CLASSES",
    "Preprocessor",
    "Table",
    "check_label_variants",
    "check_unique_ids",
    "detect_id_column",
    "drop_unusable_columns",
    "encode_target",
    "infer_task",
    "label_variants",
    "load_table",
    "looks_like_id_name",
    "read_frame",
    "warn_class_imbalance",
]
