"""The target column of any table, FASTA labels or .h5ad ``obs``: which task it implies, its classes as
codes 0..k-1, labels spelled two ways, and classes too rare or too unequal to measure well.

Every reader calls these, so a target means the same thing whatever file it came from. Which task a y
implies is decided once, in :mod:`biograd.training.targets` (which also picks the loss); this module
applies that rule to a column as read and encodes it.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.bio.errors import DataError
from biograd.data import MAX_NUMERIC_CLASSES

#: A numeric target with at most this many distinct whole-number values is read as class labels (the
#: rule lives in biograd.data.class_label_count).
MAX_INTEGER_CLASSES = MAX_NUMERIC_CLASSES


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


#: A class with fewer samples than this gets a warning of its own, however balanced the classes are.
FEW_SAMPLES = 5


def warn_class_imbalance(
    y: np.ndarray, target_names: Sequence[str], target: str, stacklevel: int = 2
) -> None:
    """Two warnings about a target's classes, each given only when it applies:

    - imbalance: the smallest class holds under 5% of the samples, or at most a quarter of the largest
      class's; accuracy then misleads (predicting the largest class every time scores high);
    - few samples: a class with fewer than ``FEW_SAMPLES`` samples, balanced or not: its metrics rest on a
      handful of samples (6 classes of 4 are balanced, but each is still few).
    """
    counts = np.bincount(y, minlength=len(target_names))
    smallest, largest = int(counts.argmin()), int(counts.argmax())
    if counts[smallest] < 0.05 * len(y) or counts[smallest] * 4 <= counts[largest]:
        warnings.warn(
            f"Class imbalance in {target!r}: class {str(target_names[smallest])!r} has only "
            f"{counts[smallest]} of {len(y)} samples (class {str(target_names[largest])!r} has "
            f"{counts[largest]}); accuracy will mislead (look at balanced accuracy).",
            stacklevel=stacklevel + 1,
        )
    few = [(str(target_names[k]), int(n)) for k, n in enumerate(counts) if n < FEW_SAMPLES]
    if few:
        if len(few) == 1:
            which = f"class {few[0][0]!r} of {target!r}: {few[0][1]}; metrics for it"
        else:
            listed = ", ".join(f"{name!r}: {n}" for name, n in few[:6])
            more = f" and {len(few) - 6} more" if len(few) > 6 else ""
            which = f"{len(few)} classes of {target!r} ({listed}{more}); metrics for them"
        warnings.warn(
            f"Few samples in {which} will be very uncertain. Collect more samples, or merge classes.",
            stacklevel=stacklevel + 1,
        )
