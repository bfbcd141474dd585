"""Using a trained run on new data: load the run directory, read a new file the way the training data
were read, then predict, evaluate or explain."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biograd.bio.dataset import SEQUENCE_KINDS
from biograd.bio.errors import DataError
from biograd.explain.predictions import Explanation, class_index, explain_sequences, explain_table
from biograd.io import ModelFileError, load
from biograd.pipeline.evaluate import classification_metrics, regression_metrics
from biograd.pipeline.rundir import PIPELINE_FORMAT
from biograd.pipeline.sources import _check_readable, _frame, _warnings_if_ok, data_format
from biograd.training import predict, predict_proba


@dataclass
class NewData:
    """New samples turned into network inputs the way the model's training data were."""

    x: np.ndarray
    ids: list[str]
    y: np.ndarray | None  # class codes or values, when the data have the target
    sequences: list[str] | None = None
    shift: Any = None  # biograd.stats.Shift: how the samples differ from the training data (None: unknown)


def load_run(model_dir: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """(model, metadata) of a directory written by ``biograd train``.

    Raises ModelFileError for a missing, corrupt or truncated model, and DataError for a model that
    ``biograd train`` did not write (no saved preprocessing).
    """
    path = Path(model_dir)
    if not path.exists():
        raise FileNotFoundError(f"Model directory {str(path)!r} not found. Check the path.")
    if not path.is_dir():
        raise ModelFileError(
            f"{str(path)!r} is a file; expected the directory written by biograd train (--out)."
        )
    model, info = load(path, with_metadata=True)
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
    orientation: str = "auto",
    sample_id_column: str | None = None,
) -> NewData:
    """Read a data file for a trained model: the same columns (matched by name, in any order), scaling
    and encoding for tables; the same alphabet for sequences.

    Sequences: a network that ends its convolutions with global max pooling (what ``biograd train``
    builds) reads any length, so new sequences are only ever padded (to the training length, or to the
    longest new one), never cut: a motif at base 80 of a 120-base sequence is still seen. Pass the
    ``model`` so this can be checked; without it, or for a network that needs a fixed length, sequences
    are padded or trimmed to the training length (one_hot warns about it).

    Tables: with ``labels`` (a sample sheet) the file is an expression matrix, genes x samples or samples x
    genes (``orientation``, ``sample_id_column``: see :func:`~biograd.bio.matrix.join_matrix_and_sheet`).

    The samples are compared with the training data saved with the model (:func:`check_new_data`): a
    warning names the most shifted features and ``NewData.shift`` records it.
    """
    from biograd.bio.preprocess import Preprocessor
    from biograd.bio.tabular import read_frame

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
        elif labels is not None:
            from biograd.pipeline.sources import read_matrix_frame

            sheet = read_frame(labels)
            keep = [target] if target in sheet.columns else []
            if need_target and not keep:
                raise DataError(
                    f"The sample sheet {Path(labels).name!r} has no column {target!r}, the target the model "
                    "was trained to predict; evaluate needs it."
                )
            frame, id_col = read_matrix_frame(path, labels, keep, orientation, sample_id_column)
            ids = frame[id_col].astype(str).tolist()
            if keep:
                y_raw = frame[target].to_numpy()
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
    new = NewData(x=x, ids=ids, y=y, sequences=sequences)
    new.shift = check_new_data(info, new)
    if new.shift is not None and new.shift.any:
        warnings.warn(f"{path.name}: {new.shift.describe()}", stacklevel=2)
    return new


def check_new_data(info: dict[str, Any], new: NewData) -> Any:
    """How the new samples differ from the training rows (:func:`biograd.stats.check_shift` against the
    profile saved with the model); None for a model saved without one."""
    from biograd.pipeline.prepare import shift_features
    from biograd.stats import Profile, check_shift

    saved = info.get("training_profile")
    if not saved:
        return None
    profile = Profile.from_dict(saved)
    x, _ = shift_features(new.x, info["feature_names"], info["preprocessing"]["kind"], new.sequences)
    return check_shift(profile, x)


def shift_column(new: NewData) -> np.ndarray | None:
    """Per sample: True when a feature lies outside the training range (None without a check)."""
    if new.shift is None or new.shift.outside_samples is None:
        return None
    return np.asarray(new.shift.outside_samples, dtype=bool)


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


def committee_disagreement(model: Any, info: dict[str, Any], x: np.ndarray) -> dict[str, np.ndarray] | None:
    """For a committee of networks: per sample, ``spread`` (the standard deviation across members of the
    probability of the committee's class, or of the prediction in the target's units) and ``uncertain``
    (the members disagree: :func:`biograd.nn.committee.uncertain`, agreement below 0.8 for classes,
    spread above 0.25 training-target SDs for regression). None for a single network."""
    from biograd.nn.committee import Committee, uncertain

    if not isinstance(model, Committee):
        return None
    found = model.disagreement(x)
    target_sd = None
    if "agreement" not in found:
        y_scale = info["preprocessing"].get("y_scale")
        if not y_scale:
            raise ModelFileError(
                "This regression committee's model.json has no training target scale (preprocessing "
                "'y_scale'), which says how large a spread is; save it with biograd train."
            )
        target_sd = float(y_scale[1])
    return {"spread": found["spread"], "uncertain": uncertain(found, target_sd)}


def _class_probabilities(model: Any, x: np.ndarray, names: list[str]) -> np.ndarray:
    """predict_proba, checked against the class names saved with the model: a model.json naming five
    classes for a network with one output is a damaged model file, not a bug to crash on."""
    proba = predict_proba(model, x)
    if proba.ndim != 2 or proba.shape[1] != len(names):
        raise ModelFileError(
            f"model.json names {len(names)} classes ({', '.join(map(repr, names[:5]))}) but the network "
            f"gives {proba.shape[1] if proba.ndim == 2 else 1} class probabilities: the model directory "
            "was edited or mixed from two runs. Train again, or restore its model.json."
        )
    return proba


def predict_table(model: Any, info: dict[str, Any], new: NewData) -> Any:
    """Predictions as a DataFrame: id, predicted (class name or value), class probabilities; for a
    committee of networks also ``spread`` and ``uncertain`` (see :func:`committee_disagreement`)."""
    import pandas as pd

    prep = info["preprocessing"]
    frame = pd.DataFrame({"id": new.ids})
    if prep.get("task") == "classification":
        names = [str(c) for c in prep["class_names"]]
        proba = _class_probabilities(model, new.x, names)
        if new.y is not None:
            frame["true"] = np.asarray(names, dtype=object)[new.y]
        frame["predicted"] = np.asarray(names, dtype=object)[proba.argmax(axis=1)]
        for j, name in enumerate(names):
            frame[f"probability_{name}"] = np.round(proba[:, j], 6)
    else:
        if new.y is not None:
            frame["true"] = new.y
        frame["predicted"] = np.asarray(predict(model, new.x), dtype=np.float64).reshape(len(new.x))
    found = committee_disagreement(model, info, new.x)
    if found is not None:
        frame["spread"] = np.round(found["spread"], 6)
        frame["uncertain"] = found["uncertain"]
    outside = shift_column(new)
    if outside is not None:
        frame["outside_training_range"] = outside
    return frame


def evaluate_new(model: Any, info: dict[str, Any], new: NewData) -> dict[str, Any]:
    """Test metrics of a trained model on labelled new data (the same metrics as the report); for a
    committee of networks also ``uncertain_samples``, how many samples its members disagree on."""
    prep = info["preprocessing"]
    if new.y is None:
        raise DataError("These data have no target values to evaluate against.")
    if prep.get("task") == "classification":
        names = [str(c) for c in prep["class_names"]]
        metrics = classification_metrics(new.y, _class_probabilities(model, new.x, names), names)
    else:
        pred = np.asarray(predict(model, new.x), dtype=np.float64).reshape(len(new.x))
        metrics = regression_metrics(new.y, pred)
    found = committee_disagreement(model, info, new.x)
    if found is not None:
        metrics["uncertain_samples"] = int(found["uncertain"].sum())
    if new.shift is not None:
        metrics["new_data_shift"] = new.shift.as_dict()
    return metrics


def explain_new(
    model: Any, info: dict[str, Any], new: NewData, top: int = 20, explain_class: str | None = None
) -> Explanation:
    """Explain a trained model on new data (every sample, or a seeded random sample of
    :data:`~biograd.explain.MAX_EXPLAIN_ROWS` when there are more; ``sampled`` says so).

    Tables: :func:`~biograd.explain.explain_table` (its ``table()`` keeps the first ``top`` features).
    Sequences: :func:`~biograd.explain.explain_sequences`, the ``top`` most confident sequences of each
    class shown. ``explain_class`` (a class name) explains every sample towards that class.
    """
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
    else:
        found = explain_table(
            model,
            new.x,
            info["feature_names"],
            task=task,
            class_names=names,
            explain_class=chosen,
            ids=new.ids,
        )
        found.top = top
    outside = shift_column(new)
    if outside is not None and new.shift.any:  # which explained samples lie outside the training data
        by_id = dict(zip(map(str, new.ids), outside.tolist(), strict=False))
        column = [bool(by_id.get(str(i), False)) for i in found.per_sample["id"]]
        found.per_sample["outside_training_range"] = column  # last: the attribution columns keep their place
    return found
