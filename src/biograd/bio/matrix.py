"""Expression matrices as they come: genes as rows, samples as columns, and a separate sample sheet.

GEO series matrices, count tables from RNA-seq pipelines and most lab spreadsheets keep one gene per row
and one sample per column, with what is known about each sample (tumour type, donor, batch) in another
file, the sample sheet. :func:`join_matrix_and_sheet` turns the pair into the one table per sample that
training needs: one row per sample, one column per gene, plus the sample sheet's columns asked for.

Which way round the matrix is comes from the sample sheet: its sample IDs match either the matrix's column
headers (genes x samples) or the matrix's first column (samples x genes). ``orientation`` states it when
both or neither match.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from typing import Any

from biograd.bio.errors import DataError

ORIENTATIONS = ("auto", "genes-by-samples", "samples-by-genes")


def _text(values: Any) -> list[str]:
    return [str(v).strip() for v in values]


def _sheet_id_column(sheet: Any, candidates: set[str], sheet_name: str, given: str | None) -> tuple[str, int]:
    """The sample sheet's column whose values match ``candidates`` best, and how many match."""
    if given is not None:
        if given not in sheet.columns:
            close = difflib.get_close_matches(given, list(sheet.columns), n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise DataError(f"The sample sheet {sheet_name!r} has no column {given!r}.{hint}")
        return given, len(set(_text(sheet[given])) & candidates)
    best, hits = str(sheet.columns[0]), -1
    for column in sheet.columns:
        n = len(set(_text(sheet[column])) & candidates)
        if n > hits:
            best, hits = str(column), n
    return best, hits


def join_matrix_and_sheet(
    matrix: Any,
    sheet: Any,
    keep: Sequence[str],
    *,
    matrix_name: str = "the matrix",
    sheet_name: str = "the sample sheet",
    sheet_id_column: str | None = None,
    orientation: str = "auto",
) -> Any:
    """One row per sample: the matrix's features joined with the sample sheet's ``keep`` columns.

    Args:
        matrix: a DataFrame, either genes x samples (first column: gene names; other headers: sample IDs)
            or samples x genes (first column: sample IDs; other headers: gene names).
        sheet: a DataFrame with one row per sample, a column of sample IDs and e.g. the target column.
        keep: the sample sheet columns to carry over (the target, a --groups column).
        sheet_id_column: the sheet's column of sample IDs (default: the column matching the matrix best).
        orientation: "auto", "genes-by-samples" or "samples-by-genes".

    Returns a DataFrame with the sample ID column first (named as in the sheet), then ``keep``, then the
    features. Samples only in the matrix or only in the sheet are left out with a warning counting them.

    Raises DataError (naming the files and example IDs) when the IDs do not match or are ambiguous.
    """
    import pandas as pd

    if orientation not in ORIENTATIONS:
        raise DataError(f"The orientation must be one of {', '.join(ORIENTATIONS)}; got {orientation!r}.")
    missing = [c for c in keep if c not in sheet.columns]
    if missing:
        close = difflib.get_close_matches(missing[0], list(sheet.columns), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        shown = ", ".join(map(repr, list(sheet.columns)[:12]))
        raise DataError(
            f"The sample sheet {sheet_name!r} has no column {missing[0]!r}.{hint} Columns: {shown}."
        )
    if matrix.shape[1] < 2:
        raise DataError(f"{matrix_name!r} has {matrix.shape[1]} column(s); expected names plus values.")

    headers = set(_text(matrix.columns[1:]))
    first_column = set(_text(matrix.iloc[:, 0]))
    col_by_headers, hits_headers = _sheet_id_column(sheet, headers, sheet_name, sheet_id_column)
    col_by_rows, hits_rows = _sheet_id_column(sheet, first_column, sheet_name, sheet_id_column)
    if orientation == "auto":
        if hits_headers == 0 and hits_rows == 0:
            sheet_ids = ", ".join(map(repr, _text(sheet[col_by_headers])[:3]))
            some_headers = ", ".join(map(repr, sorted(headers)[:3]))
            some_rows = ", ".join(map(repr, sorted(first_column)[:3]))
            raise DataError(
                f"No sample ID of {sheet_name!r} (e.g. {sheet_ids}) appears in {matrix_name!r}, neither as a "
                f"column header (e.g. {some_headers}) nor in its first column (e.g. {some_rows}). Check that "
                "the two files describe the same samples."
            )
        if hits_headers > 0 and hits_rows > 0:
            raise DataError(
                f"Sample IDs of {sheet_name!r} appear both as column headers and in the first column of "
                f"{matrix_name!r}; say which way round it is with --orientation genes-by-samples or "
                "--orientation samples-by-genes."
            )
        orientation = "genes-by-samples" if hits_headers > 0 else "samples-by-genes"

    if orientation == "genes-by-samples":
        id_column = col_by_headers
        genes = _text(matrix.iloc[:, 0])
        duplicated = sorted({g for g in genes if genes.count(g) > 1}) if len(set(genes)) < len(genes) else []
        if duplicated:
            raise DataError(
                f"{matrix_name!r} names {len(duplicated)} gene(s) more than once (e.g. "
                f"{', '.join(map(repr, duplicated[:3]))}); each row needs its own gene name (sum or drop "
                "the duplicates first)."
            )
        values = matrix.iloc[:, 1:].T
        values.columns = genes
        values.index = _text(matrix.columns[1:])
    else:
        id_column = col_by_rows
        values = matrix.iloc[:, 1:].copy()
        values.index = _text(matrix.iloc[:, 0])
        if values.index.duplicated().any():
            dup = sorted(set(values.index[values.index.duplicated()]))[:3]
            raise DataError(f"{matrix_name!r} lists sample(s) {', '.join(map(repr, dup))} more than once.")
        values.columns = _text(values.columns)

    clash = [c for c in [id_column, *keep] if c in set(values.columns)]
    if clash:
        raise DataError(
            f"{matrix_name!r} has a feature named {clash[0]!r}, like a column of {sheet_name!r}; rename one."
        )
    info = sheet[[id_column, *[c for c in keep if c != id_column]]].copy()
    info[id_column] = _text(info[id_column])
    if info[id_column].duplicated().any():
        dup = sorted(set(info[id_column][info[id_column].duplicated()]))[:3]
        raise DataError(f"{sheet_name!r} lists sample(s) {', '.join(map(repr, dup))} more than once.")
    in_matrix = set(values.index)
    in_sheet = set(info[id_column])
    only_matrix = sorted(in_matrix - in_sheet)
    only_sheet = sorted(in_sheet - in_matrix)
    if only_matrix or only_sheet:
        parts = []
        if only_matrix:
            parts.append(
                f"{len(only_matrix)} sample(s) of {matrix_name!r} are not in {sheet_name!r} "
                f"(e.g. {', '.join(map(repr, only_matrix[:3]))})"
            )
        if only_sheet:
            parts.append(
                f"{len(only_sheet)} sample(s) of {sheet_name!r} are not in {matrix_name!r} "
                f"(e.g. {', '.join(map(repr, only_sheet[:3]))})"
            )
        warnings.warn("; ".join(parts) + "; they were left out.", stacklevel=2)
    numbers = values.apply(pd.to_numeric, errors="coerce").astype("float64")
    typo = numbers.isna().to_numpy() & values.notna().to_numpy()
    if typo.any():
        row, col = (int(v[0]) for v in typo.nonzero())
        cell = str(values.iat[row, col])
        raise DataError(
            f"{matrix_name!r}: the value {cell!r} of gene {values.columns[col]!r} in sample "
            f"{values.index[row]!r} is not a number ({int(typo.sum())} such cell(s)). Correct it, or leave "
            "the cell empty to mark it missing."
        )
    numbers = numbers.reset_index(names=id_column)
    joined = info.merge(numbers, on=id_column, how="inner", sort=False)
    return joined.reset_index(drop=True)
