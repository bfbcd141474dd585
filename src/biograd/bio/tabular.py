"""Tables: reading CSV/TSV files, checking them, and turning their columns into network inputs.

The :class:`Preprocessor` learns everything it needs (means, standard deviations, categories, fill
values) from the TRAINING split only, so nothing about the test samples leaks into training. Its state
is a plain JSON-able dict, saved inside the model file, so ``predict`` applies exactly the same scaling
and encoding, matching columns by name in any order.

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
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError
from biograd.data import MAX_NUMERIC_CLASSES

#: A numeric target with at most this many distinct whole-number values is read as class labels (the
#: rule lives in biograd.data.class_label_count).
MAX_INTEGER_CLASSES = MAX_NUMERIC_CLASSES


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------------


def infer_task(values: Sequence[Any]) -> str:
    """ "classification" or "regression" for a target column, by biograd's one rule
    (:func:`biograd.training.targets.infer_task`, here without a model: the main job builds it to fit):
    text and booleans are classes; numbers, whole or not, integer or float (a missing value makes a
    column of integers float), are class codes when they are whole numbers with at most
    MAX_INTEGER_CLASSES distinct values and at most half as many distinct values as rows (e.g. 0/1, or
    grades 1-5); otherwise measured values (ages, expression levels). ``task=`` / ``--task`` overrides it."""
    from biograd.training.targets import infer_task as decide

    return decide(values).task


def encode_target(
    values: Sequence[Any], task: str = "auto", name: str = "target"
) -> tuple[np.ndarray, list[str], str]:
    """(y, target_names, task). Classification: int64 codes 0..k-1 over the sorted class names (numbers
    sort as numbers), ``target_names[code]`` naming each; regression: float32 values and no names.

    Raises DataError for a single class, or a regression target that is not numeric.
    """
    if task not in ("auto", "classification", "regression"):
        raise ValueError(
            f"The 'task' parameter must be 'auto', 'classification' or 'regression'. Got {task!r} instead."
        )
    if task == "auto":
        task = infer_task(values)
    arr = np.asarray(values)
    if task == "regression":
        try:
            y = arr.astype(np.float32)
        except (TypeError, ValueError):
            raise DataError(
                f"The target {name!r} has non-numeric values (e.g. {str(arr[0])!r}), so it cannot be a "
                "regression target. Use --task classification (task='classification' in Python)."
            ) from None
        return y, [], task
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    classes, y = np.unique(arr, return_inverse=True) if arr.dtype.kind != "O" else _unique_text(arr)
    if len(classes) < 2:
        raise DataError(
            f"The target {name!r} has a single class ({str(classes[0])!r}) in all {len(arr)} samples; "
            "a classifier needs at least two classes."
        )
    return y.astype(np.int64), [str(c) for c in classes], task


def _unique_text(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    text = np.asarray([str(v) for v in arr])
    return np.unique(text, return_inverse=True)


# --------------------------------------------------------------------------------------------------
# Loading and checking a table
# --------------------------------------------------------------------------------------------------


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


#: The name :func:`load_table`'s result had before every reader returned a :class:`Dataset`.
Table = Dataset


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


def label_variants(values: Sequence[Any]) -> dict[str, list[str]]:
    """Text labels that differ only by upper/lower case or surrounding spaces: ``{"yes": [" yes", "Yes",
    "yes"]}`` (key: the label stripped and lower-cased; spellings sorted). Numbers are not labels of text."""
    spellings: dict[str, set[str]] = {}
    for value in values:
        if isinstance(value, str):
            spellings.setdefault(value.strip().casefold(), set()).add(value)
    return {key: sorted(found) for key, found in spellings.items() if len(found) > 1}


def check_label_variants(values: Any, name: str, where: str, merge: bool = False) -> Any:
    """Warn about labels that differ only by case or surrounding spaces (`` yes``, ``Yes``, ``yes`` would
    be three classes); with ``merge``, write each as its most common spelling instead (and say so).
    Returns the values as given, or merged as a numpy array of objects."""
    variants = label_variants(np.asarray(values, dtype=object))
    if not variants:
        return values
    shown = "; ".join(" / ".join(map(repr, spellings)) for spellings in list(variants.values())[:3])
    values = np.asarray(values, dtype=object)
    if not merge:
        warnings.warn(
            f"{where}: the {name} has labels that differ only by upper/lower case or spaces ({shown}); "
            "they are different classes as written. Correct the file, or merge them (--merge-labels; "
            "merge_labels=True in Python).",
            stacklevel=3,
        )
        return values
    counts = Counter(v for v in values if isinstance(v, str))
    canonical = {
        spelling: max(spellings, key=lambda s: (counts[s], s == s.strip(), s))
        for spellings in variants.values()
        for spelling in spellings
    }
    warnings.warn(
        f"{where}: merged {name} labels that differ only by case or spaces ({shown}).", stacklevel=3
    )
    return np.asarray([canonical.get(v, v) if isinstance(v, str) else v for v in values], dtype=object)


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


def warn_class_imbalance(
    y: np.ndarray, target_names: Sequence[str], target: str, stacklevel: int = 2
) -> None:
    """Warn when the rarest class has fewer than 5 samples or 5% of them: accuracy then misleads."""
    counts = np.bincount(y, minlength=len(target_names))
    smallest = int(counts.argmin())
    if counts[smallest] < max(5, 0.05 * len(y)):
        warnings.warn(
            f"Extreme class imbalance in {target!r}: class {str(target_names[smallest])!r} has only "
            f"{counts[smallest]} of {len(y)} samples; accuracy will mislead (look at balanced accuracy).",
            stacklevel=stacklevel + 1,
        )


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
            constant columns dropped, an ID column guessed, label variants and extreme class imbalance.
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


# --------------------------------------------------------------------------------------------------
# Preprocessing: learned on the training split, saved inside the model
# --------------------------------------------------------------------------------------------------


class Preprocessor:
    """Turn a table's columns into a float32 matrix: numeric columns standardized, text columns one-hot.

    ``fit`` learns from the training rows only:

    - numeric column c: x' = (x - mean_c) / std_c (std 1 for a constant column);
    - missing numeric values (with ``impute``): replaced by the training mean or median first;
    - text/boolean column: one 0/1 column per category seen in training ("tissue=liver"). A category
      never seen in training, or a missing value, becomes all zeros (with a warning), not a crash;
    - an ID column (given, or detected: non-numeric and all values different) is kept out of the features.

    Args:
        impute: None (missing values are an error), "mean" or "median".
        max_categories: more distinct values than this in a text column is an error (it is probably
            an identifier or free text, not a category).
        id_column: the ID column's name; None detects it.
        standardize: scale numeric columns to mean 0, standard deviation 1.
    """

    def __init__(
        self,
        impute: str | None = None,
        max_categories: int = 50,
        id_column: str | None = None,
        standardize: bool = True,
    ) -> None:
        if impute not in (None, "mean", "median"):
            raise ValueError(
                "The 'impute' parameter of Preprocessor must be None, 'mean' or 'median'. "
                f"Got {impute!r} instead."
            )
        if isinstance(max_categories, bool) or not isinstance(max_categories, int) or max_categories < 2:
            raise ValueError(
                "The 'max_categories' parameter of Preprocessor must be an int >= 2. "
                f"Got {max_categories!r} instead."
            )
        self.impute = impute
        self.max_categories = max_categories
        self.id_column = id_column
        self.standardize = standardize
        self.numeric: list[dict[str, Any]] = []
        self.categorical: list[dict[str, Any]] = []
        self.columns: list[str] = []
        self.fitted = False

    # -- learning ----------------------------------------------------------------------------------
    def fit(self, frame: Any) -> Preprocessor:
        """Learn means, standard deviations, fill values and categories from these (training) rows."""
        frame = _as_frame(frame)
        if self.id_column is None:
            self.id_column = detect_id_column(frame)
        self.numeric, self.categorical, self.columns = [], [], []
        for name in frame.columns:
            name = str(name)
            if name == self.id_column:
                continue
            column = frame[name]
            self.columns.append(name)
            if _is_numeric(column):
                values = column.to_numpy(dtype=np.float64)
                finite = values[np.isfinite(values)]
                if finite.size == 0:
                    raise DataError(
                        f"Feature column {name!r} has no finite values in the training data, so it can be "
                        "neither scaled nor imputed. Remove the column, or fill in its values."
                    )
                if finite.size < values.size and self.impute is None:
                    raise DataError(
                        f"Feature column {name!r} has {values.size - finite.size} missing or infinite "
                        "values. Fill them in with --impute mean or median (impute='mean' or 'median' in "
                        "Python), or remove them."
                    )
                fill = float(np.median(finite)) if self.impute == "median" else float(finite.mean())
                filled = np.where(np.isfinite(values), values, fill)
                mean, std = float(filled.mean()), float(filled.std())
                if not self.standardize:
                    mean, std = 0.0, 1.0
                self.numeric.append(
                    {"name": name, "mean": mean, "std": std if std > 0 else 1.0, "fill": fill}
                )
            else:
                categories = sorted({str(v) for v in column.dropna()})
                if len(categories) > self.max_categories:
                    raise DataError(
                        f"Column {name!r} has {len(categories)} different text values (more than "
                        f"{self.max_categories}): too many categories to one-hot encode. Drop it, or name it "
                        "as the ID column (--id) if it identifies samples."
                    )
                self.categorical.append({"name": name, "categories": categories})
        if not self.columns:
            raise DataError("The table has no feature columns to learn from.")
        self.fitted = True
        return self

    # -- applying ----------------------------------------------------------------------------------
    def transform(self, frame: Any) -> np.ndarray:
        """The float32 feature matrix (samples, n_features_out) for any table with the fitted columns
        (by name, in any order; extra columns are ignored)."""
        if not self.fitted:
            raise RuntimeError("This Preprocessor is not fitted yet; call fit() on the training data first.")
        frame = _as_frame(frame)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            shown = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise DataError(
                f"The data lacks {len(missing)} column(s) the model was trained on: {shown}. "
                "Columns are matched by name."
            )
        n = len(frame)
        blocks: list[np.ndarray] = []
        numeric_cols = {c["name"]: c for c in self.numeric}
        for name in self.columns:
            if name in numeric_cols:
                stats = numeric_cols[name]
                try:
                    values = frame[name].to_numpy(dtype=np.float64)
                except (TypeError, ValueError):
                    raise DataError(
                        f"Column {name!r} was numeric in training but holds text here "
                        f"(e.g. {str(frame[name].iloc[0])!r})."
                    ) from None
                bad = ~np.isfinite(values)
                if bad.any():
                    if self.impute is None:
                        raise DataError(
                            f"Column {name!r} has {int(bad.sum())} missing or infinite values; the model was "
                            "trained without imputation, so it cannot fill them in. Fill them in first, or "
                            "train again with --impute mean or median (impute='mean' or 'median' in Python)."
                        )
                    values = np.where(bad, stats["fill"], values)
                blocks.append(((values - stats["mean"]) / stats["std"])[:, None])
            else:
                spec = next(c for c in self.categorical if c["name"] == name)
                text = frame[name].astype(object)
                present = text.notna().to_numpy()
                text = np.asarray([str(v) for v in text])
                onehot = (text[:, None] == np.asarray(spec["categories"])[None, :]) & present[:, None]
                unseen = present & ~onehot.any(axis=1)
                if unseen.any():
                    examples = sorted({str(v) for v in text[unseen]})[:3]
                    warnings.warn(
                        f"Column {name!r}: {int(unseen.sum())} value(s) not seen in training "
                        f"({', '.join(map(repr, examples))}) are encoded as all zeros.",
                        stacklevel=2,
                    )
                blocks.append(onehot.astype(np.float64))
        x = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0))
        return x.astype(np.float32)

    def fit_transform(self, frame: Any) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns: numeric columns as they are, categories as "column=value"."""
        numeric = {c["name"] for c in self.numeric}
        names: list[str] = []
        for name in self.columns:
            if name in numeric:
                names.append(name)
            else:
                spec = next(c for c in self.categorical if c["name"] == name)
                names.extend(f"{name}={v}" for v in spec["categories"])
        return names

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # -- saving ------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything learned, as a JSON-able dict (saved in the model's JSON file; no pickle)."""
        return {
            "impute": self.impute,
            "max_categories": self.max_categories,
            "id_column": self.id_column,
            "standardize": self.standardize,
            "columns": list(self.columns),
            "numeric": [dict(c) for c in self.numeric],
            "categorical": [
                {"name": c["name"], "categories": list(c["categories"])} for c in self.categorical
            ],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted Preprocessor from :meth:`to_config`'s dict."""
        try:
            prep = cls(
                impute=config["impute"],
                max_categories=int(config["max_categories"]),
                id_column=config["id_column"],
                standardize=bool(config["standardize"]),
            )
            prep.columns = [str(c) for c in config["columns"]]
            prep.numeric = [
                {
                    "name": str(c["name"]),
                    "mean": float(c["mean"]),
                    "std": float(c["std"]),
                    "fill": float(c["fill"]),
                }
                for c in config["numeric"]
            ]
            prep.categorical = [
                {"name": str(c["name"]), "categories": [str(v) for v in c["categories"]]}
                for c in config["categorical"]
            ]
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"The saved preprocessing settings are incomplete or corrupt ({err!r})."
            ) from None
        prep.fitted = True
        return prep

    def __repr__(self) -> str:
        state = (
            f"{len(self.numeric)} numeric, {len(self.categorical)} categorical columns -> "
            f"{self.n_features} features"
            if self.fitted
            else "not fitted"
        )
        return f"Preprocessor(impute={self.impute!r}, {state})"


def _as_frame(frame: Any) -> Any:
    import pandas as pd

    if isinstance(frame, pd.DataFrame):
        out = frame.copy()
        out.columns = [str(c) for c in out.columns]
        return out
    raise TypeError(
        f"Preprocessor needs a pandas DataFrame (columns matched by name); got {type(frame).__name__}."
    )
