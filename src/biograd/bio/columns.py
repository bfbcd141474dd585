"""Checks on a table's columns before anything is learned from them: which column names the samples,
columns to drop (empty, a saved row index, one value in every row), text columns that must be categories,
numbers too large for float32, and sample IDs that must be unique.

Each check raises a :class:`DataError` or warns with the column's name and, where it helps, the file
lines of the cells at fault; :func:`biograd.bio.tabular.load_table` runs them in order.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.bio.errors import DataError


def _is_numeric(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column)) and not pd.api.types.is_bool_dtype(column)


#: Column names that say "these are sample names": id, ID, sample, Sample_ID, barcode, cell, patient...
_ID_NAME = re.compile(
    r"(?i)(^|[\W_])(id|ids|identifier|sample|samples|name|names|barcode|barcodes|cell|cells|patient|"
    r"subject|donor|accession)($|[\W_])|[a-z]ID$"
)


def looks_like_id_name(name: str) -> bool:
    """True for a column name that says it names samples ("sample", "Patient ID", "cell_barcode")."""
    return bool(_ID_NAME.search(str(name)))


def _all_distinct_names(column: Any) -> bool:
    """Text in every row, all different, and none of it a number: names, not measurements. A column of
    numbers with a typo ("1.2.3") or a few words fails the last test, so it is never taken for IDs."""
    import pandas as pd

    if _is_numeric(column) or pd.api.types.is_bool_dtype(column) or len(column) < 2:
        return False
    if not column.notna().all() or column.nunique() != len(column):
        return False
    as_numbers = pd.to_numeric(column.astype(str).str.strip(), errors="coerce")
    return bool(as_numbers.isna().all())


def detect_id_column(frame: Any, exclude: Sequence[str] = ()) -> str | None:
    """The column that names the samples, or None: the first one whose name says so (``sample``,
    ``Patient ID``, ``barcode``, ...) and whose values are all different text, none of them a number;
    failing that, the first column of all-different, non-number text (callers warn that it was guessed:
    see :func:`load_table`)."""
    candidates = [
        str(name) for name in frame.columns if name not in exclude and _all_distinct_names(frame[name])
    ]
    named = [name for name in candidates if looks_like_id_name(name)]
    return (named or candidates or [None])[0]


_UNNAMED = re.compile(r"Unnamed: \d+")


def _is_saved_index(column: Any) -> bool:
    """True for the row numbers 0..n-1 or 1..n, as pandas' ``to_csv`` (or R's ``write.csv``) writes them."""
    if not _is_numeric(column) or column.isna().any():
        return False
    values = column.to_numpy(dtype=np.float64)
    counting = np.arange(len(values), dtype=np.float64)
    return bool(np.array_equal(values, counting) or np.array_equal(values, counting + 1))


def drop_unusable_columns(frame: Any, where: str = "the table", keep: Sequence[str] = ()) -> Any:
    """Drop columns that would mislead a network, with a warning naming them.

    - all-empty columns (often a blank header from a trailing comma, read as "Unnamed: 6"): nothing to
      learn from and nothing to impute them with;
    - a saved row index: an unnamed column ("Unnamed: 0", or a blank header) holding exactly 0..n-1 or
      1..n, written by ``DataFrame.to_csv`` without ``index=False`` or by R's ``write.csv``. It only
      numbers the rows, so as a feature it would leak the order of the file (often sorted by class).

    Columns in ``keep`` (the target, a chosen ID column) are never dropped.
    """
    empty = [c for c in frame.columns if c not in keep and frame[c].isna().all()]
    index = [
        c
        for c in frame.columns
        if c not in keep and c not in empty and _UNNAMED.fullmatch(str(c)) and _is_saved_index(frame[c])
    ]
    if empty:
        warnings.warn(
            f"{where}: dropped {len(empty)} empty column(s) (no value in any row): "
            f"{', '.join(map(repr, empty[:10]))}{' ...' if len(empty) > 10 else ''}.",
            stacklevel=3,
        )
    if index:
        warnings.warn(
            f"{where}: dropped column(s) {', '.join(map(repr, index))}: a saved row index (unnamed, "
            "numbering the rows 0, 1, 2, ...), not a measurement. (Save tables with index=False.)",
            stacklevel=3,
        )
    return frame.drop(columns=empty + index) if empty or index else frame


def _non_finite_counts(frame: Any) -> dict[str, int]:
    counts = {}
    for name in frame.columns:
        column = frame[name]
        if _is_numeric(column):
            bad = int((~np.isfinite(column.to_numpy(dtype=np.float64))).sum())
            if bad:
                counts[str(name)] = bad
    return counts


def _lines_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5]) + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
    return f"line{'s' if len(lines) > 1 else ''} {shown}"


def _check_text_columns(
    features: Any, where: str, max_categories: int, lines: np.ndarray | None = None
) -> None:
    """Text columns must be categories: not numbers spoiled by a few words, not free text or IDs.

    A column where at least half of the values are numbers and the rest text ("1.2.3", "n/a?") is
    numbers with mistakes: an error naming the column, the values and their lines in the file (``lines``:
    the file line of each row; default row + 2, after the header line).
    """
    import pandas as pd

    if lines is None:
        lines = np.arange(len(features)) + 2
    for name in features.columns:
        column = features[name]
        if _is_numeric(column) or pd.api.types.is_bool_dtype(column):
            continue
        present = column.notna().to_numpy()
        as_numbers = pd.to_numeric(column.astype(object).where(present, None), errors="coerce").notna()
        is_text = present & ~as_numbers.to_numpy()
        n_present, n_text = int(present.sum()), int(is_text.sum())
        if n_present and n_text < n_present and n_text <= 0.5 * n_present:
            values = column.to_numpy()[is_text]
            examples = ", ".join(map(repr, list(dict.fromkeys(str(v) for v in values))[:3]))
            raise DataError(
                f"{where}: column {name!r} holds numbers but {n_text} value(s) are text ({examples}) on "
                f"{_lines_text(lines[is_text].tolist())}. Correct those cells; or leave missing values "
                "empty (or NA) and use --impute mean or median (impute='mean' or 'median' in Python)."
            )
        n_categories = column.dropna().astype(str).nunique()
        if n_categories > max_categories:
            raise DataError(
                f"{where}: column {name!r} has {n_categories} different text values (more than "
                f"{max_categories}), too many categories to one-hot encode. Drop it, or pass it as the ID "
                "column (--id) if it names the samples."
            )


#: The largest magnitude a network's float32 numbers hold (about 3.4e38).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_magnitudes(features: Any, where: str, lines: np.ndarray) -> None:
    """Finite numbers too large for float32 (1e308) would become inf inside the network: an error naming
    the column, the value and its line, instead of a later, wrong "NaN or infinite" message."""
    for name in features.columns:
        column = features[name]
        if not _is_numeric(column):
            continue
        values = column.to_numpy(dtype=np.float64)
        huge = np.isfinite(values) & (np.abs(values) > FLOAT32_MAX)
        if huge.any():
            first = int(np.argmax(huge))
            raise DataError(
                f"{where}: column {name!r} has {int(huge.sum())} value(s) beyond +-3.4e38, the largest "
                f"number a network computes with (e.g. {values[first]:g} on line {lines[first]}). Rescale "
                "the column (e.g. log10), or correct those cells."
            )


def _drop_constant_columns(features: Any, where: str) -> Any:
    """Columns with one value in every row (missing cells aside) teach a network nothing, yet would
    appear in attributions: dropped with a warning naming them. All of them constant is an error."""
    constant = [str(c) for c in features.columns if features[c].nunique(dropna=True) <= 1]
    if not constant:
        return features
    if len(constant) == features.shape[1]:
        raise DataError(
            f"{where}: every feature column has a single value in all rows "
            f"({', '.join(map(repr, constant[:6]))}{' ...' if len(constant) > 6 else ''}); there is nothing "
            "to learn from."
        )
    warnings.warn(
        f"{where}: dropped {len(constant)} constant column(s) (the same value in every row): "
        f"{', '.join(map(repr, constant[:10]))}{' ...' if len(constant) > 10 else ''}.",
        stacklevel=3,
    )
    return features.drop(columns=constant)


def check_unique_ids(ids: Sequence[str], column: str, where: str, lines: Sequence[int] | None = None) -> None:
    """Sample IDs must name one sample each (the prediction table is keyed by them, and replicates under
    one name would land in both the training and the test split): an error naming the repeated ones."""
    counts = Counter(ids)
    repeated = [i for i, n in counts.items() if n > 1]
    if not repeated:
        return
    lines = list(range(2, len(ids) + 2)) if lines is None else list(lines)
    where_each = []
    for name in repeated[:3]:
        at = [int(line) for line, i in zip(lines, ids, strict=True) if i == name]
        where_each.append(f"{name!r} ({_lines_text(at)})")
    raise DataError(
        f"{where}: {len(repeated)} ID(s) in column {column!r} name more than one row: "
        f"{', '.join(where_each)}{' ...' if len(repeated) > 3 else ''}. Give every sample its own ID, or "
        "combine the replicates into one row."
    )
