"""Before training: the split (test rows first, then validation), the preprocessing learned from the
training rows only, and the network chosen for the kind of data."""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.bio.dataset import Dataset
from biograd.bio.errors import DataError
from biograd.pipeline.config import TrainConfig
from biograd.pipeline.sources import _task_of
from biograd.random import manual_seed
from biograd.stats import Fold, Scheme, choose_scheme, cross_validation_folds
from biograd.training.targets import classifier_outputs


@dataclass
class Prepared:
    """Everything decided before training: the split, the network inputs, the untrained model."""

    data: Dataset
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
    #: how the network is evaluated. Cross-validation: ``folds`` holds the partitions, ``train_idx`` and
    #: ``test_idx`` are all samples (each is predicted out of fold), ``val_idx`` is empty, the saved
    #: preprocessing is learned from all rows and ``model`` is the first fold's (untrained) network.
    scheme: Scheme = field(default_factory=lambda: Scheme("holdout", 1, 1))
    folds: list[Fold] = field(default_factory=list)
    #: tables with many more features than samples: features kept per fold (None: all)
    selected_features: int | None = None

    @property
    def n_parameters(self) -> int:
        return int(sum(p.data.size for p in self.model.parameters()))


def split(
    y: np.ndarray,
    task: str,
    test_fraction: float,
    val_fraction: float,
    seed: int,
    groups: np.ndarray | None = None,
    class_names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices: the test rows first, then validation from the rest, both
    shuffled and, for classification, stratified by class. With ``class_names``, messages name a class
    by its label, not by its code.

    With ``groups`` (``Dataset.groups``: patients, sequence clusters, sets of identical samples) every group
    falls wholly into one part: the parts are folds of scikit-learn's StratifiedGroupKFold (GroupKFold for
    regression) through :func:`biograd.stats.cross_validation_folds`, ``round(1 / fraction)`` folds of which
    one is held out, so the fractions are met as closely as whole groups allow.
    """
    from biograd.data import split_indices

    labels = _named_labels(y, task, class_names)
    _refuse_lonely_classes(labels)
    try:
        if groups is not None:
            return _group_split(labels, np.asarray(groups), test_fraction, val_fraction, seed)
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


def _named_labels(y: np.ndarray, task: str, class_names: list[str] | None) -> np.ndarray | None:
    """The class of each sample by its label (its code without ``class_names``); None for regression."""
    if task != "classification":
        return None
    if class_names:
        return np.asarray([str(name) for name in class_names], dtype=object)[y]
    return y


def _refuse_lonely_classes(labels: np.ndarray | None) -> None:
    """A class with one sample cannot be on both sides of any split (held-out or fold): name it."""
    if labels is None:
        return
    names, counts = np.unique(labels, return_counts=True)
    lonely = [str(name) for name in names[counts < 2]]
    if lonely:  # the class is the news here, not the number of samples
        raise DataError(
            f"Class {', '.join(map(repr, lonely[:5]))} has only 1 sample: a stratified split needs at "
            "least 2 per class (one for training, one held out). Remove or merge that class, or add "
            "samples of it."
        )


def _held_out_group(
    labels: np.ndarray | None, groups: np.ndarray, fraction: float, seed: int, part: str
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) indices: one fold of ``round(1 / fraction)`` group folds held out."""
    from biograd.stats import cross_validation_folds

    folds = max(2, round(1 / fraction))
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"all samples form one group, so no {part} part can be held out")
    with warnings.catch_warnings():  # "the least populated class has fewer members than n_splits"
        warnings.simplefilter("ignore")
        fold = cross_validation_folds(
            len(groups), folds=min(folds, n_groups), labels=labels, groups=groups, seed=seed
        )[0]
    return fold.train, fold.test


def _group_split(
    labels: np.ndarray | None, groups: np.ndarray, test_fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rest, test = _held_out_group(labels, groups, test_fraction, seed, "test")
    kept, held = _held_out_group(
        None if labels is None else labels[rest], groups[rest], val_fraction, seed + 1, "validation"
    )
    return np.sort(rest[kept]), np.sort(rest[held]), np.sort(test)


def _n_outputs(data: Dataset) -> int:
    """Outputs of the last layer: 1 for regression, as the one task rule says for k classes otherwise."""
    return classifier_outputs(len(data.target_names))[0] if data.task == "classification" else 1


def _loss_for(data: Dataset) -> str:
    """The loss, stated rather than inferred again from y (a standardized 0/1 target would look like two
    classes): mean squared error for regression, the one rule's loss for k classes otherwise."""
    return classifier_outputs(len(data.target_names))[1] if data.task == "classification" else "mse"


#: Bytes per parameter while training: float32 weight, gradient, and the optimizer's state (Adam keeps
#: two moments), plus room for the temporaries of one update.
BYTES_PER_PARAMETER = 4 * 5
#: The largest network built by the pipeline (biograd.pipeline.prepare.MAX_PARAMETERS to change it).
MAX_PARAMETERS = 100_000_000


def _available_memory() -> int | None:
    """Bytes of memory this machine has free now (Linux/macOS), or None where it cannot tell."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_fits_in_memory(n_parameters: int, config: TrainConfig) -> None:
    """A network whose training state would not fit in free memory is refused before it is built
    (``--hidden 99999999`` would otherwise allocate until the machine gives up)."""
    from biograd.io.files import size_text

    need = n_parameters * BYTES_PER_PARAMETER
    free = _available_memory()
    if n_parameters > MAX_PARAMETERS:
        hidden = ",".join(map(str, config.hidden or ()))
        raise DataError(
            f"The network would have {n_parameters:,} parameters (--hidden {hidden}), more than the "
            f"{MAX_PARAMETERS:,} biograd trains (about {size_text(MAX_PARAMETERS * BYTES_PER_PARAMETER)} "
            "while training, and days of numpy arithmetic). Use smaller hidden layers (e.g. --hidden 64,32)."
        )
    if free is not None and need > free:
        hidden = ",".join(map(str, config.hidden or ()))
        raise DataError(
            f"The network would have {n_parameters:,} parameters (--hidden {hidden}); "
            f"training it needs about {size_text(need)}, more than the {size_text(free)} of memory free. "
            "Use smaller hidden layers (e.g. --hidden 64,32)."
        )


def build_model(
    data: Dataset, n_inputs: int | tuple[int, int], config: TrainConfig
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
        _check_fits_in_memory(sum((a + 1) * b for a, b in itertools.pairwise(sizes)), config)
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
    dense = [hidden[0], *hidden[1:], n_out]
    n_params = (channels * k + 1) * hidden[0] + sum((a + 1) * b for a, b in itertools.pairwise(dense))
    _check_fits_in_memory(n_params, config)
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


def prepare(data: Dataset, config: TrainConfig | None = None) -> Prepared:
    """Split the data, learn the preprocessing from the training rows, and build the network."""
    from biograd.bio.preprocess import Preprocessor

    config = (config or TrainConfig()).check()
    _task_of(data, config.task)
    y = data.y
    _refuse_lonely_classes(_named_labels(y, data.task, list(data.target_names)))
    scheme = evaluation_scheme(data, config)
    folds: list[Fold] = []
    if scheme.scheme == "holdout":
        train_idx, val_idx, test_idx = split(
            y,
            data.task,
            config.test_fraction,
            config.val_fraction,
            config.seed,
            groups=data.groups,
            class_names=list(data.target_names),
        )
    else:
        scheme, folds = _folds(data, scheme, config.seed)
        train_idx, val_idx, test_idx = np.arange(len(y)), np.arange(0), np.arange(len(y))
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
    selected = None
    if not data.is_sequence and scheme.scheme == "cross-validation":
        wide = x.shape[1] > len(y)
        selected = config.select_features or (DEFAULT_SELECTED if wide else None)
        if selected is not None and selected >= x.shape[1]:
            selected = None
        if selected is not None:
            n_inputs = selected
    y_scale = None
    if data.task == "regression":
        mean, std = float(y[train_idx].mean()), float(y[train_idx].std())
        y_scale = (mean, std if std > 0 else 1.0)
        y_fit = ((y - y_scale[0]) / y_scale[1]).astype(np.float32)
    else:
        y_fit = y.astype(np.int64)
    manual_seed(config.seed)
    config = config.with_defaults(data.is_sequence)
    model, text, why, k = build_model(data, n_inputs, config)
    lr = config.lr
    preprocessing.update(
        {
            "target": data.target_name,
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
        scheme=scheme,
        folds=folds,
        selected_features=selected,
    )


#: Tables with more features than samples keep this many features per fold by default (Khan et al. kept
#: 96 genes of 2,308), chosen inside each fold by :func:`biograd.stats.univariate_selection`.
DEFAULT_SELECTED = 100

#: Sequence data above this many samples get one held-out test set by default: one convolutional network
#: on the bundled motifs data (1,280 training sequences of 50 bases) took 186 s of CPU for 200 epochs,
#: so five would break the "about a minute" promise, and a test set of 200+ samples keeps the intervals
#: narrow (about +-0.05 on accuracy at worst). ``--evaluation cross-validation``
#: asks for the folds anyway.
SEQUENCE_CV_LIMIT = 1000


def evaluation_scheme(data: Dataset, config: TrainConfig) -> Scheme:
    """How to evaluate: :func:`biograd.stats.choose_scheme` from the number of samples and the size of the
    rarest class (sequences above :data:`SEQUENCE_CV_LIMIT` samples: one held-out test set), unless
    ``config.evaluation`` names a scheme."""
    n = len(data.y)
    smallest = min(data.class_counts().values()) if data.task == "classification" else None
    chosen = choose_scheme(n, smallest)
    if config.evaluation == "holdout" or (
        config.evaluation == "auto" and data.is_sequence and n > SEQUENCE_CV_LIMIT
    ):
        return Scheme("holdout", 1, 1)
    if config.evaluation == "cross-validation" and chosen.scheme == "holdout":
        return choose_scheme(min(n, 5000), smallest)
    return chosen


def _folds(data: Dataset, scheme: Scheme, seed: int) -> tuple[Scheme, list[Fold]]:
    """The cross-validation folds, stratified by class, never splitting a group (``data.groups``:
    ``--groups``, identical samples, related sequences). With fewer groups than folds there is one fold
    per group (the scheme returned says so)."""
    labels = data.y if data.task == "classification" else None
    groups = data.groups
    if groups is not None:
        n_groups = len(np.unique(np.asarray(groups)))
        if 2 <= n_groups < scheme.folds:
            scheme = Scheme(scheme.scheme, n_groups, scheme.repeats)
    try:
        return scheme, cross_validation_folds(
            len(data.y), scheme.folds, scheme.repeats, labels=labels, groups=groups, seed=seed
        )
    except ValueError as err:
        raise DataError(f"{len(data.y)} samples cannot be cross-validated: {err}") from None


def _alphabet(data: Dataset) -> str:
    from biograd.bio.sequences import ALPHABETS

    return ALPHABETS[data.kind]


def shift_features(
    x: np.ndarray, feature_names: list[str], kind: str, sequences: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """What the new-data check compares with training (:func:`biograd.stats.check_shift`): a table's
    network inputs, named by feature; for sequences, each sequence's letter frequencies and its length
    (a one-hot position says little alone, a batch of other peptides shows in its composition)."""
    if kind not in ("dna", "rna", "protein"):
        return x.reshape(len(x), -1), list(feature_names)
    from biograd.bio.relatives import kmer_composition
    from biograd.bio.sequences import ALPHABETS
    from biograd.explain.predictions import sequence_lengths

    lengths = sequence_lengths(x, sequences).astype(np.float64)
    if sequences is None:  # letters back from the one-hot columns (padding: none)
        letters = ALPHABETS[kind]
        idx = x.argmax(axis=1)
        sequences = [
            "".join(letters[i] for i in row[:n]) for row, n in zip(idx, lengths.astype(int), strict=True)
        ]
    freqs, names = kmer_composition(sequences, kind, (1,))
    return np.column_stack([freqs, lengths]), [f"share of {n}" for n in names] + ["sequence length"]


def training_profile(prepared: Prepared) -> dict[str, Any]:
    """The :class:`biograd.stats.Profile` of the training rows, as saved in the model's metadata."""
    from biograd.stats import Profile

    data, rows = prepared.data, prepared.train_idx
    seqs = [data.sequences[i] for i in rows] if data.sequences is not None else None
    x, names = shift_features(prepared.x[rows], prepared.feature_names, data.kind, seqs)
    return Profile.of(x, names).as_dict()
