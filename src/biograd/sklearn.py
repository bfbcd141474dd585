"""biograd networks as scikit-learn estimators: use them in Pipeline, GridSearchCV, cross_val_score.

:class:`NeuralNetClassifier` and :class:`NeuralNetRegressor` follow scikit-learn's conventions (the
constructor only stores its parameters; ``fit`` learns attributes ending in ``_``) and the parameter names
of scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` where they overlap, so switching is a rename::

    from sklearn.neural_network import MLPClassifier               # before
    from biograd.sklearn import NeuralNetClassifier as MLPClassifier   # after

Under the hood ``fit`` builds a :class:`biograd.nn.MLP` and trains it with :func:`biograd.fit`; the trained
network is ``estimator.model_`` (hand it to PyTorch with ``biograd.interop.to_torch(estimator.model_)``)
and the training record is ``estimator.history_``.

Differences from scikit-learn's MLP, on purpose:

- ``alpha`` is the optimizer's ``weight_decay`` (gradient of the loss + alpha * w for every parameter,
  biases too; the regressor's loss is MSE / 2 as scikit-learn's, so biograd's MSE gets alpha * 2);
  scikit-learn scales its penalty by 1/batch size and spares the biases.
- ``loss_curve_`` holds the loss on all training rows at the end of each epoch (eval mode, without the
  penalty; MSE / 2 for the regressor, on scikit-learn's scale), not the average of the mini-batch losses
  during the epoch.
- With ``early_stopping`` the weights of the epoch with the best validation score are put back.
- Networks train in float32 (biograd's default).

Alike on purpose: every layer starts as scikit-learn's do (Glorot-uniform weights and biases, see
``_glorot_like_sklearn``), and ``batch_size="auto"`` is min(200, n_samples), so equal settings learn
about equally much per epoch (``tests/test_sklearn_estimators.py`` measures it against MLPRegressor).

This module imports scikit-learn when it is imported (``import biograd`` alone does not).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

import biograd.random as _random
from biograd import nn, optim
from biograd.training import ConvergenceWarning as _BiogradConvergenceWarning
from biograd.training import EarlyStopping, fit, predict, predict_proba
from biograd.training.targets import classifier_outputs

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]

# scikit-learn's activation names, mapped to biograd's (biograd's own names are accepted too)
_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
    "gelu": "gelu",
}
_SOLVERS = ("adam", "sgd")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _glorot_like_sklearn(model: nn.MLP, activation: str) -> None:
    """Start every Linear layer where scikit-learn's MLP starts: weights AND biases from U(-b, b) with
    b = sqrt(factor / (fan_in + fan_out)), factor 2 for the logistic activation and 6 otherwise.

    That is Glorot's bound (gain 1, or sqrt(1/3) for logistic) also for ReLU layers, where ``nn.MLP``'s own
    default is He/Kaiming's b = sqrt(6 / fan_in). Equal settings then learn equally fast: with He's start
    a ReLU network's first outputs are several times larger, and Adam's steps of ~learning_rate_init per
    weight take many epochs to undo that (measured on scikit-learn's check_regressors_train data after
    30 epochs: R^2 0.01 to 0.47 with He's start, 0.51 to 0.77 for MLPRegressor, 0.57 with this one).
    """
    gain = math.sqrt(1.0 / 3.0) if activation == "sigmoid" else 1.0
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight, gain=gain)
            bound = gain * math.sqrt(6.0 / (layer.in_features + layer.out_features))
            nn.init.uniform_(layer.bias, -bound, bound)


class _NeuralNetBase(BaseEstimator):
    """What the classifier and the regressor share: parameters, validation and the training call."""

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] | list[int] | int = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        tol: float = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose

    # -- parameter checks (scikit-learn's wording) ---------------------------------------------------
    def _bad(self, name: str, expected: str) -> ValueError:
        return ValueError(
            f"The '{name}' parameter of {type(self).__name__} must be {expected}. "
            f"Got {getattr(self, name)!r} instead."
        )

    def _check_params(self) -> tuple[list[int], str]:
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if _is_int(sizes) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            raise self._bad("hidden_layer_sizes", "an int >= 1 or a list/tuple of ints >= 1") from None
        if not all(_is_int(n) and n >= 1 for n in sizes):
            raise self._bad("hidden_layer_sizes", "an int >= 1 or a list/tuple of ints >= 1")
        if self.activation not in _ACTIVATIONS:
            raise self._bad("activation", f"a str among {set(_ACTIVATIONS)}")
        if self.solver not in _SOLVERS:
            raise self._bad("solver", f"a str among {set(_SOLVERS)}")
        if not (_is_real(self.alpha) and self.alpha >= 0):
            raise self._bad("alpha", "a float in the range [0, inf)")
        if not (self.batch_size == "auto" or (_is_int(self.batch_size) and self.batch_size >= 1)):
            raise self._bad("batch_size", "an int >= 1 or 'auto'")
        if not (_is_real(self.learning_rate_init) and self.learning_rate_init > 0):
            raise self._bad("learning_rate_init", "a float in the range (0, inf)")
        if not (_is_int(self.max_iter) and self.max_iter >= 1):
            raise self._bad("max_iter", "an int >= 1")
        if not (_is_real(self.tol) and self.tol >= 0):
            raise self._bad("tol", "a float in the range [0, inf)")
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise self._bad("early_stopping", "a bool")
        if not (_is_real(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise self._bad("validation_fraction", "a float in the range (0, 1)")
        if not (_is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1):
            raise self._bad("n_iter_no_change", "an int >= 1")
        return [int(n) for n in sizes], _ACTIVATIONS[self.activation]

    # -- training ------------------------------------------------------------------------------------
    def _train(self, x: np.ndarray, y: np.ndarray, n_outputs: int, loss: str) -> None:
        """Build the MLP and train it with biograd.fit; set model_, history_ and the sklearn attributes."""
        sizes, activation = self._check_params()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        n = len(x)
        batch_size = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        if self.early_stopping and n - math.ceil(n * self.validation_fraction) < 1:
            raise ValueError(
                f"early_stopping holds out validation_fraction={self.validation_fraction} of the rows, which "
                f"leaves no training rows with n_samples={n}. Use more samples or early_stopping=False."
            )
        saved_generator = _random.get_generator()  # fit reseeds biograd's generator; give it back after
        try:
            _random.manual_seed(seed)
            model = nn.MLP([x.shape[1], *sizes, n_outputs], activation=activation)
            _glorot_like_sklearn(model, activation)
            extra = {"momentum": 0.9, "nesterov": True} if self.solver == "sgd" else {}
            # biograd.fit minimises its loss L; the estimator minimises scale * L (scikit-learn's squared
            # loss is MSE / 2). The gradient of scale * L + alpha * w is scale * (grad L + alpha / scale * w):
            # SGD takes that step with lr * scale; Adam divides the scale out of every step by itself.
            scale = self._loss_scale
            optimizer = optim.create(
                self.solver,
                model.parameters(),
                lr=float(self.learning_rate_init) * (scale if self.solver == "sgd" else 1.0),
                weight_decay=float(self.alpha) / scale,
                **extra,
            )
            # Converged = the training loss has not improved by tol for n_iter_no_change epochs in a row
            # (scikit-learn's rule); with early_stopping it is the validation score (accuracy or R^2)
            # instead, and the weights of its best epoch are put back.
            stopper = EarlyStopping(
                monitor=("val_" + self._score_name) if self.early_stopping else "loss",
                patience=int(self.n_iter_no_change),
                min_delta=float(self.tol) / (1.0 if self.early_stopping else scale),
                restore_best_weights=bool(self.early_stopping),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _BiogradConvergenceWarning)  # replaced by sklearn's below
                history = fit(
                    model,
                    x,
                    y,
                    loss=loss,
                    optimizer=optimizer,
                    epochs=int(self.max_iter),
                    batch_size=batch_size,
                    validation_split=float(self.validation_fraction) if self.early_stopping else 0.0,
                    callbacks=[stopper],
                    seed=seed,
                    verbose=2 if self.verbose else False,
                )
        finally:
            _random._generator = saved_generator
        if history.stop_reason == "diverged":
            raise ValueError(
                f"Training diverged (the loss became inf/NaN at epoch {history.diverged_at[0]}). Lower "
                f"learning_rate_init (now {self.learning_rate_init}) or scale the features (StandardScaler)."
            )
        self.model_ = model
        self.history_ = history
        self.loss_curve_ = [scale * value for value in history["loss"]]
        self.n_iter_ = history.epochs_run
        self.t_ = self.n_iter_ * (n - len(history.val_indices) if history.val_indices is not None else n)
        self.best_loss_ = None if self.early_stopping else float(np.nanmin(self.loss_curve_))
        self.validation_scores_ = list(history["val_" + self._score_name]) if self.early_stopping else None
        self.best_validation_score_ = (
            float(np.nanmax(self.validation_scores_)) if self.early_stopping else None
        )
        if history.stop_reason == "completed":
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} reached and the optimization hasn't "
                f"converged yet (the loss still improved by more than tol={self.tol} within the last "
                f"{self.n_iter_no_change} epochs). Increase max_iter or learning_rate_init.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _outputs(self, x: Any) -> tuple[nn.Module, np.ndarray]:
        """(the network in float64, x checked) for predictions.

        The float32 weights are copied into a float64 network (exactly) so that a row's prediction does
        not depend on the other rows in the call: float32 matrix products may round differently for
        different batch sizes, and scikit-learn requires predict(X)[i] == predict(X[i:i+1]).
        """
        check_is_fitted(self)
        x = validate_data(self, x, reset=False, dtype=np.float64)
        return copy.deepcopy(self.model_).double(), x

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class NeuralNetClassifier(ClassifierMixin, _NeuralNetBase):
    """A neural network classifier (biograd MLP + cross-entropy) with scikit-learn's interface.

    Parameters follow ``sklearn.neural_network.MLPClassifier``:

    - hidden_layer_sizes: neurons per hidden layer, e.g. ``(100,)`` or ``(64, 32)``.
    - activation: ``"relu"``, ``"tanh"``, ``"logistic"`` (sigmoid), ``"identity"`` (also ``"gelu"``,
      ``"leaky_relu"``).
    - solver: ``"adam"`` or ``"sgd"`` (momentum 0.9, Nesterov, as scikit-learn's).
    - alpha: L2 penalty, applied as the optimizer's weight_decay.
    - batch_size: rows per step; ``"auto"`` = min(200, n_samples).
    - learning_rate_init: the optimizer's learning rate.
    - max_iter: epochs at most; a ConvergenceWarning says when they ran out before convergence.
    - tol, n_iter_no_change: converged once the loss has not improved by ``tol`` for
      ``n_iter_no_change`` epochs in a row (training then stops).
    - early_stopping, validation_fraction: hold out a stratified fraction of the rows and stop when its
      accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs (best weights put back).
    - random_state: seed for the starting weights, shuffling and split (int for reproducible fits).
    - verbose: print one line per epoch to stderr.

    Attributes after fit: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (pandas input),
    ``loss_curve_``, ``validation_scores_`` (validation accuracy per epoch, with early_stopping),
    ``best_loss_``, ``best_validation_score_``, ``n_iter_``, ``model_`` (the biograd network) and
    ``history_`` (the :class:`biograd.History`).

    Two classes use one output and binary cross-entropy with logits; k > 2 classes use k outputs and
    cross-entropy.

    >>> from biograd.sklearn import NeuralNetClassifier                    # doctest: +SKIP
    >>> clf = NeuralNetClassifier(hidden_layer_sizes=(32,), random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2])
    """

    _score_name = "accuracy"  # what biograd.fit records and score() returns
    _loss_scale = 1.0  # cross-entropy, as scikit-learn's log loss

    def fit(self, X: Any, y: Any) -> NeuralNetClassifier:
        """Train on X (n_samples, n_features) and class labels y; returns self."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, indices = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got only one class "
                f"({self.classes_[0]!r})."
            )
        # the same head and loss biograd.fit picks for k classes: 1 logit for 2, k logits for k > 2
        self.n_outputs_, loss = classifier_outputs(k)
        self._train(X, indices.astype(np.int64), self.n_outputs_, loss)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """P(class) for every row: shape (n_samples, n_classes), columns in the order of ``classes_``."""
        return predict_proba(*self._outputs(X)).astype(np.float64)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """ln P(class), shape (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every row, in the label values y had."""
        proba = self.predict_proba(X)  # checks first that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A neural network regressor (biograd MLP + mean squared error) with scikit-learn's interface.

    Parameters follow ``sklearn.neural_network.MLPRegressor`` (see :class:`NeuralNetClassifier`).
    y may have several columns (one output each). ``validation_scores_`` holds the validation R^2 per
    epoch (with early_stopping). Networks do not scale y: put a ``StandardScaler`` in front of X and
    consider ``sklearn.compose.TransformedTargetRegressor`` for y in large units.
    """

    _score_name = "r2"
    _loss_scale = 0.5  # scikit-learn's squared loss: MSE / 2 (loss_curve_, tol and SGD steps use it)

    def fit(self, X: Any, y: Any) -> NeuralNetRegressor:
        """Train on X (n_samples, n_features) and numbers y (n_samples,) or (n_samples, n_targets)."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float32, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        self._train(X, y2, self.n_outputs_, "mse")
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: shape (n_samples,) for one target, (n_samples, n_targets) for several."""
        out = predict(*self._outputs(X), task="raw").astype(np.float64)
        out = out.reshape(len(out), -1)
        return out[:, 0] if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
