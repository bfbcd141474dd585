"""The main job as a library: read the data, split it, train a network, compare it with classical
baselines, explain it, and write everything a biologist needs into one directory.

``biograd train`` is a thin shell around these functions, so the same run works from Python::

    from biograd import pipeline
    data = pipeline.load_data(dataset="breast-cancer")            # or path="cells.csv", target="type"
    prepared = pipeline.prepare(data, pipeline.TrainConfig(epochs=50))
    result = pipeline.train(prepared)
    pipeline.write_run(result, "runs/demo")                       # model, report.html, metrics.json, ...

The rules that keep the evaluation honest:

1. The **test set** is split off first (stratified by class for classification) and is used once, at the
   end: never for training, early stopping or choosing the preprocessing.
2. The **validation set** is split from the remaining rows; it decides the best epoch (early stopping).
3. Preprocessing (means, standard deviations, categories) is learned from the **training rows** only and
   saved inside the model, so ``predict`` applies exactly the same transformation later.
4. The **baselines** (logistic regression / ridge and a random forest, scikit-learn) learn from the same
   training and validation rows and are scored on the same test rows as the network.

Nothing here prints: progress goes through ``progress=`` (fit's progress bar) and everything else comes
back in a :class:`TrainResult`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.errors import DataError
from biograd.io import current_umask
from biograd.training import EarlyStopping

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".ffn", ".faa", ".fas", ".seq")
H5AD_SUFFIXES = (".h5ad",)
SEQUENCE_KINDS = ("dna", "rna", "protein")
#: Files written by :func:`write_run`; a directory holding only these may be replaced by a new run.
RUN_FILES = (
    "model.safetensors",
    "model.json",
    "report.html",
    "metrics.json",
    "history.csv",
    "predictions.csv",
)
#: Fewer samples than this cannot be split into training, validation and test sets that mean anything.
MIN_SAMPLES = 20
PIPELINE_FORMAT = "biograd-train-1"


class ConfigError(ValueError):
    """A setting of the run is invalid (``--lr -1``, ``--hidden 64,x``, ...); the message names the
    setting, what is allowed and what was given."""


# ==================================================================================================
# Settings
# ==================================================================================================


def parse_hidden(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """Hidden layer sizes from ``"64,32"`` (or a list of ints). ``""``/``"0"``/``"none"``: no hidden
    layer (a linear model). Raises ConfigError for anything else."""
    if text is None:
        return None
    if not isinstance(text, str):
        values = list(text)
    else:
        cleaned = text.strip().lower()
        if cleaned in ("", "0", "none"):
            return ()
        parts = [p.strip() for p in cleaned.split(",")]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(
                "The 'hidden' parameter must be layer sizes separated by commas, e.g. 64,32 (two hidden "
                f"layers of 64 and 32 neurons). Got {text!r} instead."
            ) from None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(
                f"The 'hidden' parameter must hold layer sizes >= 1, e.g. 64,32. Got {text!r} instead."
            )
    return tuple(int(v) for v in values)


@dataclass
class TrainConfig:
    """Every setting of a training run (the command line's options), with checked values.

    ``None`` means "the default for this kind of data" (:meth:`with_defaults`). Tables (an MLP): one hidden
    layer of 32 neurons, dropout 0.3, AdamW with weight decay 0.1, lr 1e-3: a small, regularized network,
    because biological tables are small (hundreds of samples) and a big unregularized one memorizes them
    (on the bundled breast-cancer and diabetes tables it lost to ridge/logistic regression). Sequences (a
    convolutional network): 32 filters, no dropout, Adam, lr 3e-3.
    """

    task: str = "auto"
    hidden: tuple[int, ...] | None = None
    activation: str = "relu"
    epochs: int = 200
    batch_size: int = 32
    lr: float | None = None
    optimizer: str | None = None
    dropout: float | None = None
    weight_decay: float | None = None
    patience: int = 20
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    seed: int = 0
    impute: str | None = None
    kernel_size: int | None = None

    def check(self) -> TrainConfig:
        """Raise ConfigError (scikit-learn style) for the first invalid setting; return self."""
        from biograd.nn.activation import activation_names, get_activation
        from biograd.optim import optimizer_names

        def fail(name: str, rule: str, value: Any) -> None:
            raise ConfigError(f"The '{name}' parameter must be {rule}. Got {value!r} instead.")

        def is_int(v: Any) -> bool:
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_real(v: Any) -> bool:
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        if self.task not in ("auto", "classification", "regression"):
            fail("task", "'auto', 'classification' or 'regression'", self.task)
        if self.hidden is not None:
            self.hidden = parse_hidden(self.hidden)
        hidden_acts = [n for n in activation_names() if n not in ("softmax", "log_softmax", "None")]
        try:
            act = get_activation(self.activation)
        except ValueError:
            act = None
        if not isinstance(self.activation, str) or act is None or self.activation.lower() in ("softmax",):
            fail("activation", f"one of {', '.join(hidden_acts)}", self.activation)
        if not is_int(self.epochs) or self.epochs < 1:
            fail("epochs", "an int >= 1", self.epochs)
        if not is_int(self.batch_size) or self.batch_size < 1:
            fail("batch_size", "an int >= 1", self.batch_size)
        if self.lr is not None and (not is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0):
            fail("lr", "> 0 (e.g. 0.001)", self.lr)
        if self.optimizer is not None and (
            not isinstance(self.optimizer, str) or self.optimizer.lower() not in optimizer_names()
        ):
            fail("optimizer", f"one of {', '.join(optimizer_names())}", self.optimizer)
        if self.dropout is not None and (not is_real(self.dropout) or not 0 <= self.dropout < 1):
            fail("dropout", "a float in [0, 1)", self.dropout)
        if self.weight_decay is not None and (
            not is_real(self.weight_decay) or not math.isfinite(self.weight_decay) or self.weight_decay < 0
        ):
            fail("weight_decay", ">= 0", self.weight_decay)
        if not is_int(self.patience) or self.patience < 1:
            fail("patience", "an int >= 1", self.patience)
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not is_real(value) or not 0 < value < 1:
                fail(name, "a float in (0, 1), e.g. 0.2", value)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError(
                f"val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} leaves almost "
                "nothing to train on; keep their sum below 0.9 (e.g. 0.2 and 0.2)."
            )
        if not is_int(self.seed) or self.seed < 0:
            fail("seed", "an int >= 0", self.seed)
        if self.impute not in (None, "mean", "median"):
            fail("impute", "'mean' or 'median'", self.impute)
        if self.kernel_size is not None and (not is_int(self.kernel_size) or self.kernel_size < 1):
            fail("kernel_size", "an int >= 1", self.kernel_size)
        return self

    def with_defaults(self, is_sequence: bool) -> TrainConfig:
        """A copy with every ``None`` setting replaced by the default for tables or for sequences."""
        optimizer = self.optimizer or ("adam" if is_sequence else "adamw")
        default_decay = 0.1 if optimizer.lower() == "adamw" and not is_sequence else 0.0
        return replace(
            self,
            hidden=self.hidden if self.hidden is not None else (32,),
            lr=self.lr if self.lr is not None else (3e-3 if is_sequence else 1e-3),
            optimizer=optimizer,
            dropout=self.dropout if self.dropout is not None else (0.0 if is_sequence else 0.3),
            weight_decay=self.weight_decay if self.weight_decay is not None else default_decay,
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


# ==================================================================================================
# Reading the data
# ==================================================================================================


@dataclass
class TrainingData:
    """The user's data, read and checked, before any splitting or scaling.

    Tables (CSV/TSV, .h5ad, bundled tables) keep their raw columns in ``features`` (a pandas DataFrame);
    sequences keep their one-hot array in ``x`` (samples, alphabet, length) and the strings.
    """

    kind: str  # "table" | "dna" | "rna" | "protein"
    input_format: str  # "csv" | "fasta" | "h5ad" | "dataset"
    name: str
    source: str
    task: str
    y: np.ndarray
    target_names: list[str]
    target: str
    ids: list[str]
    description: str = ""
    features: Any = None
    x: np.ndarray | None = None
    sequences: list[str] | None = None
    id_column: str | None = None
    layer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        return len(self.y)

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_KINDS

    @property
    def n_features(self) -> int:
        if self.is_sequence:
            return int(np.prod(self.x.shape[1:]))
        return int(self.features.shape[1])

    def class_counts(self) -> dict[str, int]:
        if self.task != "classification":
            return {}
        counts = np.bincount(self.y, minlength=len(self.target_names))
        return {name: int(c) for name, c in zip(self.target_names, counts, strict=True)}


def data_format(path: str | os.PathLike) -> str:
    """ "csv", "fasta" or "h5ad" from the file name (a final .gz is ignored)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in FASTA_SUFFIXES:
        return "fasta"
    if last in H5AD_SUFFIXES:
        return "h5ad"
    if last in TABLE_SUFFIXES:
        return "csv"
    raise DataError(
        f"Cannot tell the format of {str(path)!r} from its name: use .csv/.tsv for tables, "
        ".fa/.fasta for sequences, .h5ad for single-cell data."
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"Data file {str(path)!r} not found. Check the path.")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder; expected a data file.")
    if not os.access(path, os.R_OK):
        raise DataError(f"{str(path)!r} cannot be read (permission denied).")
    if path.stat().st_size == 0:
        raise DataError(f"{str(path)!r} is empty (0 bytes).")


@contextlib.contextmanager
def _warnings_if_ok() -> Iterator[None]:
    """Hold back the warnings raised inside; show them only if the block succeeds. A reader's warning
    (padding, class imbalance) is noise in front of the error that stops the command anyway."""
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("always")
        yield
    for w in held:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _check_not_id_like(y: np.ndarray, target_names: list[str], task: str, target: str, hint: str) -> None:
    """Classification on a column where most values occur once cannot work (no class can be split into
    training, validation and test samples): it is a sample ID or a continuous measurement."""
    if task != "classification" or len(target_names) <= 2:
        return
    counts = np.bincount(y, minlength=len(target_names))
    once = int((counts == 1).sum())
    if once * 2 > len(target_names):
        raise DataError(
            f"The target {target!r} has {len(target_names)} different values in {len(y)} samples and "
            f"{once} of them occur only once, so it cannot be learned as classes: it looks like an ID "
            "column or a continuous value. If it is a measurement, pass --task regression; otherwise "
            f"{hint}."
        )


def _check_labels(y: np.ndarray, target_names: list[str], task: str, target: str, where: str) -> None:
    """Checks every kind of data needs: enough samples, and a warning for extreme class imbalance."""
    if len(y) < MIN_SAMPLES:
        raise DataError(
            f"{where} has {len(y)} labelled samples; at least {MIN_SAMPLES} are needed to train, validate "
            "and test a network."
        )
    if task == "classification":
        from biograd.bio.tabular import warn_class_imbalance

        warn_class_imbalance(y, target_names, target, stacklevel=3)


def load_data(
    path: str | os.PathLike | None = None,
    target: str | None = None,
    *,
    dataset: str | None = None,
    task: str = "auto",
    id_column: str | None = None,
    labels: str | os.PathLike | None = None,
    label_column: str | None = None,
    layer: str | None = None,
    impute: str | None = None,
) -> TrainingData:
    """Read training data: a CSV/TSV table, a FASTA file, an .h5ad file, or a bundled dataset.

    Args:
        path: the data file; its name decides the format (.csv/.tsv, .fa/.fasta, .h5ad).
        target: the column to predict (tables), or the ``obs`` column (.h5ad). FASTA labels come from
            ``labels`` (a CSV keyed by record ID) or from ``label=...`` in the headers.
        dataset: a bundled dataset's name instead of a file ("breast-cancer", "diabetes", "motifs",
            "peptides").
        task: "auto", "classification" or "regression".
        id_column: a table's column of sample names (default: detected).
        labels, label_column: the FASTA label file and its label column.
        layer: the .h5ad layer to read instead of X.
        impute: "mean" or "median" to fill in missing feature values (tables); None makes them an error.

    Raises:
        FileNotFoundError, DataError: with a message that says what is wrong and how to fix it.
    """
    if (path is None) == (dataset is None):
        raise ConfigError("Give either a data file (with --target) or --dataset NAME, not both or neither.")
    if dataset is not None:
        return _load_dataset(dataset, task)
    path = Path(path)
    fmt = data_format(path)
    _check_readable(path)
    if fmt == "csv":
        if not target:
            raise ConfigError(
                f"Which column of {path.name!r} should the network predict? Pass --target COLUMN."
            )
        from biograd.bio.tabular import load_table

        with _warnings_if_ok():
            table = load_table(
                path, target, id_column=id_column, task=task, impute=impute, min_samples=MIN_SAMPLES
            )
            _check_not_id_like(table.y, table.target_names, table.task, target, "choose another --target")
        ids = table.ids if table.ids is not None else [str(i + 1) for i in range(table.n_samples)]
        return TrainingData(
            kind="table",
            input_format="csv",
            name=path.name,
            source=str(path),
            task=table.task,
            y=table.y,
            target_names=table.target_names,
            target=table.target,
            ids=ids,
            description=f"{table.n_samples} samples x {table.features.shape[1]} columns from {path.name}.",
            features=table.features,
            id_column=table.id_column,
        )
    if fmt == "fasta":
        from biograd.bio.sequences import load_fasta

        with _warnings_if_ok():
            seqs = load_fasta(path, labels=labels, task=task, label_column=label_column)
            _check_not_id_like(
                seqs.y, seqs.target_names, seqs.task, label_column or "label", "choose another --label-column"
            )
            _check_labels(seqs.y, seqs.target_names, seqs.task, "label", repr(str(path)))
        return TrainingData(
            kind=seqs.kind,
            input_format="fasta",
            name=path.name,
            source=str(path),
            task=seqs.task,
            y=seqs.y,
            target_names=seqs.target_names,
            target=label_column or "label",
            ids=list(seqs.ids),
            description=seqs.description,
            x=seqs.x,
            sequences=seqs.sequences,
            extra={"labels": str(labels) if labels else None},
        )
    # .h5ad
    if not target:
        raise ConfigError(f"Which obs column of {path.name!r} should the network predict? Pass --target.")
    from biograd.bio.singlecell import read_h5ad

    with _warnings_if_ok():
        cells = read_h5ad(path, label=target, layer=layer, task=task)
        _check_not_id_like(cells.y, cells.target_names, cells.task, target, "choose another --target")
        _check_labels(cells.y, cells.target_names, cells.task, target, repr(str(path)))
    return TrainingData(
        kind="table",
        input_format="h5ad",
        name=path.name,
        source=str(path),
        task=cells.task,
        y=cells.y,
        target_names=cells.target_names,
        target=target,
        ids=list(cells.ids),
        description=cells.description,
        features=_frame(cells.x, cells.feature_names),
        layer=layer,
    )


def _frame(x: np.ndarray, names: Sequence[str]) -> Any:
    import pandas as pd

    names = [str(n) for n in names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"Duplicated feature names {', '.join(map(repr, duplicated[:5]))}; make them unique.")
    return pd.DataFrame(np.asarray(x), columns=names)


def _load_dataset(name: str, task: str) -> TrainingData:
    from biograd import datasets

    data = datasets.load(name)
    if task not in ("auto", data.task):
        raise ConfigError(f"The dataset {data.name!r} is a {data.task} task; --task {task} does not apply.")
    ids = list(data.ids) if data.ids is not None else [f"{data.name}-{i + 1}" for i in range(len(data))]
    common = dict(
        input_format="dataset",
        name=data.name,
        source=f"bundled dataset {data.name!r}",
        task=data.task,
        y=data.y,
        target_names=list(data.target_names),
        target=data.target_name,
        ids=ids,
        description=data.description,
    )
    if data.kind in SEQUENCE_KINDS:
        return TrainingData(kind=data.kind, x=data.x, sequences=list(data.sequences), **common)
    return TrainingData(kind="table", features=_frame(data.x, data.feature_names), **common)


# ==================================================================================================
# Splitting, preprocessing and the network
# ==================================================================================================


@dataclass
class Prepared:
    """Everything decided before training: the split, the network inputs, the untrained model."""

    data: TrainingData
    config: TrainConfig
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    x: np.ndarray  # network inputs for every sample (preprocessed with training-row statistics)
    y_fit: np.ndarray  # what the network is trained on (standardized for regression)
    feature_names: list[str]
    model: Any
    architecture: str  # one line: what the network is
    why: str  # why this architecture for this data
    lr: float
    preprocessing: dict[str, Any]
    y_scale: tuple[float, float] | None = None  # regression: (mean, std) of the training targets
    kernel_size: int | None = None

    @property
    def n_parameters(self) -> int:
        return int(sum(p.data.size for p in self.model.parameters()))


def split(
    y: np.ndarray, task: str, test_fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices: the test rows first, then validation from the rest, both
    shuffled and, for classification, stratified by class."""
    from biograd.data import split_indices

    labels = y if task == "classification" else None
    try:
        rest, test = split_indices(len(y), test_fraction, labels, seed, part="test")
        kept, held = split_indices(
            len(rest), val_fraction, None if labels is None else labels[rest], seed + 1, part="validation"
        )
    except ValueError as err:
        reason = str(err)
        raise DataError(
            f"{len(y)} samples are too few for the requested splits (test fraction {test_fraction:g}, "
            f"validation fraction {val_fraction:g}): {reason}"
        ) from None
    return np.sort(rest[kept]), np.sort(rest[held]), np.sort(test)


def _n_outputs(data: TrainingData) -> int:
    if data.task == "classification" and len(data.target_names) > 2:
        return len(data.target_names)
    return 1


def build_model(
    data: TrainingData, n_inputs: int | tuple[int, int], config: TrainConfig
) -> tuple[Any, str, str, int | None]:
    """(model, one-line description, why this architecture, kernel size) for this kind of data.

    Tables: a multilayer perceptron ``n_inputs -> hidden... -> outputs``. Sequences: a convolution
    (``hidden[0]`` filters of ``kernel_size`` positions, each a learned motif detector), ReLU, global max
    pooling (the best match anywhere in the sequence), then Linear layers.
    """
    from biograd import nn

    n_out = _n_outputs(data)
    act_name = config.activation
    config = config.with_defaults(data.is_sequence)
    if not data.is_sequence:
        hidden = config.hidden
        sizes = [int(n_inputs), *hidden, n_out]
        model = nn.MLP(sizes, activation=act_name, dropout=config.dropout)
        text = f"MLP {' -> '.join(map(str, sizes))} ({act_name}" + (
            f", dropout {config.dropout:g})" if config.dropout else ")"
        )
        why = "a multilayer perceptron: the default for a table of measurements"
        return model, text, why, None
    channels, length = n_inputs
    hidden = config.hidden or (32,)
    default_k = 12 if data.kind in ("dna", "rna") else 9
    k = min(config.kernel_size or default_k, length)
    layers: list[Any] = [
        nn.Conv1d(channels, hidden[0], k),
        nn.get_activation(act_name),
        nn.GlobalMaxPool1d(),
    ]
    for a, b in itertools.pairwise(hidden):
        if config.dropout:
            layers.append(nn.Dropout(config.dropout))
        layers += [nn.Linear(a, b), nn.get_activation(act_name)]
    if config.dropout:
        layers.append(nn.Dropout(config.dropout))
    layers.append(nn.Linear(hidden[-1], n_out))
    model = nn.Sequential(*layers)
    dense = "".join(f" -> Linear {b}" for b in hidden[1:])
    text = (
        f"CNN: Conv1d {channels} -> {hidden[0]} filters x {k} positions -> {act_name} -> GlobalMaxPool1d"
        f"{dense} -> Linear {n_out}"
    )
    why = (
        "a small convolutional network: the default for one-hot sequences (each filter is a learned "
        "motif detector; global max pooling finds the motif wherever it sits)"
    )
    return model, text, why, k


def prepare(data: TrainingData, config: TrainConfig | None = None) -> Prepared:
    """Split the data, learn the preprocessing from the training rows, and build the network."""
    import biograd
    from biograd.bio.tabular import Preprocessor

    config = (config or TrainConfig()).check()
    if config.task not in ("auto", data.task):
        raise ConfigError(
            f"--task {config.task} was asked for, but the data were read as {data.task}; pass --task when "
            "reading the data."
        )
    y = data.y
    train_idx, val_idx, test_idx = split(y, data.task, config.test_fraction, config.val_fraction, config.seed)
    if data.is_sequence:
        x = data.x.astype(np.float32, copy=False)
        feature_names = [f"{letter}{pos + 1}" for letter in _alphabet(data) for pos in range(x.shape[2])]
        preprocessing = {
            "kind": data.kind,
            "input_format": data.input_format,
            "alphabet": data.kind,
            "length": int(x.shape[2]),
        }
        n_inputs: Any = (int(x.shape[1]), int(x.shape[2]))
    else:
        prep = Preprocessor(impute=config.impute, id_column=data.id_column or "")
        with warnings.catch_warnings():  # unseen categories in the held-out rows are expected here
            warnings.simplefilter("ignore")
            prep.fit(data.features.iloc[train_idx])
            x = prep.transform(data.features)
        feature_names = prep.feature_names
        preprocessing = {
            "kind": "table",
            "input_format": data.input_format,
            "table": prep.to_config(),
            "id_column": data.id_column,
            "layer": data.layer,
        }
        n_inputs = x.shape[1]
    y_scale = None
    if data.task == "regression":
        mean, std = float(y[train_idx].mean()), float(y[train_idx].std())
        y_scale = (mean, std if std > 0 else 1.0)
        y_fit = ((y - y_scale[0]) / y_scale[1]).astype(np.float32)
    else:
        y_fit = y.astype(np.int64)
    biograd.manual_seed(config.seed)
    config = config.with_defaults(data.is_sequence)
    model, text, why, k = build_model(data, n_inputs, config)
    lr = config.lr
    preprocessing.update(
        {
            "target": data.target,
            "task": data.task,
            "class_names": list(data.target_names),
            "y_scale": list(y_scale) if y_scale else None,
        }
    )
    return Prepared(
        data=data,
        config=config,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        x=x,
        y_fit=y_fit,
        feature_names=feature_names,
        model=model,
        architecture=text,
        why=why,
        lr=lr,
        preprocessing=preprocessing,
        y_scale=y_scale,
        kernel_size=k,
    )


def _alphabet(data: TrainingData) -> str:
    from biograd.bio.sequences import ALPHABETS

    return ALPHABETS[data.kind]


# ==================================================================================================
# Training, evaluation, baselines, attributions
# ==================================================================================================


@dataclass
class TrainResult:
    """What :func:`train` produced: the trained model and every number the report shows."""

    prepared: Prepared
    history: Any
    diagnosis: Any
    test_metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    comparison: dict[str, Any]
    predictions: Any  # DataFrame: id, true, predicted, probabilities (test rows)
    test_output: dict[str, np.ndarray]  # y_true codes/values, y_pred, proba (test rows)
    importance: Any = None  # explain_table's dict (tables) or explain_sequences' dict (sequences)
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    command: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> Any:
        return self.prepared.model

    @property
    def data(self) -> TrainingData:
        return self.prepared.data

    @property
    def interrupted(self) -> bool:
        return self.history.stop_reason == "interrupted"


def _fold_target_scale(model: Any, mean: float, std: float) -> None:
    """Make a network trained on standardized targets z = (y - mean) / std predict y itself.

    The last layer is Linear: z_hat = W h + b, so y_hat = std * z_hat + mean = (std W) h + (std b + mean).
    Exact, and the saved model then needs no extra step to predict in the original units.
    """
    from biograd.nn import Linear

    last = [m for m in model.modules() if isinstance(m, Linear)][-1]
    last.weight.data = (last.weight.data * std).astype(last.weight.data.dtype)
    last.bias.data = (last.bias.data * std + mean).astype(last.bias.data.dtype)


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, balanced accuracy, ROC AUC, PR AUC (average precision) and the confusion matrix.

    Two classes: ROC and PR AUC of P(class 1). More classes: one-vs-rest, macro-averaged. An AUC is None
    when a class is missing from y_true (it is undefined then).
    """
    from sklearn import metrics as skm

    k = len(class_names)
    y_pred = proba.argmax(axis=1)
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": None,
        "pr_auc": None,
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist(),
    }
    present = np.unique(y_true)
    if len(present) == k:
        if k == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
            out["pr_auc"] = float(skm.average_precision_score(y_true, proba[:, 1]))
        else:
            onehot = np.eye(k)[y_true]
            out["roc_auc"] = float(skm.roc_auc_score(onehot, proba, average="macro"))
            out["pr_auc"] = float(skm.average_precision_score(onehot, proba, average="macro"))
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """R^2, MAE, RMSE (in the target's units) and Pearson's r."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    r = float(np.corrcoef(y_true, y_pred)[0, 1]) if np.std(y_pred) > 0 and np.std(y_true) > 0 else None
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "pearson_r": r,
    }


def key_metric(task: str, metrics: dict[str, Any]) -> tuple[str, float | None]:
    """The one number used to compare models: ROC AUC (or balanced accuracy when undefined) for
    classification, R^2 for regression. Higher is better for all three."""
    if task == "regression":
        return "r2", metrics.get("r2")
    if metrics.get("roc_auc") is not None:
        return "roc_auc", metrics["roc_auc"]
    return "balanced_accuracy", metrics.get("balanced_accuracy")


def run_baselines(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    task: str,
    class_names: Sequence[str],
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Classical models on the same rows: a constant guess, logistic regression (classification) or ridge
    regression, and a random forest, all from scikit-learn, scored on the test rows like the network.

    Sequences come in flattened (one-hot, samples x (alphabet * length)).
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    x_fit = x_fit.reshape(len(x_fit), -1).astype(np.float64)
    x_test = x_test.reshape(len(x_test), -1).astype(np.float64)
    results: dict[str, dict[str, Any]] = {}
    if task == "classification":
        k = len(class_names)
        prior = np.bincount(y_fit, minlength=k) / len(y_fit)
        constant = np.tile(prior, (len(x_test), 1))
        constant[:, prior.argmax()] += 1e-9  # the majority class, when probabilities tie
        results["constant guess (class frequencies)"] = classification_metrics(y_test, constant, class_names)
        models = {
            "logistic regression": LogisticRegression(max_iter=5000),
            "random forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        }
        for name, est in models.items():
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(x_fit, y_fit)
            proba = np.zeros((len(x_test), k))
            proba[:, est.classes_] = est.predict_proba(x_test)
            results[name] = classification_metrics(y_test, proba, class_names)
            results[name]["seconds"] = time.perf_counter() - started
    else:
        results["constant guess (mean)"] = regression_metrics(y_test, np.full(len(y_test), y_fit.mean()))
        models = {
            "ridge regression": Ridge(alpha=1.0),
            "random forest": RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
        }
        for name, est in models.items():
            started = time.perf_counter()
            est.fit(x_fit, y_fit)
            results[name] = regression_metrics(y_test, est.predict(x_test))
            results[name]["seconds"] = time.perf_counter() - started
    return results


def compare(task: str, network: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Does the network beat the best classical baseline on the test set? (ties count as "no")."""
    metric, net_value = key_metric(task, network)
    best_name, best_value = None, None
    for name, values in baselines.items():
        if name.startswith("constant"):
            continue
        value = values.get(metric)
        if value is not None and (best_value is None or value > best_value):
            best_name, best_value = name, value
    label = {"roc_auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "r2": "R^2"}[metric]
    if net_value is None or best_value is None:
        beats = None
        sentence = f"The comparison on {label} is not possible on this test set."
    elif round(net_value, 3) > round(best_value, 3):
        beats = True
        sentence = (
            f"The network beats the best classical baseline on the test set: {label} {net_value:.3f} vs "
            f"{best_value:.3f} ({best_name})."
        )
    else:
        beats = False
        sentence = (
            f"The network does NOT beat the classical baseline: {label} {net_value:.3f} vs {best_value:.3f} "
            f"({best_name}). On data like these the simpler model is the better choice."
        )
    return {
        "metric": metric,
        "metric_label": label,
        "network": net_value,
        "best_baseline": best_name,
        "best_baseline_value": best_value,
        "network_beats_baseline": beats,
        "sentence": sentence,
    }


def _test_outputs(prepared: Prepared) -> dict[str, np.ndarray]:
    import biograd

    model, data = prepared.model, prepared.data
    x_test = prepared.x[prepared.test_idx]
    y_true = data.y[prepared.test_idx]
    if data.task == "classification":
        proba = biograd.predict_proba(model, x_test)
        return {"y_true": y_true, "y_pred": proba.argmax(axis=1), "proba": proba}
    pred = np.asarray(biograd.predict(model, x_test), dtype=np.float64).reshape(len(x_test))
    return {"y_true": y_true.astype(np.float64), "y_pred": pred}


def _prediction_table(prepared: Prepared, out: dict[str, np.ndarray]) -> Any:
    import pandas as pd

    data = prepared.data
    ids = np.asarray(data.ids, dtype=object)[prepared.test_idx]
    if data.task == "classification":
        names = np.asarray(data.target_names, dtype=object)
        frame = pd.DataFrame({"id": ids, "true": names[out["y_true"]], "predicted": names[out["y_pred"]]})
        for j, name in enumerate(data.target_names):
            frame[f"probability_{name}"] = np.round(out["proba"][:, j], 6)
        return frame
    return pd.DataFrame(
        {"id": ids, "true": out["y_true"], "predicted": out["y_pred"], "error": out["y_pred"] - out["y_true"]}
    )


#: ``explain`` and the report look at every sample up to this many; above it, a seeded random sample
#: of this size (the output says so). Integrated gradients cost 33 forward and backward passes per row.
MAX_EXPLAIN_ROWS = {"table": 5000, "sequence": 2000}
_EXPLAIN_BATCH = 256  # rows per integrated-gradients call: bounds memory on long sequences
_NEGATIVE_WORDS = {
    "0",
    "absent",
    "background",
    "bg",
    "control",
    "ctrl",
    "decoy",
    "f",
    "false",
    "healthy",
    "inactive",
    "n",
    "neg",
    "negative",
    "no",
    "none",
    "normal",
    "null",
    "other",
    "random",
    "rest",
    "shuffled",
    "wt",
    "wildtype",
    "wild-type",
}


def _looks_negative(name: str) -> bool:
    """Does a class name read as "the absence of the thing" (unbound, non-binder, control, 0, ...)?"""
    text = str(name).strip().lower()
    if text in _NEGATIVE_WORDS:
        return True
    return any(text.startswith(p) and len(text) > len(p) + 2 for p in ("un", "non", "not", "no_", "no-"))


def positive_class(class_names: Sequence[str]) -> int:
    """The index of the class a biologist would call *positive* in a binary task, whatever the
    alphabetical order: the one whose name does not read as an absence (``bound`` vs ``unbound``,
    ``motif`` vs ``background``, ``disease`` vs ``healthy``); class 1 when the names do not tell (``0``/``1``
    gives 1, as scikit-learn's ``pos_label``)."""
    names = [str(n) for n in class_names]
    if len(names) != 2:
        raise ValueError(f"positive_class needs two class names; got {len(names)}.")
    neg0, neg1 = _looks_negative(names[0]), _looks_negative(names[1])
    return 0 if neg1 and not neg0 else 1


def class_order(class_names: Sequence[str]) -> list[int]:
    """Classes in the order explanations show them: the positive class first for two classes."""
    if len(class_names) == 2:
        pos = positive_class(class_names)
        return [pos, 1 - pos]
    return list(range(len(class_names)))


def class_index(class_names: Sequence[str], name: str | None) -> int | None:
    """The index of a class given by name (``--class NAME``); None for None. DataError if unknown."""
    if name is None:
        return None
    names = [str(n) for n in class_names]
    if not names:
        raise DataError(f"--class {name} applies to classification models; this model predicts a value.")
    if str(name) not in names:
        raise DataError(
            f"--class {name!r} is not a class of this model; it knows {', '.join(map(repr, names))}."
        )
    return names.index(str(name))


def _explain_rows(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Every row up to ``limit``; above it a seeded random sample of ``limit`` rows, in file order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _batched(fn: Any, x: np.ndarray, *extra: np.ndarray) -> np.ndarray:
    parts = [
        fn(x[s : s + _EXPLAIN_BATCH], *(e[s : s + _EXPLAIN_BATCH] for e in extra))
        for s in range(0, len(x), _EXPLAIN_BATCH)
    ]
    return np.concatenate(parts)


def attributions_towards_classes(
    model: Any, x: np.ndarray, task: str, class_index_: int | None = None, steps: int = 32
) -> dict[str, Any]:
    """Integrated gradients of each sample towards one class, and the numbers that go with it.

    Which class: ``class_index_`` for every sample if given, else the class the sample is *predicted*
    as. With two classes the network has one logit z = log P(class 1) / P(class 0): explaining class 1
    uses z, class 0 uses -z (so a positive attribution always means "pushes towards the explained
    class", whichever class comes first alphabetically). With more classes the explained quantity is
    that class's logit. Regression: the predicted value.

    Returns a dict: ``attr`` (x's shape), ``explained`` (class index per sample, None for regression),
    ``predicted`` (class index per sample or None), ``score`` (the explained quantity: log-odds of the
    explained class for two classes, its logit for more, the prediction for regression),
    ``probability`` (of the explained class, or None) and ``log_probability`` (for ranking; for
    regression the prediction).
    """
    from biograd import explain

    out = _batched(lambda b: explain.outputs(model, b), x).astype(np.float64)
    n = len(x)
    if task != "classification":
        attr = _batched(lambda b: explain.integrated_gradients(model, b, steps=steps), x)
        value = out[:, 0]
        return {
            "attr": attr,
            "explained": None,
            "predicted": None,
            "score": value,
            "probability": None,
            "log_probability": value,
        }
    if out.shape[1] == 1:
        z = out[:, 0]
        predicted = (z > 0).astype(np.int64)  # P(class 1) = sigmoid(z) > 0.5, as predict_proba's argmax
        explained = predicted if class_index_ is None else np.full(n, int(class_index_), dtype=np.int64)
        sign = np.where(explained == 1, 1.0, -1.0)
        attr = _batched(lambda b: explain.integrated_gradients(model, b, steps=steps), x)
        attr = attr * sign.reshape((n,) + (1,) * (attr.ndim - 1)).astype(attr.dtype)
        score = sign * z
        log_p = -np.logaddexp(0.0, -score)  # log sigmoid(score)
    else:
        predicted = out.argmax(axis=1)
        explained = predicted if class_index_ is None else np.full(n, int(class_index_), dtype=np.int64)
        attr = _batched(
            lambda b, t: explain.integrated_gradients(model, b, steps=steps, target=t), x, explained
        )
        score = out[np.arange(n), explained]
        top = out.max(axis=1, keepdims=True)
        log_p = score - (top[:, 0] + np.log(np.exp(out - top).sum(axis=1)))  # log softmax
    return {
        "attr": attr,
        "explained": explained,
        "predicted": predicted,
        "score": score,
        "probability": np.exp(log_p),
        "log_probability": log_p,
    }


def _correlation(values: np.ndarray, attr: np.ndarray) -> np.ndarray:
    """Pearson correlation per column between a feature's values and its attributions (0 if constant)."""
    xc = values - values.mean(axis=0)
    ac = attr - attr.mean(axis=0)
    denom = np.sqrt((xc**2).sum(axis=0) * (ac**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * ac).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)


def _prediction_columns(ids: Any, found: dict[str, Any], classes: Any) -> dict[str, Any]:
    """The first columns of a per-sample explanation: the sample, what the model predicted and, for
    classes, which class the attributions point towards and its probability."""
    if classes is None:
        return {"id": ids, "predicted": found["score"]}
    names = np.asarray(classes, dtype=object)
    return {
        "id": ids,
        "predicted": names[found["predicted"]],
        "explained_class": names[found["explained"]],
        "probability_explained": np.round(found["probability"], 6),
    }


def explain_table(
    model: Any,
    x: np.ndarray,
    feature_names: Sequence[str],
    *,
    task: str = "classification",
    class_names: Sequence[str] = (),
    explain_class: int | None = None,
    ids: Sequence[str] | None = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Features ranked by mean |integrated gradients|, with the direction of each feature's effect.

    The baseline of integrated gradients is 0: on standardized columns, the average training sample.

    Which score is explained (and what ``direction`` means):

    - regression: the predicted value;
    - two classes: the log-odds of one class, ``explain_class`` or else the positive class
      (:func:`positive_class`), for every sample;
    - more classes with ``explain_class``: that class's logit, for every sample;
    - more classes without it: each sample's *predicted* class's logit ranks the features (what drove
      each prediction); the directions are then given per class (``direction_<class>``), each from the
      attributions to that class's logit for every sample, so a correlation never mixes classes.

    A direction is the correlation, across samples, between a feature's (standardized) value and its
    attribution: close to +1 "higher values raise the score of that class (or the prediction)", close
    to -1 "higher values lower it".

    Returns a dict: ``ranking`` (DataFrame: rank, feature, mean_abs_attribution, mean_attribution,
    direction or direction_<class>...), ``per_sample`` (DataFrame: one row per sample explained, the
    attribution of every feature), ``towards`` (the class name the single ``direction`` refers to, None
    for per-class directions or regression), ``n_used``/``n_total``/``sampled``.
    """
    import pandas as pd

    from biograd import explain

    names = [str(n) for n in feature_names]
    limit = MAX_EXPLAIN_ROWS["table"] if max_rows is None else max_rows
    rows = _explain_rows(len(x), limit, seed)
    xs = x[rows]
    classes = [str(c) for c in class_names]
    multi = task == "classification" and len(classes) > 2
    chosen = explain_class
    if task == "classification" and len(classes) == 2 and chosen is None:
        chosen = positive_class(classes)
    found = attributions_towards_classes(model, xs, task, chosen)
    attr = found["attr"].astype(np.float64)
    ranking = explain.rank_features(attr, names)
    values = xs.astype(np.float64)
    towards = None if task != "classification" else (classes[chosen] if chosen is not None else None)
    if not multi or chosen is not None:
        by_name = dict(zip(names, _correlation(values, attr), strict=True))
        ranking["direction"] = [float(by_name[f]) for f in ranking["feature"]]
    else:
        for c, cname in enumerate(classes):
            per_class = attributions_towards_classes(model, xs, task, c)["attr"].astype(np.float64)
            by_name = dict(zip(names, _correlation(values, per_class), strict=True))
            ranking[f"direction_{cname}"] = [float(by_name[f]) for f in ranking["feature"]]
    per_sample = pd.DataFrame(attr, columns=names)
    sample_ids = [str(i) for i in np.asarray(ids, dtype=object)[rows]] if ids else rows + 1
    front = _prediction_columns(sample_ids, found, classes if task == "classification" else None)
    per_sample = pd.concat([pd.DataFrame(front), per_sample], axis=1)
    return {
        "ranking": ranking,
        "per_sample": per_sample,
        "towards": towards,
        "n_used": len(rows),
        "n_total": len(x),
        "sampled": len(rows) < len(x),
    }


def explain_sequences(
    model: Any,
    x: np.ndarray,
    ids: Sequence[str],
    sequences: Sequence[str] | None,
    task: str,
    window: int,
    n_show: int = 8,
    *,
    class_names: Sequence[str] = (),
    explain_class: int | None = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Which positions drove the predictions: each sequence explained towards the class it is predicted
    as (or ``explain_class``), sites ranked within each class.

    Integrated gradients (baseline: no base) give an importance per position (the present base's
    attribution, positive = pushes towards the explained class; see :func:`attributions_towards_classes`).
    For each sequence, the ``window``-wide stretch with the largest total importance is its most
    important site. Sequences are grouped by explained class (the positive class first for two
    classes), each group ranked by the probability of its class; regression: one group, ranked by the
    predicted value. In-silico mutagenesis (every single-base substitution) of each group's top
    sequence shows which changes would weaken its class most.

    Returns a dict with ``groups`` (one per class shown: ``class``, ``index``, ``members`` (row indices,
    best first), ``n``, ``sites`` (one dict per member: id, probability, score, start, end, site,
    site_attribution), ``top``, ``top_ids``, ``top_sequences``, ``ism``), ``sites`` (every group's sites,
    in group order), ``positions`` (samples, length), ``window``,
    ``per_sample`` (DataFrame: one row per sequence, one column per position) and
    ``n_used``/``n_total``/``sampled``.
    """
    import pandas as pd

    from biograd import explain

    limit = MAX_EXPLAIN_ROWS["sequence"] if max_rows is None else max_rows
    n_total = len(x)
    rows = _explain_rows(n_total, limit, seed)
    x = x[rows]
    ids = [str(i) for i in np.asarray(list(ids), dtype=object)[rows]]
    seqs = [sequences[i] for i in rows] if sequences is not None else None
    classes = [str(c) for c in class_names]
    found = attributions_towards_classes(model, x, task, explain_class)
    positions = explain.position_importance(found["attr"])  # (samples, length)
    length = positions.shape[1]
    window = max(1, min(window, length))
    kernel = np.ones(window)
    key = found["log_probability"]
    if found["explained"] is None:
        group_specs: list[tuple[int | None, np.ndarray]] = [(None, np.arange(len(x)))]
    else:
        order = class_order(classes) if explain_class is None else [int(explain_class)]
        group_specs = [(c, np.flatnonzero(found["explained"] == c)) for c in order]
    groups, sites = [], []
    for c, members in group_specs:
        members = members[np.argsort(-key[members], kind="stable")]
        group_sites = []
        for i in members:
            sums = np.convolve(positions[i], kernel, mode="valid")
            start = int(sums.argmax())
            site = seqs[i][start : start + window] if seqs is not None else ""
            entry = {"class": classes[c] if c is not None else None, "id": ids[i]}
            if c is not None:
                entry["probability"] = float(found["probability"][i])
            entry.update(
                {
                    "score": float(found["score"][i]),
                    "start": start + 1,
                    "end": start + window,
                    "site": site,
                    "site_attribution": float(sums[start]),
                    "top_position": int(positions[i].argmax()) + 1,
                }
            )
            group_sites.append(entry)
        sites += group_sites
        top = members[:n_show]
        ism = None
        if len(top):
            target = None if c is None else c
            raw = explain.in_silico_mutagenesis(model, x[top[:1]], target=target)[0]
            # one logit for two classes: the score of class 0 is -z, so its changes flip sign
            ism = -raw if (c == 0 and len(classes) == 2) else raw
        groups.append(
            {
                "class": classes[c] if c is not None else None,
                "index": c,
                "members": members,
                "n": len(members),
                "sites": group_sites,
                "top": top,
                "top_ids": [ids[i] for i in top],
                "top_sequences": [seqs[i] if seqs is not None else "" for i in top],
                "ism": ism,
            }
        )
    front = _prediction_columns(ids, found, classes if found["explained"] is not None else None)
    per_position = pd.DataFrame(positions, columns=[f"position_{p + 1}" for p in range(length)])
    return {
        "groups": groups,
        "sites": sites,
        "positions": positions,
        "window": window,
        "per_sample": pd.concat([pd.DataFrame(front), per_position], axis=1),
        "n_used": len(rows),
        "n_total": n_total,
        "sampled": len(rows) < n_total,
    }


def _versions() -> dict[str, str]:
    import sklearn

    import biograd

    return {
        "biograd": biograd.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def train(
    prepared: Prepared,
    callbacks: Sequence[Any] | None = None,
    progress: bool = False,
    progress_stream: Any = None,
    command: str = "",
    explain: bool = True,
) -> TrainResult:
    """Train the prepared network with early stopping, then evaluate, compare and explain it.

    Ctrl-C (KeyboardInterrupt, also raised by a callback) stops training after the current batch with the
    best epoch's weights put back; the rest (test metrics, baselines, files) still happens and
    ``result.interrupted`` is True.
    """
    import biograd
    from biograd import optim
    from biograd.training import ProgressBar

    started = time.perf_counter()
    data, config, model = prepared.data, prepared.config, prepared.model
    tr, va, te = prepared.train_idx, prepared.val_idx, prepared.test_idx
    x, y_fit = prepared.x, prepared.y_fit
    opt = optim.create(config.optimizer, model.parameters(), lr=prepared.lr, weight_decay=config.weight_decay)
    all_callbacks: list[Any] = [EarlyStopping(monitor="val_loss", patience=config.patience)]
    if progress:
        all_callbacks.append(ProgressBar(stream=progress_stream))
    all_callbacks += list(callbacks or [])
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        history = biograd.fit(
            model,
            x[tr],
            y_fit[tr],
            optimizer=opt,
            epochs=config.epochs,
            batch_size=config.batch_size,
            validation_data=(x[va], y_fit[va]),
            callbacks=all_callbacks,
            seed=config.seed,
            verbose=False,
        )
    for r in records:
        caught.append(str(r.message))
    diagnosis = history.diagnose()
    if prepared.y_scale is not None:
        _fold_target_scale(model, *prepared.y_scale)
    if data.task == "classification":
        # predict() after biograd.load returns the class names rather than the codes 0..k-1
        model.__dict__["_biograd_target"]["classes"] = list(data.target_names)

    out = _test_outputs(prepared)
    if data.task == "classification":
        test_metrics = classification_metrics(out["y_true"], out["proba"], data.target_names)
    else:
        test_metrics = regression_metrics(out["y_true"], out["y_pred"])
    fit_rows = np.concatenate([tr, va])
    baselines = run_baselines(
        x[fit_rows], data.y[fit_rows], x[te], data.y[te], data.task, data.target_names, config.seed
    )
    comparison = compare(data.task, test_metrics, baselines)

    importance = None
    if explain:
        if data.is_sequence:
            correct = (
                out["y_pred"] == out["y_true"] if data.task == "classification" else np.ones(len(te), bool)
            )
            rows = te[correct] if correct.any() else te
            importance = explain_sequences(
                model,
                x[rows],
                [data.ids[i] for i in rows],
                [data.sequences[i] for i in rows] if data.sequences else None,
                data.task,
                prepared.kernel_size or 12,
                class_names=data.target_names,
                seed=config.seed,
            )
        else:
            importance = explain_table(
                model,
                x[te],
                prepared.feature_names,
                task=data.task,
                class_names=data.target_names,
                ids=[data.ids[i] for i in te],
                seed=config.seed,
            )
    return TrainResult(
        prepared=prepared,
        history=history,
        diagnosis=diagnosis,
        test_metrics=test_metrics,
        baselines=baselines,
        comparison=comparison,
        predictions=_prediction_table(prepared, out),
        test_output=out,
        importance=importance,
        seconds=time.perf_counter() - started,
        versions=_versions(),
        command=command,
        warnings=caught,
    )


# ==================================================================================================
# Writing a run
# ==================================================================================================


def metrics_document(result: TrainResult) -> dict[str, Any]:
    """What metrics.json holds: test metrics, baselines, the comparison, the split and the training."""
    p = result.prepared
    return {
        "format": PIPELINE_FORMAT,
        "data": {
            "name": p.data.name,
            "source": p.data.source,
            "kind": p.data.kind,
            "task": p.data.task,
            "samples": p.data.n_samples,
            "features": len(p.feature_names),
            "classes": p.data.class_counts(),
        },
        "split": {"train": len(p.train_idx), "validation": len(p.val_idx), "test": len(p.test_idx)},
        "model": {"architecture": p.architecture, "parameters": p.n_parameters},
        "test": result.test_metrics,
        "baselines": result.baselines,
        "comparison": result.comparison,
        "training": {
            **result.history.summary(),
            "diagnosis": result.diagnosis.verdict,
            "diagnosis_text": str(result.diagnosis),
            "interrupted": result.interrupted,
            "seconds": result.seconds,
        },
        "config": p.config.as_dict(),
        "versions": result.versions,
        "command": result.command,
    }


def _model_metadata(result: TrainResult) -> dict[str, Any]:
    p = result.prepared
    return {
        "pipeline": PIPELINE_FORMAT,
        "task": p.data.task,
        "feature_names": p.feature_names,
        "class_names": list(p.data.target_names) or None,
        "preprocessing": p.preprocessing,
        "architecture_text": p.architecture,
        "config": p.config.as_dict(),
        "data_name": p.data.name,
        "kernel_size": p.kernel_size,
    }


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """The run directory, if a run may be written there: new, or holding only files of an earlier run
    (:data:`RUN_FILES`). DataError for a file or a directory holding anything else, so nothing of the
    user's is overwritten. ``biograd train`` calls it before reading the data, ``write_run`` again."""
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"--out {str(out)!r} is a file; give a directory name.")
        foreign = sorted(f.name for f in out.iterdir() if f.name not in RUN_FILES)
        if foreign:
            raise DataError(
                f"--out {str(out)!r} already holds other files ({', '.join(foreign[:3])}); "
                "choose a new directory so nothing of yours is overwritten."
            )
    return out


def write_run(result: TrainResult, out_dir: str | os.PathLike) -> Path:
    """Write model.safetensors + model.json, report.html, metrics.json, history.csv and predictions.csv.

    Everything is written into a temporary directory beside ``out_dir`` and renamed at the end, so an
    error (or Ctrl-C) never leaves a half-written run. An existing ``out_dir`` holding only files of an
    earlier run is replaced; one holding anything else is left alone (DataError).
    """
    import biograd
    from biograd.report import render_report

    out = check_out_dir(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private; a run directory is not
        biograd.save(result.model, tmp, metadata=_model_metadata(result), history=result.history)
        (tmp / "metrics.json").write_text(
            json.dumps(metrics_document(result), indent=2, default=_json_default), encoding="utf-8"
        )
        result.history.to_frame().to_csv(tmp / "history.csv")
        result.predictions.to_csv(tmp / "predictions.csv", index=False)
        (tmp / "report.html").write_text(render_report(result), encoding="utf-8")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "run")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


# ==================================================================================================
# Using a trained model on new data
# ==================================================================================================


@dataclass
class NewData:
    """New samples turned into network inputs the way the model's training data were."""

    x: np.ndarray
    ids: list[str]
    y: np.ndarray | None  # class codes or values, when the data have the target
    sequences: list[str] | None = None


def load_run(model_dir: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """(model, metadata) of a directory written by ``biograd train``.

    Raises ModelFileError for a missing, corrupt or truncated model, and DataError for a model that
    ``biograd train`` did not write (no saved preprocessing).
    """
    import biograd
    from biograd.io import ModelFileError

    path = Path(model_dir)
    if not path.exists():
        raise FileNotFoundError(f"Model directory {str(path)!r} not found. Check the path.")
    if not path.is_dir():
        raise ModelFileError(
            f"{str(path)!r} is a file; expected the directory written by biograd train (--out)."
        )
    model, info = biograd.load(path, with_metadata=True)
    prep = info.get("preprocessing")
    if info.get("pipeline") != PIPELINE_FORMAT or not isinstance(prep, dict) or "kind" not in prep:
        raise ModelFileError(
            f"{str(path)!r} holds a biograd model that `biograd train` did not write (it has no saved "
            "preprocessing), so it cannot read data files. Use biograd.load() and biograd.predict() in "
            "Python."
        )
    return model, info


def read_new_data(
    info: dict[str, Any],
    path: str | os.PathLike,
    *,
    model: Any = None,
    labels: str | os.PathLike | None = None,
    label_column: str | None = None,
    need_target: bool = False,
    id_column: str | None = None,
) -> NewData:
    """Read a data file for a trained model: the same columns (matched by name, in any order), scaling
    and encoding for tables; the same alphabet for sequences.

    Sequences: a network that ends its convolutions with global max pooling (what ``biograd train``
    builds) reads any length, so new sequences are only ever padded (to the training length, or to the
    longest new one), never cut: a motif at base 80 of a 120-base sequence is still seen. Pass the
    ``model`` so this can be checked; without it, or for a network that needs a fixed length, sequences
    are padded or trimmed to the training length (one_hot warns about it).
    """
    from biograd.bio.tabular import Preprocessor, read_frame

    prep = info["preprocessing"]
    kind, target = prep["kind"], prep.get("target")
    path = Path(path)
    fmt = data_format(path)
    _check_readable(path)
    y_raw = None
    if kind in SEQUENCE_KINDS:
        if fmt != "fasta":
            raise DataError(f"This model reads {kind.upper()} sequences (FASTA); {path.name!r} is not FASTA.")
        from biograd.bio.sequences import load_fasta

        train_length = int(prep["length"])
        any_length = _reads_any_length(model)
        with _warnings_if_ok():  # a padding warning is noise in front of a missing-label error
            seqs = load_fasta(
                path,
                labels=labels,
                alphabet=prep["alphabet"],
                length=None if any_length else train_length,
                task=prep.get("task", "classification"),
                label_column=label_column,
                require_labels=need_target,
            )
        x, ids, sequences = seqs.x, list(seqs.ids), seqs.sequences
        if x.shape[2] < train_length:  # never shorter than in training (nor than the filters)
            x = np.pad(x, ((0, 0), (0, 0), (0, train_length - x.shape[2])))
        if seqs.y is not None:
            y_raw = np.asarray(seqs.target_names, dtype=object)[seqs.y] if seqs.target_names else seqs.y
    else:
        sequences = None
        if fmt == "fasta":
            raise DataError(f"This model reads tables; {path.name!r} is a FASTA file.")
        if fmt == "h5ad":
            from biograd.bio.singlecell import read_h5ad

            obs = target if need_target else None
            cells = read_h5ad(path, label=obs, layer=prep.get("layer"), task=prep.get("task", "auto"))
            frame = _frame(cells.x, cells.feature_names)
            ids = list(cells.ids)
            if cells.y is not None:
                y_raw = (
                    np.asarray(cells.target_names, dtype=object)[cells.y] if cells.target_names else cells.y
                )
        else:
            frame = read_frame(path)
            id_col = id_column or prep.get("id_column")
            ids = (
                frame[id_col].astype(str).tolist()
                if id_col and id_col in frame.columns
                else [str(i + 1) for i in range(len(frame))]
            )
            if target in frame.columns:
                y_raw = frame[target].to_numpy()
            elif need_target:
                raise DataError(
                    f"{path.name!r} has no column {target!r}, the target the model was trained to predict; "
                    "evaluate needs it."
                )
        x = Preprocessor.from_config(prep["table"]).transform(frame)
    y = None
    if y_raw is not None:
        y = _encode_new_target(y_raw, info, target)
    elif need_target:
        raise DataError(f"{path.name!r} has no labels ({target!r}); evaluate needs them.")
    return NewData(x=x, ids=ids, y=y, sequences=sequences)


def _reads_any_length(model: Any) -> bool:
    """True if a sequence network's output does not depend on the input length: every convolution is
    followed, before any dense layer, by global pooling."""
    from biograd import nn

    if model is None:
        return False
    pooled = False
    for module in model.modules():
        if isinstance(module, nn.GlobalMaxPool1d):
            pooled = True
        elif isinstance(module, (nn.Linear, nn.Flatten)) and not pooled:
            return False
    return pooled


def _encode_new_target(values: np.ndarray, info: dict[str, Any], target: str | None) -> np.ndarray:
    prep = info["preprocessing"]
    if prep.get("task") == "regression":
        try:
            y = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"The target {target!r} must hold numbers for this regression model.") from None
        if not np.isfinite(y).all():
            raise DataError(f"The target {target!r} has {int((~np.isfinite(y)).sum())} missing values.")
        return y
    names = [str(c) for c in prep["class_names"]]
    index = {n: i for i, n in enumerate(names)}

    def text(v: Any) -> str:
        if isinstance(v, float) and v == int(v):
            v = int(v)
        return str(v)

    labels = [text(v) for v in values]
    unknown = sorted({v for v in labels if v not in index})
    if unknown:
        raise DataError(
            f"The target {target!r} has labels the model never saw: {', '.join(map(repr, unknown[:5]))}. "
            f"The model knows: {', '.join(map(repr, names))}."
        )
    return np.asarray([index[v] for v in labels], dtype=np.int64)


def predict_table(model: Any, info: dict[str, Any], new: NewData) -> Any:
    """Predictions as a DataFrame: id, predicted (class name or value), class probabilities."""
    import pandas as pd

    import biograd

    prep = info["preprocessing"]
    frame = pd.DataFrame({"id": new.ids})
    if prep.get("task") == "classification":
        names = [str(c) for c in prep["class_names"]]
        proba = biograd.predict_proba(model, new.x)
        if new.y is not None:
            frame["true"] = np.asarray(names, dtype=object)[new.y]
        frame["predicted"] = np.asarray(names, dtype=object)[proba.argmax(axis=1)]
        for j, name in enumerate(names):
            frame[f"probability_{name}"] = np.round(proba[:, j], 6)
    else:
        if new.y is not None:
            frame["true"] = new.y
        frame["predicted"] = np.asarray(biograd.predict(model, new.x), dtype=np.float64).reshape(len(new.x))
    return frame


def evaluate_new(model: Any, info: dict[str, Any], new: NewData) -> dict[str, Any]:
    """Test metrics of a trained model on labelled new data (the same metrics as the report)."""
    import biograd

    prep = info["preprocessing"]
    if new.y is None:
        raise DataError("These data have no target values to evaluate against.")
    if prep.get("task") == "classification":
        return classification_metrics(new.y, biograd.predict_proba(model, new.x), prep["class_names"])
    pred = np.asarray(biograd.predict(model, new.x), dtype=np.float64).reshape(len(new.x))
    return regression_metrics(new.y, pred)


def explain_new(
    model: Any, info: dict[str, Any], new: NewData, top: int = 20, explain_class: str | None = None
) -> dict[str, Any]:
    """Explain a trained model on new data (every sample, or a seeded random sample of
    :data:`MAX_EXPLAIN_ROWS` when there are more; ``sampled`` says so).

    Tables: :func:`explain_table` (its ``ranking`` cut to the first ``top`` rows). Sequences:
    :func:`explain_sequences`, the ``top`` most confident sequences of each class shown. ``explain_class``
    (a class name) explains every sample towards that class. The dict's ``table`` is what ``--out``
    writes: the ranking, or the sites of the sequences shown (with their class).
    """
    import pandas as pd

    prep = info["preprocessing"]
    task = prep.get("task")
    names = [str(c) for c in (prep.get("class_names") or [])] if task == "classification" else []
    chosen = class_index(names, explain_class)
    if prep["kind"] in SEQUENCE_KINDS:
        found = explain_sequences(
            model,
            new.x,
            new.ids,
            new.sequences,
            task,
            int(info.get("kernel_size") or 12),
            n_show=top,
            class_names=names,
            explain_class=chosen,
        )
        found["table"] = pd.DataFrame([s for g in found["groups"] for s in g["sites"][: len(g["top"])]])
        return found
    found = explain_table(
        model, new.x, info["feature_names"], task=task, class_names=names, explain_class=chosen, ids=new.ids
    )
    found["table"] = found["ranking"].head(top)
    return found


def common_sites(sites: Sequence[dict[str, Any]], n: int = 5) -> list[tuple[str, int]]:
    """The sites found most often among sequences' most important sites (each at least twice): a
    candidate motif. Sites cut short by the sequence's end are left out."""
    from collections import Counter

    counts = Counter(s["site"] for s in sites if s["site"] and s["end"] - s["start"] + 1 == len(s["site"]))
    return [(k, c) for k, c in counts.most_common(n) if c > 1]


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed (for the report's reproducibility section)."""
    import shlex

    args = list(sys.argv[1:] if argv is None else argv)
    return "biograd " + " ".join(shlex.quote(a) for a in args)
