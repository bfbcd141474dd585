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
    """The column separator: tab for .tsv/.tab; for .csv, whichever of comma, semicolon and tab the header
    row holds most of (a comma on a tie: semicolons come from Excel in countries that write decimal
    commas); for other names, sniffed from the first lines."""
    suffixes = [s.lower() for s in path.suffixes]
    first = head.splitlines()[0] if head else ""
    if ".tsv" in suffixes or ".tab" in suffixes:
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


def read_frame(path: str | PathLike) -> Any:
    """Read a CSV or TSV file into a pandas DataFrame (delimiter from the extension or the content).

    Gzipped files are read too. Text that is not UTF-8 is read as cp1252 (or latin-1) with a warning; a
    semicolon-separated table may write numbers with decimal commas ("5,69"), which are read as numbers.

    Raises FileNotFoundError for a missing file and DataError for an empty or unreadable one, or one
    with duplicated column names (which pandas would silently rename).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Data file {str(path)!r} not found. Check the path.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder, not a CSV/TSV file.")
    if path.stat().st_size == 0:
        raise DataError(f"{str(path)!r} is empty (0 bytes); expected a CSV/TSV table with a header row.")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip
        import zlib

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{str(path)!r} is a damaged gzip file ({err}).") from None
    text = _decode(path, data)
    sep = _delimiter(path, text[:65536])
    try:
        names = list(pd.read_csv(io.StringIO(text), sep=sep, nrows=1, header=None).iloc[0])  # unrenamed
        frame = pd.read_csv(io.StringIO(text), sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{str(path)!r} has no columns; expected a CSV/TSV table with a header row."
        ) from None
    except pd.errors.ParserError as err:
        first = str(err).strip().splitlines()[0]
        raise DataError(f"{str(path)!r} could not be read as a table: {first}") from None
    names = [str(n) for n in names if not pd.isna(n)]  # blank names become "Unnamed: 6", all different
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(
            f"{str(path)!r}: duplicated column names {', '.join(map(repr, duplicated))}; every column needs "
            "its own name."
        )
    if frame.shape[0] == 0:
        raise DataError(f"{str(path)!r} has a header but no rows of data.")
    frame.columns = [str(c) for c in frame.columns]
    if sep == ";":
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


def detect_id_column(frame: Any, exclude: Sequence[str] = ()) -> str | None:
    """The first non-numeric column whose values are all different (sample names), or None."""
    for name in frame.columns:
        if name in exclude:
            continue
        column = frame[name]
        if not _is_numeric(column) and column.notna().all() and column.nunique() == len(column) > 1:
            return str(name)
    return None


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


def _check_text_columns(features: Any, where: str, max_categories: int) -> None:
    """Text columns must be categories: not numbers spoiled by a few words, not free text or IDs."""
    import pandas as pd

    for name in features.columns:
        column = features[name]
        if _is_numeric(column) or pd.api.types.is_bool_dtype(column):
            continue
        present = column.dropna()
        as_numbers = pd.to_numeric(present, errors="coerce")
        text = present[as_numbers.isna()]
        if len(present) and len(text) <= 0.1 * len(present):
            examples = ", ".join(map(repr, sorted({str(v) for v in text})[:3]))
            raise DataError(
                f"{where}: column {name!r} holds numbers but {len(text)} value(s) are text ({examples}). "
                "Leave missing values empty (or NA) and use --impute mean or median (impute='mean' or "
                "'median' in Python), or fix those cells."
            )
        n_categories = present.astype(str).nunique()
        if n_categories > max_categories:
            raise DataError(
                f"{where}: column {name!r} has {n_categories} different text values (more than "
                f"{max_categories}), too many categories to one-hot encode. Drop it, or pass it as the ID "
                "column (--id) if it names the samples."
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
) -> Dataset:
    """Read a CSV/TSV, pick the target column, check the data, and encode the target.

    Returns a :class:`Dataset` whose ``features`` holds the input columns as read (unscaled, categories
    as text; ``x`` is None): fit a :class:`Preprocessor` on its training rows to turn them into numbers.

    Args:
        path: the file (.csv, .tsv, or sniffed from its content), or a DataFrame already read (then
            ``source`` names it in messages).
        target: the column to predict.
        id_column: a column of sample names, kept for the prediction table and not used as a feature.
            Default: detected (the first non-numeric column whose values are all different).
        task: "classification", "regression" or "auto" (text or few whole numbers: classification).
        impute: None, "mean" or "median": whether missing feature values will be filled in (by the
            Preprocessor). Without it, NaN or inf in a numeric feature is an error.
        min_samples: fewer rows than this (after dropping rows without a target) is an error.
        max_categories: a text column with more distinct values is an error (see :class:`Preprocessor`).
        groups: a column of group labels (patient, donor, family), kept in ``Dataset.groups`` and not used
            as a feature.

    Raises:
        DataError: target missing (with the closest column names), an all-missing or single-class target,
            NaN/inf in features without ``impute`` (counts per column), duplicated column names, too few
            samples. A warning for rows dropped for a missing target and for extreme class imbalance.
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
        y_raw = frame[target]
    if task == "regression" and _is_numeric(y_raw) and not np.isfinite(y_raw.to_numpy(np.float64)).all():
        raise DataError(f"The target column {target!r} in {where} contains inf; remove those rows.")

    if id_column is None:
        id_column = detect_id_column(frame, exclude=[c for c in (target, groups) if c])
    ids = frame[id_column].astype(str).tolist() if id_column else None
    group_labels = None if groups is None else frame[groups].astype(str).to_numpy()
    features = frame.drop(columns=list(dict.fromkeys(c for c in (target, id_column, groups) if c)))
    if features.shape[1] == 0:
        raise DataError(f"{where} has no feature columns besides the target {target!r}.")

    _check_text_columns(features, where, max_categories)
    bad = _non_finite_counts(features)
    if bad and impute is None:
        listed = ", ".join(f"{name} ({n})" for name, n in list(bad.items())[:6])
        more = f" and {len(bad) - 6} more columns" if len(bad) > 6 else ""
        raise DataError(
            f"{where}: missing or infinite values in {len(bad)} feature column(s): {listed}{more}.\n"
            "Fill them in with --impute mean or --impute median (impute='mean' or 'median' in Python), or "
            "remove them."
        )
    y, target_names, task = encode_target(y_raw.to_numpy(), task=task, name=target)
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
