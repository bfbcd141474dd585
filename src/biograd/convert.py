"""Turning what a user passes (numbers, nested lists, numpy arrays) into the array a Tensor holds,
with errors that say what was wrong in the user's terms (text columns, ragged rows)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _describe(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn numbers, nested lists or arrays into a numpy array; float32 unless told or given float64."""
    if isinstance(data, (str, bytes)):
        raise TypeError(
            f"biograd.tensor() needs numbers; got the text {_describe(data)}. "
            "Convert text columns to numbers first (for categories, one-hot encode them)."
        )
    try:
        arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    except ValueError as err:
        if "inhomogeneous" in str(err) or "sequence" in str(err):
            raise TypeError(
                "biograd.tensor() got a ragged nested list (rows of different lengths): every row must "
                f"have the same number of values. Got {_describe(data)}."
            ) from None
        raise TypeError(f"biograd.tensor() could not read {_describe(data)} as numbers: {err}") from None
    except TypeError:
        raise TypeError(
            f"biograd.tensor() needs numbers; got an object of type {type(data).__name__}."
        ) from None
    if dtype is not None:
        return arr
    kind = arr.dtype.kind
    if kind == "f":
        # float64 that came with the data (numpy, pandas, a torch tensor) is kept; Python floats and
        # lists of them become float32, biograd's default
        given_float64 = arr.dtype == np.float64 and not isinstance(data, (float, int, list, tuple))
        return arr if given_float64 or arr.dtype == np.float32 else arr.astype(np.float32)
    if kind in "iu":
        return arr.astype(np.float32)
    if kind == "b":
        return arr
    if kind in "USO":
        what = "text" if kind in "US" else "Python objects"
        raise TypeError(
            f"biograd.tensor() needs numbers; got {what} ({_describe(data)}). "
            "Convert text columns to numbers first (for categories, one-hot encode them)."
        )
    raise TypeError(f"biograd.tensor() cannot use data of dtype {arr.dtype}.")
