"""The one rule that decides the task (classification or regression) and the loss from y and the model.

Every place that asks "is this y a class label, and which loss goes with it?" comes here: ``fit`` (and
through it ``evaluate`` and the scikit-learn estimators), the table, FASTA and h5ad readers
(``biograd.bio.infer_task``) and the command line. The rule, in order:

1. A loss given by the user decides: ``CrossEntropyLoss``, ``NLLLoss``, ``BCEWithLogitsLoss``,
   ``BCELoss`` mean classification; ``MSELoss``, ``L1Loss`` mean regression.
2. Text and booleans are class labels.
3. Numbers, integers and floats alike, are class labels when they look like class codes
   (:func:`biograd.data.class_label_count`: whole numbers with at most 10 distinct values and at most half
   as many distinct values as samples; so ``[0., 1., 1., 0.]`` is a binary label and ages are measured
   values), **and the model's output fits**:

   - no model yet (a reader; the main job then builds the model to fit): class codes are classes;
   - 1 output: two values are classes (binary cross-entropy with logits); 3 or more class-like values are
     read as numbers (regression, MSELoss) **with a warning**, since a 1-output model cannot hold k > 2
     classes: give the last layer k outputs for classification;
   - k > 1 outputs and one value per sample: classes (cross-entropy); a 1-output regression is impossible.

   Anything else (fractions, ages, several values per sample) is regression with MSELoss.

When the guess could go either way, fit warns and says how to force the other answer: ``loss="mse"``
(numbers) or ``loss="cross_entropy"`` / ``"bce_with_logits"`` (classes) in Python, ``--task`` on the
command line. Floats 0.0/1.0 are read as two classes with a warning, integer labels without one.

What fit decided is kept on the model as :class:`TargetInfo` (``model.target_info``), which ``predict``,
``evaluate`` and ``biograd.save`` read.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from biograd.data import class_label_count
from biograd.nn.module import Module
from biograd.tensor import Tensor

CLASSIFICATION_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss"})
REGRESSION_LOSSES = frozenset({"MSELoss", "L1Loss"})
BINARY_LOSSES = frozenset({"BCEWithLogitsLoss", "BCELoss"})
TASKS = ("classification", "regression")

# the name biograd.nn.get_loss knows each loss class by (evaluate re-creates the loss fit used)
LOSS_SHORT_NAMES = {
    "MSELoss": "mse",
    "L1Loss": "l1",
    "BCELoss": "bce",
    "BCEWithLogitsLoss": "bce_with_logits",
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll",
}


# --------------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskChoice:
    """What :func:`infer_task` decided.

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        n_classes: the number of distinct labels when y looks like class labels (else None).
        note: a sentence for a warning when the guess could go either way (and how to force the other
            answer); None when the answer is clear.
    """

    task: str
    n_classes: int | None = None
    note: str | None = None


def classifier_outputs(n_classes: int) -> tuple[int, str]:
    """(outputs of the last layer, loss name) for a classifier of ``n_classes`` classes.

    Two classes: 1 output, a logit z with P(class 1) = sigmoid(z), trained with ``"bce_with_logits"``;
    k > 2 classes: k outputs (logits) trained with ``"cross_entropy"``. fit chooses these losses for such
    models, the scikit-learn classifier and the main job build such models.
    """
    return (1, "bce_with_logits") if n_classes <= 2 else (int(n_classes), "cross_entropy")


def _as_array(y: Any) -> np.ndarray:
    if isinstance(y, Tensor):
        return y.data
    if hasattr(y, "to_numpy"):  # pandas Series / DataFrame
        return np.asarray(y.to_numpy())
    return np.asarray(y)


def _is_text(arr: np.ndarray) -> bool:
    """Booleans, or text that does not read as numbers: labels, whatever their values."""
    if arr.dtype.kind == "b":
        return True
    if arr.dtype.kind not in "OUS":
        return False
    try:
        arr.astype(np.float64)
    except (TypeError, ValueError):
        return True
    return False


def _loss_name(loss_fn: Any) -> str | None:
    if loss_fn is None:
        return None
    return loss_fn.__name__ if isinstance(loss_fn, type) else type(loss_fn).__name__


def _examples(values: np.ndarray, n: int = 5) -> str:
    shown = [str(_plain(v)) for v in values[:n]]
    return ", ".join(shown) + (", ..." if len(values) > n else "")


def infer_task(y: Any, loss: Any = None, n_outputs: int | None = None, what: str = "y") -> TaskChoice:
    """Classification or regression for targets ``y``: the rule of this module (see its docstring).

    Args:
        y: the targets, one value (or row) per sample: array, list, Tensor or pandas Series.
        loss: the loss the user asked for (a name for ``biograd.nn.get_loss`` or a loss module), or None.
        n_outputs: the outputs per sample of the model's last layer, or None when there is no model yet.
        what: how messages name y (``"y"``, ``"the target 'disease'"``).

    >>> infer_task([0.0, 1.0, 1.0, 0.0]).task
    'classification'
    >>> infer_task([0.0, 1.0, 2.0, 1.0, 0.0, 2.0], n_outputs=1).task   # 3 classes need 3 outputs
    'regression'
    >>> infer_task([23, 41, 35, 67, 52, 29, 44, 38, 61, 30, 47, 55]).task   # ages: measured values
    'regression'
    """
    if isinstance(loss, str):
        from biograd.nn import get_loss

        loss = get_loss(loss)
    name = _loss_name(loss)
    arr = _as_array(y)
    n_classes = class_label_count(arr)
    if name in CLASSIFICATION_LOSSES:
        return TaskChoice("classification", n_classes)
    if name in REGRESSION_LOSSES:
        return TaskChoice("regression")
    if arr.ndim == 0:
        raise ValueError(f"{what} must have one value (or row) per sample; got a single number.")
    if _is_text(arr):
        return TaskChoice("classification", n_classes)
    per_sample = int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1
    if per_sample > 1:  # several numbers per sample: one output each
        return TaskChoice("regression")
    if n_outputs is None:
        return TaskChoice("classification" if n_classes is not None else "regression", n_classes)
    if n_outputs > 1:
        # one value per sample for a k-output model: only class indices fit (as numbers they would not
        # even have the model's shape), e.g. biograd.tensor([0, 2, 1]) (float32) for 3 outputs
        numbers = arr.astype(np.float64).reshape(-1)
        whole = bool(np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)))
        return TaskChoice("classification" if whole else "regression", n_classes)
    if n_classes is None:
        return TaskChoice("regression")
    values = np.unique(arr.astype(np.float64)[np.isfinite(arr.astype(np.float64))])
    if n_classes <= 2:
        note = None
        if arr.dtype.kind == "f" and n_classes == 2:
            a, b = (_plain(v) for v in values)
            note = (
                f"{what} holds only the two values {a} and {b}, as floating-point numbers; fit reads them as "
                "two classes (classification with BCEWithLogitsLoss: predict gives the class, predict_proba "
                "its probability). To fit them as numbers pass loss='mse'; integer labels "
                "(y.astype(int)) say 'classes' without this warning."
            )
        return TaskChoice("classification", n_classes, note)
    note = (
        f"{what} holds {n_classes} distinct whole numbers ({_examples(values)}), which could be class "
        "labels, but the model gives 1 output, so fit reads them as numbers (regression, MSELoss). For "
        f"classification give the last layer {n_classes} outputs (cross-entropy); to keep regression "
        "without this warning pass loss='mse'."
    )
    return TaskChoice("regression", n_classes, note)


# --------------------------------------------------------------------------------------------------
# What fit decided, kept on the model
# --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class TargetInfo:
    """How fit read y for a model: set by ``fit`` as ``model.target_info``, read by ``predict``,
    ``predict_proba``, ``evaluate`` and ``biograd.save`` (which stores it as the ``"target"`` entry of the
    model's JSON file; ``biograd.load`` puts it back).

    Attributes:
        task: ``"classification"`` or ``"regression"``.
        loss: the class name of the loss fit trained with (``"CrossEntropyLoss"``, ``"MSELoss"``...).
        output_kind: what the model's outputs are: ``"logits"``, ``"probabilities"`` (``BCELoss``),
            ``"log_probabilities"`` (``NLLLoss``) or ``"values"`` (regression).
        classes: the label values y had, in the order of the class indices 0..k-1 (so predict returns
            ``classes[index]``); None for regression.
        output_shape: the model's output shape per sample, e.g. ``(3,)``.
        feature_names: the column names of x when it was a pandas table (predict then checks them).
    """

    task: str
    loss: str
    output_kind: str
    classes: list[Any] | None = None
    output_shape: tuple[int, ...] = ()
    feature_names: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (the ``"target"`` entry of a saved model file)."""
        return {
            "task": self.task,
            "loss": self.loss,
            "output_kind": self.output_kind,
            "classes": None if self.classes is None else [_plain(c) for c in self.classes],
            "output_shape": list(self.output_shape),
            "feature_names": None if self.feature_names is None else list(self.feature_names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        """Read the form :meth:`to_dict` writes (also the files biograd wrote before this class existed)."""
        task = data.get("task")
        if task not in TASKS:
            raise ValueError(f"The target description has task {task!r}; expected one of {TASKS}.")
        classes = data.get("classes")
        names = data.get("feature_names")
        return cls(
            task=task,
            loss=str(data.get("loss") or ""),
            output_kind=str(data.get("output_kind") or ("values" if task == "regression" else "logits")),
            classes=None if classes is None else list(classes),
            output_shape=tuple(int(n) for n in data.get("output_shape") or ()),
            feature_names=None if names is None else [str(n) for n in names],
        )

    def with_classes(self, names: list[Any]) -> TargetInfo:
        """The same description with other names for the classes (one per class, in index order), e.g. the
        main job's class names in place of the codes 0..k-1 it trained on."""
        if self.classes is None:
            raise ValueError("A regression model has no classes to name.")
        names = list(names)
        if len(names) != len(self.classes):
            raise ValueError(
                f"The model was trained on {len(self.classes)} classes "
                f"({_examples(np.asarray(self.classes))}) but {len(names)} names were given; "
                "give one name per class, in the order of the classes."
            )
        return dataclasses.replace(self, classes=names)


def get_target_info(model: Module) -> TargetInfo | None:
    """What fit decided about y for this model (``model.target_info``), or None if fit never saw it."""
    info = model.__dict__.get("target_info")
    return info if isinstance(info, TargetInfo) else None


def set_target_info(model: Module, info: TargetInfo | None) -> None:
    """Store ``info`` as ``model.target_info`` (what fit and ``biograd.load`` do)."""
    object.__setattr__(model, "target_info", info)


def set_class_names(model: Module, names: list[Any]) -> None:
    """Name the classes of a classifier fit has trained (``predict`` then returns these names).

    >>> set_class_names(model, ["healthy", "tumour"])   # doctest: +SKIP
    """
    info = get_target_info(model)
    if info is None:
        raise ValueError(
            "set_class_names needs a model trained by biograd.fit (or loaded with biograd.load)."
        )
    set_target_info(model, info.with_classes(names))


# --------------------------------------------------------------------------------------------------
# y as fit needs it
# --------------------------------------------------------------------------------------------------


def _prepare_target(y: Any, loss: Any, out_shape: tuple[int, ...], what: str = "y"):
    """(TargetInfo, loss module, y encoded) from y, the loss asked for and the model's output shape.

    The task comes from :func:`infer_task`; then classification labels become indices 0..k-1 over the
    sorted classes and, without a loss, 2 classes and 1 output take BCEWithLogitsLoss, k classes and k
    outputs CrossEntropyLoss; regression takes MSELoss.
    """
    from biograd.nn import get_loss

    y_arr = _as_array(y)
    loss_fn = get_loss(loss) if isinstance(loss, str) else loss
    name = _loss_name(loss_fn)
    width = int(np.prod(out_shape)) if out_shape else 1
    choice = infer_task(y_arr, loss_fn, width, what)
    if choice.note:
        warnings.warn(choice.note, UserWarning, stacklevel=3)

    if choice.task == "regression":
        if y_arr.dtype.kind in "OUS" and not _is_text(y_arr):
            y_arr = y_arr.astype(np.float64)
        if y_arr.dtype.kind not in "biuf":
            raise TypeError(f"{what} must hold numbers for regression; got dtype {y_arr.dtype}.")
        n = len(y_arr)
        if y_arr[0].size != width:
            raise ValueError(
                f"The model gives {width} output(s) per sample but {what} has {y_arr[0].size} value(s) per "
                f"sample. Make the last layer have {y_arr[0].size} output(s)."
            )
        if loss_fn is None:
            loss_fn = get_loss("mse")
        target = TargetInfo("regression", _loss_name(loss_fn), "values", None, out_shape)
        return target, loss_fn, y_arr.reshape((n, *out_shape))

    # classification: labels -> indices 0..k-1
    if y_arr.ndim > 1:
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr[:, 0]
        else:
            raise ValueError(
                f"{what} must be one class label per sample (shape (n,)); got shape {y_arr.shape}. "
                "For one-hot labels, pass y.argmax(axis=1)."
            )
    if y_arr.dtype.kind == "f":
        if not np.all(np.isfinite(y_arr)) or not np.all(y_arr == np.round(y_arr)):
            raise ValueError(
                f"{name} needs class labels (whole numbers such as 0, 1, 2) in {what}; got fractional values "
                "such as " + ", ".join(str(v) for v in y_arr[y_arr != np.round(y_arr)][:3]) + "."
            )
        y_arr = y_arr.astype(np.int64)
    classes, indices = np.unique(y_arr, return_inverse=True)
    k = len(classes)
    if name is None:
        if width == 1 and k <= 2:
            loss_fn = get_loss(classifier_outputs(k)[1])
        elif width == k and len(out_shape) == 1:
            loss_fn = get_loss("cross_entropy")
        else:
            raise ValueError(
                f"The model gives {width} output(s) per sample but {what} has {k} classes "
                f"({', '.join(str(c) for c in classes[:10])}). Give the last layer {k} outputs "
                "(cross-entropy)"
                + (" or, for two classes, 1 output (binary cross-entropy)." if k == 2 else ".")
            )
        name = _loss_name(loss_fn)
    if name in BINARY_LOSSES:
        if k > 2:
            raise ValueError(
                f"{name} is for two classes; {what} has {k}: {list(classes[:10])}. Use cross_entropy."
            )
        kind = "probabilities" if name == "BCELoss" else "logits"
        if width != 1:
            raise ValueError(f"{name} needs a model with 1 output per sample; this one gives {width}.")
        y_out = indices.astype(np.float64).reshape((len(indices), *out_shape))
    else:
        kind = "log_probabilities" if name == "NLLLoss" else "logits"
        y_out = indices.astype(np.int64)
        if width < k and width != 1:
            raise ValueError(
                f"The model gives {width} outputs per sample but {what} has {k} classes; give the last layer "
                f"{k} outputs."
            )
    target = TargetInfo("classification", name, kind, list(classes), out_shape)
    return target, loss_fn, y_out


def _encode_like(y: Any, target: TargetInfo, out_shape: tuple[int, ...], what: str) -> np.ndarray:
    """Validation (or evaluation) labels encoded with the training classes (unknown labels are an error)."""
    y_arr = _as_array(y)
    if target.task == "regression":
        width = int(np.prod(out_shape)) if out_shape else 1
        if y_arr.ndim == 0 or y_arr[0].size != width:
            raise ValueError(f"{what} must have {width} value(s) per sample, like y.")
        return y_arr.reshape((len(y_arr), *out_shape))
    y_arr = y_arr.reshape(len(y_arr))
    if y_arr.dtype.kind == "f" and np.all(y_arr == np.round(y_arr)):
        y_arr = y_arr.astype(np.int64)
    lookup = {c: i for i, c in enumerate(target.classes or [])}
    try:
        indices = np.array([lookup[_plain(v)] for v in y_arr], dtype=np.int64)
    except KeyError as err:
        raise ValueError(
            f"{what} contains the label {err.args[0]!r}, which y does not have (classes: "
            f"{', '.join(map(str, target.classes or []))})."
        ) from None
    if target.loss in BINARY_LOSSES:
        return indices.astype(np.float64).reshape((len(indices), *out_shape))
    return indices
