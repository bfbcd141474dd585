"""The playground's built-in data: two-marker cell populations and a two-drug dose-response surface.

Each data set is two numbers per cell or well, as a biologist would plot them:

- ``gating``: CD4 and CD8 intensities (arcsinh-transformed, as flow cytometry software shows them) of four
  T-cell populations; the single-positive cells (CD4+CD8- and CD4-CD8+) are one class, the double-negative
  and double-positive cells the other: an XOR that no single straight gate separates.
- ``ring``: an activated population (CD25 and CD69 high in the middle of the plot) surrounded by a ring of
  resting cells: a circular gate.
- ``spiral``: two interleaved spirals (two clones drifting along a differentiation trajectory).
- ``blobs``: B cells (CD19+) and T cells (CD3+): two clouds a straight line separates.
- ``three``: T, B and NK cells on CD3 and CD19: three classes (softmax).
- ``dose``: cell viability (0-1) after two drugs at log10 doses: regression on a Bliss-independent surface of
  two Hill curves.

``noise`` (0-1) widens the populations (classification) or adds measurement noise (regression); ``seed``
fixes the draw. The rows are then split into training and test rows at random (``train_ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASETS = {
    "gating": "T-cell gating (CD4 vs CD8): single positive or not (XOR-like)",
    "ring": "activated cells inside a ring of resting cells",
    "spiral": "two clones along spiral trajectories",
    "blobs": "B cells and T cells: two blobs",
    "three": "T, B and NK cells: three classes",
    "dose": "viability after two drugs: dose-response regression",
}


@dataclass
class Data:
    """Rows split into training and test rows, with their names for the page and the exported script.

    ``x`` is in the units of the plot (e.g. arcsinh intensity); the network sees it standardized with the
    training rows' ``mean`` and ``std``. ``y`` holds class indices (classification, ``classes`` names them)
    or numbers (regression).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    target_name: str
    task: str  # "binary", "multiclass" or "regression"
    classes: list[str] | None
    description: str
    mean: np.ndarray
    std: np.ndarray
    notes: list[str]


def _check(name: str, n: int, noise: float, train_ratio: float) -> None:
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}. Choose one of: {', '.join(DATASETS)}.")
    if not 20 <= n <= 5000:
        raise ValueError(f"The number of points must be between 20 and 5000. Got {n} instead.")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"The noise must be between 0 and 1. Got {noise} instead.")
    if not 0.1 <= train_ratio <= 0.9:
        raise ValueError(f"The training fraction must be between 0.1 and 0.9. Got {train_ratio} instead.")


def generate(name: str, n: int = 500, noise: float = 0.2, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of the data set ``name`` (see the module docstring): x of shape (n, 2), and y (class
    indices as int64, or float64 viabilities for ``"dose"``).

    >>> x, y = generate("gating", n=200, noise=0.1, seed=0)
    >>> x.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    """
    _check(name, n, noise, 0.5)
    rng = np.random.default_rng(seed)
    spread = 0.25 + 0.9 * noise  # standard deviation of a population, in arcsinh units
    if name == "gating":
        low, high = 1.0, 4.0
        centres = np.array([[low, low], [high, high], [high, low], [low, high]])
        which = rng.integers(0, 4, n)
        x = centres[which] + rng.normal(0, spread, (n, 2))
        return x, (which >= 2).astype(np.int64)  # 0: double negative/positive, 1: single positive
    if name == "ring":
        y = (np.arange(n) % 2).astype(np.int64)
        rng.shuffle(y)
        radius = np.where(y == 1, rng.uniform(0, 0.9, n), rng.uniform(1.7, 2.4, n))
        angle = rng.uniform(0, 2 * np.pi, n)
        x = np.c_[2.5 + radius * np.cos(angle), 2.5 + radius * np.sin(angle)]
        return x + rng.normal(0, spread * 0.5, (n, 2)), y
    if name == "spiral":
        y = (np.arange(n) % 2).astype(np.int64)
        u = rng.uniform(0.05, 1.0, n)  # how far along its arm a cell is
        angle = 1.25 * 2 * np.pi * u + np.pi * y  # 1.25 turns; arm 2 is arm 1 turned 180 degrees
        x = np.c_[2.5 + 2.4 * u * np.cos(angle), 2.5 + 2.4 * u * np.sin(angle)]
        return x + rng.normal(0, spread * 0.25, (n, 2)), y
    if name == "blobs":
        y = (np.arange(n) % 2).astype(np.int64)
        rng.shuffle(y)
        centres = np.array([[1.2, 3.6], [3.6, 1.2]])  # B cells: CD19+ CD3-; T cells: CD19- CD3+
        return centres[y] + rng.normal(0, spread * 1.4, (n, 2)), y
    if name == "three":
        y = (np.arange(n) % 3).astype(np.int64)
        rng.shuffle(y)
        centres = np.array([[3.8, 1.0], [1.0, 3.8], [1.0, 1.0]])  # T: CD3+; B: CD19+; NK: neither
        return centres[y] + rng.normal(0, spread * 1.2, (n, 2)), y
    # dose: log10 doses in micromolar from 0.001 to 100; Hill curves with IC50 1 and 3 uM, slopes 1.5 and 1
    x = rng.uniform(-3, 2, (n, 2))
    kill_a = 1 / (1 + 10 ** (1.5 * (np.log10(1.0) - x[:, 0])))
    kill_b = 1 / (1 + 10 ** (1.0 * (np.log10(3.0) - x[:, 1])))
    viability = (1 - kill_a) * (1 - kill_b)  # Bliss independence: the survivors of A also face B
    return x, viability + rng.normal(0, 0.15 * noise, n)


_NAMES = {
    "gating": (["CD4 (arcsinh)", "CD8 (arcsinh)"], "population", ["DN/DP", "single positive"]),
    "ring": (["CD25 (arcsinh)", "CD69 (arcsinh)"], "state", ["resting", "activated"]),
    "spiral": (["marker 1 (arcsinh)", "marker 2 (arcsinh)"], "clone", ["clone A", "clone B"]),
    "blobs": (["CD19 (arcsinh)", "CD3 (arcsinh)"], "cell type", ["B cell", "T cell"]),
    "three": (["CD3 (arcsinh)", "CD19 (arcsinh)"], "cell type", ["T cell", "B cell", "NK cell"]),
    "dose": (["log10 dose drug A (uM)", "log10 dose drug B (uM)"], "viability", None),
}


def split(
    x: np.ndarray, y: np.ndarray, train_ratio: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test rows drawn at random (a permutation from ``seed``), never "the last rows"."""
    order = np.random.default_rng([seed, 7]).permutation(len(x))
    n_train = min(max(round(train_ratio * len(x)), 1), len(x) - 1)
    return x[order[:n_train]], y[order[:n_train]], x[order[n_train:]], y[order[n_train:]]


def standardize(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column of the training rows (a constant column gets std 1)."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def builtin(name: str, n: int = 500, noise: float = 0.2, train_ratio: float = 0.5, seed: int = 1) -> Data:
    """A built-in data set, split and with its names (see :func:`generate`)."""
    _check(name, n, noise, train_ratio)
    x, y = generate(name, n, noise, seed)
    features, target, classes = _NAMES[name]
    task = "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
    x_train, y_train, x_test, y_test = split(x, y, train_ratio, seed)
    mean, std = standardize(x_train)
    return Data(
        x_train, y_train, x_test, y_test, features, target, task, classes, DATASETS[name], mean, std, []
    )


MAX_CLASSES = 8  # the page has eight colours that read for colour-blind viewers
MAX_ROWS = 3000  # more points would slow every frame; larger tables are subsampled (and the page says so)


def columns_of(path: str, shown_name: str) -> dict[str, object]:
    """The columns of an uploaded table (for the page's pickers): names, which are numeric, and the row
    count, read with the package's reader (``biograd.bio.read_frame``) and its errors."""
    from biograd.bio import read_frame

    frame = _read(read_frame, path, shown_name)
    numeric = [str(c) for c in frame.columns if frame[c].dtype.kind in "biuf"]
    return {"columns": [str(c) for c in frame.columns], "numeric": numeric, "rows": len(frame)}


def _read(reader, path: str, shown_name: str, *args, **kwargs):
    """Call a reader of biograd.bio, naming the user's file in its errors instead of our temporary path."""
    from biograd.bio import DataError

    try:
        return reader(path, *args, **kwargs)
    except (DataError, ValueError, FileNotFoundError) as err:
        raise DataError(str(err).replace(str(path), shown_name)) from None


def from_table(
    path: str,
    shown_name: str,
    features: list[str],
    target: str,
    train_ratio: float = 0.5,
    seed: int = 1,
) -> Data:
    """The user's table as playground data: the chosen numeric feature columns and the target column,
    read by ``biograd.bio.load_table`` (its checks and clear errors: missing columns with suggestions,
    NaN/inf, too few rows). Tables longer than ``MAX_ROWS`` keep a random ``MAX_ROWS`` rows (noted)."""
    import warnings

    from biograd.bio import DataError, load_table

    if not features:
        raise DataError("Pick at least one feature column (two give the picture its two axes).")
    if target in features:
        raise DataError(f"The target {target!r} is also picked as a feature; a column cannot predict itself.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = _read(load_table, path, shown_name, target)
    notes = [str(w.message).replace(str(path), shown_name) for w in caught]
    missing = [f for f in features if f not in table.features.columns]
    if missing:
        raise DataError(
            f"{shown_name!r} has no usable feature column {', '.join(map(repr, missing))}; "
            f"usable columns: {', '.join(map(repr, map(str, table.features.columns)))}."
        )
    chosen = table.features[features]
    text = [f for f in features if chosen[f].dtype.kind not in "biuf"]
    if text:
        raise DataError(
            f"The feature column(s) {', '.join(map(repr, text))} of {shown_name!r} hold text, not numbers; "
            "the playground plots numeric columns. Pick numeric columns."
        )
    x = chosen.to_numpy(np.float64)
    y = table.y
    if table.task == "classification":
        classes = [str(c) for c in table.target_names]
        if len(classes) > MAX_CLASSES:
            raise DataError(
                f"The target {target!r} has {len(classes)} classes; the playground colours at most "
                f"{MAX_CLASSES}. Pick another target or merge classes."
            )
        y = np.asarray(y).astype(np.int64).reshape(-1)
        task = "binary" if len(classes) == 2 else "multiclass"
    else:
        classes, task = None, "regression"
        y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(x) > MAX_ROWS:
        keep = np.sort(np.random.default_rng([seed, 11]).choice(len(x), MAX_ROWS, replace=False))
        notes.append(f"The table has {len(x)} rows; a random {MAX_ROWS} of them are used (seed {seed}).")
        x, y = x[keep], y[keep]
    x_train, y_train, x_test, y_test = split(x, y, train_ratio, seed)
    mean, std = standardize(x_train)
    return Data(
        x_train,
        y_train,
        x_test,
        y_test,
        list(features),
        str(target),
        task,
        classes,
        f"your table {shown_name}",
        mean,
        std,
        notes,
    )
