"""Feeding data to a network: datasets, batches, and train/validation/test splits.

A training step computes the loss on some samples, backpropagates, and updates the weights. How many
samples go into one step is the *batch size*, and it names the kind of gradient descent (as in the notes):

- ``batch_size="full"``: **batch gradient descent**, the whole dataset in every step (one step per epoch;
  the exact gradient, but slow on large data);
- ``batch_size=1``: **stochastic gradient descent**, one sample per step (noisy but cheap steps);
- ``batch_size=k`` (e.g. 32): **mini-batch gradient descent**, the usual compromise.

>>> from biograd.data import DataLoader, TensorDataset          # doctest: +SKIP
>>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
>>> for xb, yb in loader:                                        # one epoch
...     ...

Before training, hold some data out: :func:`train_val_split` / :func:`train_test_split` shuffle the rows
(never "the last rows", which would be a trap for tables sorted by class) and, for class labels, stratify
(keep each class's proportion in both parts).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from biograd.random import get_generator
from biograd.tensor import Tensor

__all__ = [
    "MAX_NUMERIC_CLASSES",
    "DataLoader",
    "StratifyError",
    "Subset",
    "TensorDataset",
    "class_label_count",
    "looks_like_class_labels",
    "split_indices",
    "train_test_split",
    "train_val_split",
]


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


def _as_array(data: Any, position: int, dtype: Any) -> np.ndarray:
    arr = np.asarray(data.data if isinstance(data, Tensor) else data)
    if arr.ndim == 0:
        raise ValueError(
            f"TensorDataset: array {position} is a single number; every array needs one row per sample "
            "(shape (samples, ...))."
        )
    kind = arr.dtype.kind
    if kind in "USO":
        raise TypeError(
            f"TensorDataset: array {position} holds {'text' if kind in 'US' else 'Python objects'} "
            f"(dtype {arr.dtype}), but batches must be numbers. Encode class names as integers first "
            "(e.g. sklearn.preprocessing.LabelEncoder) and text features as numbers (e.g. one-hot)."
        )
    if kind == "f" and dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    elif kind not in "fiub":
        raise TypeError(f"TensorDataset: array {position} has dtype {arr.dtype}, which biograd cannot use.")
    return arr


class TensorDataset:
    """Samples stored as arrays that share their first axis (row i of every array is sample i).

    Args:
        *arrays: numpy arrays, nested lists or biograd Tensors, e.g. ``TensorDataset(x, y)`` with x of
            shape (samples, features) and y of shape (samples,) or (samples, outputs).
        dtype: floating-point arrays are stored in this dtype (float32 by default, biograd's dtype, so a
            float64 numpy table does not silently make every layer compute in float64). ``None`` keeps
            the arrays' own dtypes (e.g. float64 for comparisons with PyTorch in double precision).

    Integer and boolean arrays keep their dtype: class labels stay integers, which is what the
    classification losses (``CrossEntropyLoss``) expect. ``dataset[i]`` is a tuple of Tensors, one per
    array; ``dataset.arrays`` holds the arrays themselves.
    """

    def __init__(self, *arrays: Any, dtype: Any = np.float32) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array, e.g. TensorDataset(x, y).")
        dtype = None if dtype is None else np.dtype(dtype)
        if dtype is not None and dtype.kind != "f":
            raise ValueError(
                f"The 'dtype' parameter of TensorDataset must be a floating-point dtype or None. Got {dtype}."
            )
        self.arrays: tuple[np.ndarray, ...] = tuple(_as_array(a, i, dtype) for i, a in enumerate(arrays))
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            detail = ", ".join(f"array {i}: {n} rows" for i, n in enumerate(lengths))
            raise ValueError(
                f"TensorDataset needs the same number of samples (rows, the first axis) in every array; got "
                f"{detail}. Check that x and y come from the same table and were filtered the same way."
            )

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        """Sample(s) ``index`` (an int, a slice or an array of indices) as a tuple of Tensors."""
        return tuple(_to_tensor(a[index]) for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} samples: {shapes})"


class Subset:
    """Some rows of a dataset, without copying them: ``Subset(dataset, indices)`` (as in PyTorch).

    ``subset[i]`` is ``dataset[indices[i]]``. A DataLoader over a Subset of a TensorDataset cuts each batch
    straight from the full arrays, so a training part of a large table costs its indices, not a copy of
    its rows (``fit`` trains on its validation split this way).
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        n = len(dataset)
        if self.indices.size and not (-n <= self.indices.min() and self.indices.max() < n):
            raise IndexError(f"Subset indices must lie in [0, {n}) for a dataset of {n} samples.")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: Any) -> Any:
        rows = self.indices[index]
        return self.dataset[rows if isinstance(rows, np.ndarray) else int(rows)]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {len(self.dataset)} samples of {self.dataset!r})"


def _batch_source(dataset: Any) -> tuple[tuple[np.ndarray, ...] | None, np.ndarray | None]:
    """(arrays, rows) to cut batches from with numpy indexing, or (None, None) for a general dataset."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays, None
    if isinstance(dataset, Subset):
        arrays, rows = _batch_source(dataset.dataset)
        if arrays is not None:
            return arrays, dataset.indices if rows is None else rows[dataset.indices]
    return None, None


def _to_tensor(arr: np.ndarray) -> Tensor:
    """A Tensor holding ``arr`` without a copy, keeping its dtype (integer labels stay integers)."""
    return Tensor(arr, dtype=arr.dtype)


# --------------------------------------------------------------------------------------------------
# DataLoader
# --------------------------------------------------------------------------------------------------


class DataLoader:
    """Batches of a dataset, one epoch per ``for`` loop: batch, stochastic or mini-batch gradient descent.

    Args:
        dataset: a :class:`TensorDataset` or a :class:`Subset` of one (fast: batches are cut from its
            arrays with one numpy indexing per array), or any object with ``len()`` and ``dataset[i]``
            returning a tuple of arrays/Tensors (its samples are stacked).
        batch_size: samples per training step. ``"full"``: batch gradient descent (the whole dataset at
            once); ``1``: stochastic gradient descent; ``k``: mini-batch gradient descent (32 by default).
        shuffle: visit the samples in a new random order every epoch (recommended for training; leave it
            off for evaluation).
        drop_last: skip the last, smaller batch when the dataset size is not a multiple of batch_size.
        seed: makes the shuffling reproducible: the same seed gives the same sequence of epochs. ``None``
            uses biograd's global generator (set by ``biograd.manual_seed``).

    Each batch is a tuple of Tensors, one per array of the dataset (``for xb, yb in loader``). Floating
    arrays come out in the dataset's dtype; integer labels stay integer Tensors (``CrossEntropyLoss``
    reads them as class indices). ``len(loader)`` is the number of batches (steps) per epoch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | str = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        if isinstance(dataset, (np.ndarray, Tensor, list, tuple)):
            raise TypeError(
                f"DataLoader needs a dataset, not a {type(dataset).__name__}: wrap your arrays first, "
                "e.g. DataLoader(TensorDataset(x, y), batch_size=32)."
            )
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader needs a dataset with len() and indexing, such as TensorDataset(x, y); got "
                f"{type(dataset).__name__}."
            )
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader got an empty dataset (0 samples); there is nothing to train on.")
        if isinstance(batch_size, str) and batch_size.lower() == "full":
            size = n
        elif (
            isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size >= 1
        ):
            size = int(batch_size)
        else:
            raise ValueError(
                "The 'batch_size' parameter of DataLoader must be an int >= 1 (1: stochastic, k: mini-batch "
                f"gradient descent) or 'full' (batch gradient descent). Got {_plain(batch_size)!r} instead."
            )
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"The {name!r} parameter of DataLoader must be True or False. Got {_plain(value)!r} "
                    "instead."
                )
        if drop_last and size > n:
            raise ValueError(
                f"DataLoader with drop_last=True and batch_size={size} on {n} samples gives no batch at all. "
                "Use a smaller batch_size, or drop_last=False."
            )
        self.dataset = dataset
        self.batch_size = size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        # A seed gets its own generator, created once: each epoch draws the next permutation from it.
        self._rng = None if seed is None else get_generator(seed)

    @property
    def gradient_descent(self) -> str:
        """The kind of gradient descent this batch size gives: "batch", "stochastic" or "mini-batch"."""
        if self.batch_size >= len(self.dataset):
            return "batch"
        return "stochastic" if self.batch_size == 1 else "mini-batch"

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        size = self.batch_size
        stop_at = (n // size) * size if self.drop_last else n
        order = None
        if self.shuffle:
            rng = self._rng if self._rng is not None else get_generator()
            order = rng.permutation(n)
        arrays, rows = _batch_source(self.dataset)
        for start in range(0, stop_at, size):
            if order is None:
                index: Any = slice(start, min(start + size, n))  # views, no copy
            else:
                index = order[start : start + size]
            if arrays is not None:
                if rows is not None:  # a Subset: its rows of the full arrays
                    index = rows[index]
                yield tuple(_to_tensor(a[index]) for a in arrays)
            else:
                yield self._collate(index, n)

    def _collate(self, index: Any, n: int) -> tuple[Tensor, ...]:
        """Stack the samples of a general dataset into one Tensor per field."""
        rows = range(n)[index] if isinstance(index, slice) else index
        samples = [self.dataset[int(i)] for i in rows]
        if not isinstance(samples[0], (tuple, list)):
            samples = [(s,) for s in samples]
        fields = []
        for values in zip(*samples, strict=True):
            arr = np.stack([np.asarray(v.data if isinstance(v, Tensor) else v) for v in values])
            fields.append(_to_tensor(arr))
        return tuple(fields)

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size} "
            f"({self.gradient_descent} gradient descent), {len(self)} batches per epoch, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


def _labels_array(y: Any) -> np.ndarray:
    if isinstance(y, Tensor):
        return y.data
    if hasattr(y, "to_numpy"):  # pandas Series / DataFrame
        return np.asarray(y.to_numpy())
    return np.asarray(y)


#: Whole numbers are read as class codes when they take at most this many distinct values (and at most
#: one distinct value per two samples): 0/1, grades 1-5, a few tissue codes. Ages or counts take more.
MAX_NUMERIC_CLASSES = 10


def class_label_count(y: Any) -> int | None:
    """How many classes ``y`` holds if its values look like class labels; None if they look measured.

    This is biograd's one answer to "are these values class labels?" (the table readers, the split's
    ``stratify="auto"`` and ``fit`` all come here; :func:`biograd.training.targets.infer_task` adds the
    model's output width and the loss to it):

    - text or booleans, one value per sample: class labels, however many.
    - numbers, integers and floats alike (a table read from a file cannot tell 1 from 1.0, and one missing
      value turns a column of integers into floats): class codes when every finite value is a whole number
      and there are at most :data:`MAX_NUMERIC_CLASSES` distinct values and at most half as many distinct
      values as samples (two values always count: 0/1 is a binary label).
    - anything else (fractions, many distinct numbers such as ages, several values per sample): None.

    Text whose every value reads as a number (``"1"``, ``"2.5"``) counts as those numbers.
    """
    arr = _labels_array(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) == 0:
        return None
    if arr.dtype.kind == "b":
        return len(np.unique(arr))
    if arr.dtype.kind in "OUS":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            return len({str(v) for v in arr})
    if arr.dtype.kind not in "iuf":
        return None
    finite = arr[np.isfinite(arr)] if arr.dtype.kind == "f" else arr
    if finite.size == 0 or not np.all(finite == np.round(finite)):
        return None
    n_classes = len(np.unique(finite))
    if n_classes <= 2 or (n_classes <= MAX_NUMERIC_CLASSES and n_classes <= len(arr) // 2):
        return n_classes
    return None


def looks_like_class_labels(y: Any, max_classes: int = 50) -> bool:
    """Whether ``y`` looks like class labels (so a split should be stratified), not measured values.

    True when :func:`class_label_count` finds class labels (text, booleans, or few distinct whole numbers,
    floats included: ``[0., 1., 1., 0.]`` is a binary label) and there are at most ``max_classes`` of them.
    """
    n_classes = class_label_count(y)
    return n_classes is not None and n_classes <= max_classes


def _seed_int(seed: int | np.random.Generator | None) -> int:
    """An integer seed for scikit-learn: ``seed`` itself, or drawn from a Generator / the global one."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed)
    if seed is None or isinstance(seed, np.random.Generator):
        return int(get_generator(seed).integers(2**32 - 1))
    raise TypeError(
        f"The 'seed' parameter must be an int, a numpy Generator or None. Got {_plain(seed)!r} instead."
    )


class StratifyError(ValueError):
    """A split cannot keep every class's share in both parts (a class too rare, or a part too small)."""


def split_indices(
    n_samples: int,
    fraction: float = 0.2,
    labels: Any = None,
    seed: int | np.random.Generator | None = None,
    *,
    part: str = "validation",
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled row indices (kept, held_out) with ceil(n_samples * fraction) rows held out.

    With ``labels`` the split is stratified: each class keeps (within one sample) its proportion in both
    parts, using scikit-learn's StratifiedShuffleSplit. Raises a ValueError if a part would be empty, and a
    StratifyError (a ValueError) if a class has fewer than 2 samples or a part is too small to hold one
    sample of every class.
    ``part`` only names the held-out part in error messages ("validation", "test").
    """
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(
            f"The {part} fraction must be a float in the range (0, 1), e.g. 0.2. Got {_plain(fraction)!r} "
            "instead."
        )
    n_held = math.ceil(n_samples * fraction)
    n_kept = n_samples - n_held
    if n_kept < 1 or n_held < 1:
        raise ValueError(
            f"A {part} fraction of {fraction:g} of {n_samples} samples leaves {n_kept} training and {n_held} "
            f"{part} samples; both parts need at least one. Use more data or another fraction."
        )
    stratify = None
    if labels is not None:
        stratify = _labels_array(labels)
        if stratify.ndim == 2 and stratify.shape[1] == 1:
            stratify = stratify[:, 0]
        if len(stratify) != n_samples:
            raise ValueError(
                f"The stratification labels have {len(stratify)} rows, but there are {n_samples} samples."
            )
        classes, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2:
            rare = ", ".join(repr(_plain(c)) for c in classes[counts < 2][:5])
            raise StratifyError(
                f"Cannot stratify the {part} split: class {rare} has only 1 sample, but a stratified split "
                "needs at least 2 per class (one for each part). Remove or merge rare classes (in Python, "
                "stratify=None splits without stratifying)."
            )
        if n_held < len(classes) or n_kept < len(classes):
            raise StratifyError(
                f"Cannot stratify the {part} split: {n_held} {part} and {n_kept} training samples, but "
                f"there are {len(classes)} classes and a stratified split puts at least one sample of each "
                f"class in each part. Use a {part} fraction between {len(classes) / n_samples:.2g} and "
                f"{1 - len(classes) / n_samples:.2g} ({_fraction_option(part)}stratify=None in Python "
                "splits without stratifying)."
            )
    from sklearn.model_selection import train_test_split as sk_split

    kept, held = sk_split(
        np.arange(n_samples),
        test_size=n_held,
        train_size=n_kept,
        random_state=_seed_int(seed),
        shuffle=True,
        stratify=stratify,
    )
    return kept, held


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number or str it holds, so messages show 3, not np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


def _fraction_option(part: str) -> str:
    """Where the fraction of a held-out part is set, on the command line and in Python."""
    short = {"validation": "val", "test": "test"}.get(part)
    return f"--{short}-fraction on the command line, {short}_fraction= in Python; " if short else ""


def _take(data: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a numpy array, Tensor, pandas object or list, keeping its type."""
    if isinstance(data, Tensor):
        return Tensor(data.data[index], dtype=data.data.dtype)
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if isinstance(data, np.ndarray):
        return data[index]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return [data[int(i)] for i in index]
    return np.asarray(data)[index]


def _n_rows(data: Any, what: str) -> int:
    try:
        return len(data)
    except TypeError:
        raise TypeError(f"{what} must have one row per sample (an array, Tensor, table or list).") from None


def _resolve_stratify(stratify: Any, y: Any) -> Any:
    """The labels to stratify by (or None) from stratify=None/False/True/"auto"/labels."""
    if stratify is None or stratify is False:
        return None
    if isinstance(stratify, str):
        if stratify != "auto":
            raise ValueError(
                "The 'stratify' parameter must be None, True, 'auto' or an array of labels. "
                f"Got {stratify!r} instead."
            )
        return y if (y is not None and looks_like_class_labels(y)) else None
    if stratify is True:
        if y is None:
            raise ValueError("stratify=True needs y (the class labels to stratify by).")
        return y
    return stratify


def _split(
    arrays: tuple[Any, ...], fraction: float, stratify: Any, seed: Any, part: str, labels_for_auto: Any
) -> list[Any]:
    if not arrays:
        raise ValueError("Nothing to split: pass at least one array, e.g. x and y.")
    n = _n_rows(arrays[0], "x")
    for i, a in enumerate(arrays[1:], start=1):
        if _n_rows(a, f"array {i}") != n:
            raise ValueError(
                f"Every array must have one row per sample; array 0 has {n} rows but array {i} has {len(a)}."
            )
    labels = _resolve_stratify(stratify, labels_for_auto)
    auto = isinstance(stratify, str)
    try:
        kept, held = split_indices(n, fraction, labels, seed, part=part)
    except ValueError as err:
        if not (auto and labels is not None and str(err).startswith("Cannot stratify")):
            raise
        warnings.warn(f"{err} The split is shuffled but not stratified.", UserWarning, stacklevel=3)
        kept, held = split_indices(n, fraction, None, seed, part=part)
    out = []
    for a in arrays:
        out.extend([_take(a, kept), _take(a, held)])
    return out


def train_val_split(
    x: Any,
    y: Any = None,
    val_fraction: float = 0.2,
    stratify: Any = "auto",
    seed: int | np.random.Generator | None = None,
) -> tuple[Any, ...]:
    """Hold out a shuffled (and, for class labels, stratified) validation set.

    The validation set watches training (early stopping, learning-rate schedules); keep a separate test
    set (:func:`train_test_split`) for the final, untouched estimate.

    Args:
        x: the inputs (numpy array, Tensor, pandas DataFrame or list), one row per sample.
        y: the targets, one per sample (or None to split x alone).
        val_fraction: the share held out for validation, in (0, 1): ceil(n * val_fraction) samples.
        stratify: ``"auto"`` (default): stratify when y looks like class labels (text, booleans or a few
            distinct whole numbers; see :func:`class_label_count`), and if a class is too rare to
            stratify, warn and only shuffle. ``True``: stratify by y (errors if impossible). ``None``:
            only shuffle. An array: stratify by those labels.
        seed: makes the split reproducible; None draws from biograd's global generator
            (``biograd.manual_seed``). An int gives the same split as scikit-learn's ``train_test_split``
            with ``random_state`` = seed.

    Returns:
        ``x_train, x_val, y_train, y_val`` (scikit-learn's order), each the same type as its input and in
        shuffled order; ``x_train, x_val`` when y is None.

    >>> x_train, x_val, y_train, y_val = train_val_split(x, y, val_fraction=0.2, seed=0)   # doctest: +SKIP
    """
    arrays = (x,) if y is None else (x, y)
    return tuple(_split(arrays, val_fraction, stratify, seed, "validation", y))


def train_test_split(
    *arrays: Any,
    test_fraction: float = 0.2,
    stratify: Any = "auto",
    seed: int | np.random.Generator | None = None,
) -> list[Any]:
    """Hold out a shuffled (and, for class labels, stratified) test set, like scikit-learn's function.

    ``arrays`` are split along their first axis; with ``stratify="auto"`` the LAST array is taken as the
    labels (``train_test_split(x, y)``). See :func:`train_val_split` for ``stratify`` and ``seed``.

    Returns:
        ``[a_train, a_test, b_train, b_test, ...]`` for arrays a, b, ... (scikit-learn's order).

    >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.25)  # doctest: +SKIP
    """
    labels = arrays[-1] if len(arrays) >= 2 else None
    return _split(arrays, test_fraction, stratify, seed, "test", labels)
