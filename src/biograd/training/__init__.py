"""Training a network, one file per concept of the notes:

- :mod:`~biograd.training.fit`: ``fit()``, the loop (forward, loss, backward, optimizer step) and its
  safety nets (divergence, Ctrl-C).
- :mod:`~biograd.training.history`: the :class:`History` fit returns and its ``diagnose()``.
- :mod:`~biograd.training.callbacks`: :class:`EarlyStopping`, :class:`ModelCheckpoint`,
  :class:`ProgressBar` and the :class:`Callback` base class.
- :mod:`~biograd.training.metrics`: accuracy, R^2, mean absolute error.
- :mod:`~biograd.training.targets`: the one rule that decides classification or regression, and the
  loss, from y and the model (:func:`infer_task`), and :class:`TargetInfo`, what fit decided
  (``model.target_info``).
- :mod:`~biograd.training.predict`: ``predict``, ``predict_proba``, ``evaluate``.
- :mod:`~biograd.training.inputs`: how x goes through the model (shared by fit and predict).
"""

from biograd.training.callbacks import Callback, EarlyStopping, ModelCheckpoint, ProgressBar
from biograd.training.fit import STOP_REASONS, ConvergenceWarning, fit
from biograd.training.history import Diagnosis, History
from biograd.training.metrics import accuracy, mean_absolute_error, r2_score
from biograd.training.predict import evaluate, predict, predict_proba
from biograd.training.targets import (
    TargetInfo,
    TaskChoice,
    classifier_outputs,
    get_target_info,
    infer_task,
    set_class_names,
)

__all__ = [
    "STOP_REASONS",
    "Callback",
    "ConvergenceWarning",
    "Diagnosis",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "ProgressBar",
    "TargetInfo",
    "TaskChoice",
    "accuracy",
    "classifier_outputs",
    "evaluate",
    "fit",
    "get_target_info",
    "infer_task",
    "mean_absolute_error",
    "predict",
    "predict_proba",
    "r2_score",
    "set_class_names",
]
