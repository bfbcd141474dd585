"""DataLoader and splits: every sample once per epoch, reproducible shuffles, and stratified splits checked
against scikit-learn's StratifiedShuffleSplit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import biograd
from biograd.data import (
    DataLoader,
    TensorDataset,
    looks_like_class_labels,
    split_indices,
    train_test_split,
    train_val_split,
)
from biograd.tensor import Tensor


def _dataset(n: int = 23):
    x = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    y = np.arange(n) % 3
    return x, y


# --------------------------------------------------------------------------------------------------
# TensorDataset
# --------------------------------------------------------------------------------------------------


def test_tensor_dataset_rows_and_dtypes():
    x, y = _dataset()
    ds = TensorDataset(x, y)
    assert len(ds) == 23
    xa, ya = ds.arrays
    assert xa.dtype == np.float32 and ya.dtype == y.dtype  # floats -> float32; labels stay integers
    xi, yi = ds[4]
    assert isinstance(xi, Tensor) and isinstance(yi, Tensor)
    np.testing.assert_array_equal(xi.data, x[4])
    assert int(yi.data) == y[4] and yi.data.dtype.kind == "i"
    assert TensorDataset(x, dtype=None).arrays[0].dtype == np.float64
    t = biograd.tensor(np.ones((23, 2)))
    assert TensorDataset(t, y).arrays[0].shape == (23, 2)
    assert "23 samples" in repr(ds)


def test_tensor_dataset_errors():
    x, y = _dataset()
    with pytest.raises(ValueError, match=r"same number of samples .* array 0: 23 rows, array 1: 22 rows"):
        TensorDataset(x, y[:-1])
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(TypeError, match=r"array 1 holds text .*LabelEncoder"):
        TensorDataset(x, np.array(["a", "b", "c"] * 7 + ["a", "b"]))
    with pytest.raises(ValueError, match="single number"):
        TensorDataset(np.float32(3.0))
    with pytest.raises(ValueError, match="floating-point dtype"):
        TensorDataset(x, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# DataLoader
# --------------------------------------------------------------------------------------------------


def _epoch_rows(loader) -> list[int]:
    """The sample numbers seen in one epoch (x's first column is 3 * row)."""
    rows = []
    for xb, yb in loader:
        rows.extend((xb.data[:, 0] / 3).astype(int).tolist())
        np.testing.assert_array_equal(yb.data, (xb.data[:, 0] / 3).astype(int) % 3)  # x and y stay paired
    return rows


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "expected_batches", "expected_sizes"),
    [
        (5, False, 5, [5, 5, 5, 5, 3]),
        (5, True, 4, [5, 5, 5, 5]),
        (23, False, 1, [23]),
        (100, False, 1, [23]),
        ("full", False, 1, [23]),
        ("FULL", True, 1, [23]),
        (1, False, 23, [1] * 23),
    ],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_counts_and_sizes(batch_size, drop_last, expected_batches, expected_sizes, shuffle):
    x, y = _dataset()
    loader = DataLoader(
        TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=1
    )
    assert (
        len(loader)
        == expected_batches
        == math.ceil(23 / loader.batch_size) - (drop_last and 23 % loader.batch_size != 0)
    )
    batches = list(loader)
    assert [len(xb.data) for xb, _ in batches] == expected_sizes
    rows = _epoch_rows(loader)
    if not drop_last:
        assert sorted(rows) == list(range(23))  # every sample exactly once per epoch
    else:
        assert len(set(rows)) == len(rows) == sum(expected_sizes)
    if not shuffle:
        assert rows == sorted(rows)


def test_gradient_descent_names():
    ds = TensorDataset(*_dataset())
    assert DataLoader(ds, batch_size="full").gradient_descent == "batch"
    assert DataLoader(ds, batch_size=1).gradient_descent == "stochastic"
    assert DataLoader(ds, batch_size=8).gradient_descent == "mini-batch"
    assert "mini-batch gradient descent" in repr(DataLoader(ds, batch_size=8))


def test_batches_are_tensors_with_integer_labels():
    x, y = _dataset()
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=0)))
    assert isinstance(xb, Tensor) and xb.data.dtype == np.float32 and not xb.requires_grad
    assert isinstance(yb, Tensor) and yb.data.dtype == y.dtype
    # integer labels go straight into cross-entropy (oracle: the closed form -log softmax at the label)
    logits = biograd.tensor(np.zeros((4, 3)))
    loss = biograd.functional.cross_entropy(logits, yb)
    assert loss.item() == pytest.approx(math.log(3), rel=1e-6)


def test_shuffle_reproducible_and_reshuffles_each_epoch():
    x, y = _dataset(50)
    ds = TensorDataset(x, y)
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=42)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=42)
    epochs_a = [_epoch_rows(a) for _ in range(3)]
    epochs_b = [_epoch_rows(b) for _ in range(3)]
    assert epochs_a == epochs_b  # same seed, same sequence of epochs
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]  # a new order every epoch
    assert epochs_a[0] != sorted(epochs_a[0])  # actually shuffled
    assert _epoch_rows(DataLoader(ds, batch_size=8, shuffle=True, seed=43)) != epochs_a[0]
    # oracle for the order: numpy's permutation from the same seed
    assert epochs_a[0] == np.random.default_rng(42).permutation(50).tolist()


def test_shuffle_uses_global_generator_without_seed():
    ds = TensorDataset(*_dataset(40))
    biograd.manual_seed(7)
    first = _epoch_rows(DataLoader(ds, batch_size=8, shuffle=True))
    biograd.manual_seed(7)
    second = _epoch_rows(DataLoader(ds, batch_size=8, shuffle=True))
    assert first == second and first != sorted(first)


def test_general_dataset_is_collated():
    class Squares:
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    batches = list(DataLoader(Squares(), batch_size=4))
    assert [len(xb.data) for xb, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[1][0].data, [[4, 16], [5, 25], [6, 36], [7, 49]])
    np.testing.assert_array_equal(batches[1][1].data, [0, 1, 0, 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            dict(batch_size=0),
            ValueError,
            r"The 'batch_size' parameter of DataLoader must be an int >= 1 .* Got 0",
        ),
        (dict(batch_size="all"), ValueError, r"'full' \(batch gradient descent\). Got 'all' instead"),
        (dict(batch_size=2.5), ValueError, r"'batch_size' parameter of DataLoader"),
        (dict(batch_size=True), ValueError, r"'batch_size' parameter of DataLoader"),
        (dict(batch_size=50, drop_last=True), ValueError, r"gives no batch at all"),
        (dict(shuffle="yes"), TypeError, r"The 'shuffle' parameter of DataLoader must be True or False"),
    ],
)
def test_dataloader_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(TensorDataset(*_dataset()), **kwargs)


def test_dataloader_needs_a_dataset():
    x, _ = _dataset()
    with pytest.raises(TypeError, match=r"wrap your arrays first, e.g. DataLoader\(TensorDataset\(x, y\)"):
        DataLoader(x)
    with pytest.raises(ValueError, match="empty dataset"):
        DataLoader(TensorDataset(np.zeros((0, 3))))


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


def _sorted_classes(n_per_class=(60, 30, 10)):
    """A table sorted by class: the trap for 'the last rows' validation splits."""
    y = np.concatenate([np.full(k, c) for c, k in enumerate(n_per_class)])
    x = np.arange(len(y), dtype=np.float64)[:, None] * np.ones((1, 2))
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_stratified_like_sklearn(seed):
    from sklearn.model_selection import StratifiedShuffleSplit

    x, y = _sorted_classes()
    x_train, x_val, y_train, y_val = train_val_split(x, y, val_fraction=0.25, seed=seed)
    assert len(x_val) == 25 and len(x_train) == 75
    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=seed)
    ref_train, ref_val = next(sss.split(x, y))
    for ours, ref in [(y_val, y[ref_val]), (y_train, y[ref_train])]:
        assert np.all(np.abs(np.bincount(ours, minlength=3) - np.bincount(ref, minlength=3)) <= 1)
    # rows stay paired, nothing lost or repeated
    np.testing.assert_array_equal(y[x_val[:, 0].astype(int)], y_val)
    assert sorted(np.concatenate([x_train[:, 0], x_val[:, 0]]).astype(int).tolist()) == list(range(100))


def test_split_is_shuffled_not_the_last_rows():
    x, y = _sorted_classes()
    _, x_val, _, y_val = train_val_split(x, y, val_fraction=0.2, seed=0)
    rows = x_val[:, 0].astype(int)
    assert set(rows) != set(range(80, 100))
    assert len(np.unique(y_val)) == 3  # the last rows would hold class 2 only
    x_train, *_ = train_val_split(x, y, val_fraction=0.2, seed=0, stratify=None)
    assert x_train[:, 0].tolist() != sorted(x_train[:, 0].tolist())


def test_split_is_reproducible():
    x, y = _sorted_classes()
    a = train_val_split(x, y, seed=5)
    b = train_val_split(x, y, seed=5)
    c = train_val_split(x, y, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    biograd.manual_seed(3)
    d = train_val_split(x, y)
    biograd.manual_seed(3)
    e = train_val_split(x, y)
    np.testing.assert_array_equal(d[1], e[1])


def test_split_keeps_types():
    import pandas as pd

    x, y = _sorted_classes()
    frame = pd.DataFrame(x, columns=["a", "b"])
    series = pd.Series(np.array(["tumour", "normal", "other"])[y])
    f_train, f_val, _, s_val = train_val_split(frame, series, seed=0)
    assert isinstance(f_train, pd.DataFrame) and isinstance(s_val, pd.Series)
    assert (f_val.index == s_val.index).all()  # rows stay paired
    assert set(s_val) == {"tumour", "normal", "other"}  # text labels were stratified
    _, t_val = train_val_split(biograd.tensor(x), seed=0)
    assert isinstance(t_val, Tensor) and len(t_val.data) == 20
    _, l_val, *_ = train_val_split(x.tolist(), y.tolist(), seed=0)
    assert isinstance(l_val, list) and len(l_val) == 20


def test_train_test_split_several_arrays():
    x, y = _sorted_classes()
    w = np.arange(100)
    _, x_te, _, w_te, _, y_te = train_test_split(x, w, y, test_fraction=0.3, seed=0)
    assert len(x_te) == len(w_te) == len(y_te) == 30
    np.testing.assert_array_equal(x_te[:, 0].astype(int), w_te)
    np.testing.assert_array_equal(np.bincount(y_te), [18, 9, 3])  # 30% of 60, 30, 10


def test_auto_stratify_decision():
    assert looks_like_class_labels(np.array([0, 1, 2, 1, 0, 2]))
    assert looks_like_class_labels(np.array(["a", "b", "a", "b"]))
    assert looks_like_class_labels(np.array([True, False, True, False]))
    assert looks_like_class_labels(np.array([0.0, 1.0, 1.0, 0.0]))
    assert looks_like_class_labels(np.array([[0], [1], [1], [0]]))
    assert not looks_like_class_labels(np.linspace(0, 1, 50))  # measurements
    assert not looks_like_class_labels(np.arange(200))  # too many distinct integers
    assert not looks_like_class_labels(np.zeros((10, 3)))


def test_regression_targets_are_only_shuffled():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = rng.normal(size=40)
    *_, y_val = train_val_split(x, y, seed=0)
    _, held = split_indices(40, 0.2, None, seed=0)
    np.testing.assert_array_equal(y_val, y[held])


def test_split_errors():
    x, y = _sorted_classes((10, 10, 1))
    with pytest.raises(ValueError, match=r"Cannot stratify the validation split: class 2 has only 1 sample"):
        train_val_split(x, y, stratify=True, seed=0)
    with pytest.warns(UserWarning, match="shuffled but not stratified"):
        _, x_val, _, _ = train_val_split(x, y, seed=0)  # "auto" falls back to shuffling, with a warning
    assert len(x_val) == 5
    x, y = _sorted_classes((5, 5, 5))
    with pytest.raises(ValueError, match=r"2 validation and 13 training samples, but there are 3 classes"):
        train_val_split(x, y, val_fraction=0.1, stratify=True)
    with pytest.raises(ValueError, match=r"leaves 0 training and 1 validation samples"):
        train_val_split(np.zeros((1, 2)), np.zeros(1), stratify=None)
    with pytest.raises(ValueError, match=r"fraction must be a float in the range \(0, 1\)"):
        train_val_split(x, y, val_fraction=1.0)
    with pytest.raises(ValueError, match=r"fraction must be a float in the range \(0, 1\)"):
        train_test_split(x, y, test_fraction=0)
    with pytest.raises(ValueError, match=r"array 0 has 15 rows but array 1 has 14"):
        train_val_split(x, y[:-1])
    with pytest.raises(ValueError, match=r"'stratify' parameter must be None, True, 'auto'"):
        train_val_split(x, y, stratify="yes")
    with pytest.raises(TypeError, match=r"'seed' parameter must be an int"):
        train_val_split(x, y, seed="abc")


def test_split_messages_serve_the_command_line_and_python_with_plain_values():
    x, y = _sorted_classes((5, 5, 5))
    with pytest.raises(ValueError) as err:
        train_val_split(x, y, val_fraction=0.1, stratify=True)
    message = str(err.value)
    assert "--val-fraction on the command line, val_fraction= in Python" in message, message
    assert "stratify=None in Python splits without stratifying" in message
    x, y = _sorted_classes((10, 10, 1))
    with pytest.raises(ValueError, match=r"Remove or merge rare classes \(in Python, stratify=None splits"):
        train_test_split(x, y, stratify=True, seed=0)
    for bad, shown in [(np.float64(1.5), "Got 1.5 instead"), (np.int64(2), "Got 2 instead")]:
        with pytest.raises(ValueError) as err:
            train_val_split(x, y, val_fraction=bad)
        assert shown in str(err.value) and "np." not in str(err.value)
    with pytest.raises(ValueError) as err:
        DataLoader(TensorDataset(x, y), batch_size=np.float64(2.5))
    assert "Got 2.5 instead" in str(err.value)


def test_subset_batches_are_the_rows_it_names_without_a_copy_of_the_rest():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    rows = np.array([3, 7, 8, 15, 19, 0])
    subset = biograd.data.Subset(biograd.data.TensorDataset(x, y), rows)
    assert len(subset) == 6
    np.testing.assert_array_equal(subset[1][0].data, x[7])
    seen = [yb.data for _, yb in biograd.data.DataLoader(subset, batch_size=4)]
    np.testing.assert_array_equal(np.concatenate(seen), y[rows])  # in order, the last short batch kept
    shuffled = biograd.data.DataLoader(subset, batch_size=4, shuffle=True, seed=0)
    for xb, yb in shuffled:
        np.testing.assert_array_equal(xb.data, x[yb.data])  # rows and labels stay paired
    assert sorted(np.concatenate([yb.data for _, yb in shuffled])) == sorted(rows)
    with pytest.raises(IndexError, match=r"\[0, 20\)"):
        biograd.data.Subset(biograd.data.TensorDataset(x, y), [3, 20])
