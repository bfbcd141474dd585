"""Honest numbers on small data: resampled evaluation, bootstrap intervals and paired comparisons.

Biological data sets are small, so one random train/test split decides a verdict by luck. This module
holds the statistics the main job uses to say how sure a figure is:

- :func:`choose_scheme` picks how to evaluate from the data size: repeated, stratified k-fold
  cross-validation for the usual biological sizes (every sample is predicted by networks that never saw
  it), one held-out split for large data.
- :func:`cross_validation_folds` makes those folds (stratified by class, and never splitting a group such
  as a patient or a sequence family between training and test).
- :func:`bootstrap_interval` gives a 95% interval for any metric by resampling the samples with
  replacement (the percentile bootstrap): "accuracy 0.90 [0.84, 0.95]".
- :func:`proportion_interval` gives the Wilson score interval of a share (k of n samples right): unlike
  the bootstrap it stays honest when every sample (or none) came out right, where resampling the same
  samples can only ever give one value.
- :func:`paired_difference` compares two models on the *same* samples: the difference in a metric with
  its interval, and a verdict that says "better" only when the whole interval is above zero.

Everything here works on plain numpy arrays (and scikit-learn's fold makers), so it sits below the
pipeline and can be used on any predictions.

>>> import numpy as np
>>> from biograd.stats import bootstrap_interval
>>> correct = np.array([1] * 45 + [0] * 5)             # 45 of 50 right
>>> low, high = bootstrap_interval(np.mean, correct)
>>> bool(low < 0.9 < high)
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.95
N_BOOT = 2000

#: The three verdicts of a paired comparison (metrics.json's ``comparison.verdict``).
BETTER, NO_CLEAR_DIFFERENCE, WORSE = "better", "no clear difference", "worse"

# Data sizes at which the evaluation scheme changes (samples). Up to SMALL, cross-validation is repeated
# so that each sample is predicted twice; up to LARGE, one round of 5-fold; beyond, one held-out split,
# where the test set alone is large enough for tight intervals and training 5 networks would be slow.
SMALL_DATA = 300
LARGE_DATA = 5000


@dataclass(frozen=True)
class Scheme:
    """How a model is evaluated: ``"cross-validation"`` (``folds`` x ``repeats``) or ``"holdout"``."""

    scheme: str
    folds: int
    repeats: int

    def as_dict(self, samples: int) -> dict[str, Any]:
        """The ``"evaluation"`` entry of metrics.json."""
        return {"scheme": self.scheme, "folds": self.folds, "repeats": self.repeats, "samples": int(samples)}

    def describe(self) -> str:
        """The scheme in words, for the report and the console."""
        if self.scheme == "holdout":
            return "one held-out test set"
        again = f", repeated {self.repeats} times with new folds" if self.repeats > 1 else ""
        return (
            f"{self.folds}-fold cross-validation{again}: every sample is predicted by networks that never "
            "saw it"
        )


@dataclass(frozen=True)
class Fold:
    """One training/test partition of the samples (row indices), from repeat ``repeat``."""

    train: np.ndarray
    test: np.ndarray
    repeat: int
    fold: int


@dataclass(frozen=True)
class Difference:
    """A paired comparison of model A with model B on the same samples (A minus B, higher is better)."""

    difference: float
    ci_low: float
    ci_high: float
    verdict: str  # BETTER, NO_CLEAR_DIFFERENCE or WORSE

    def as_dict(self) -> dict[str, Any]:
        return {
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "verdict": self.verdict,
        }


def choose_scheme(n_samples: int, smallest_group: int | None = None, folds: int = 5) -> Scheme:
    """The evaluation scheme for ``n_samples`` samples (``smallest_group``: size of the rarest class).

    Cross-validation needs every class in every test fold, so the number of folds never exceeds the size of
    the rarest class (and is at least 2). Data larger than :data:`LARGE_DATA` samples get one held-out
    split.
    """
    n_samples = int(n_samples)
    if n_samples > LARGE_DATA:
        return Scheme("holdout", 1, 1)
    k = folds if smallest_group is None else min(folds, int(smallest_group))
    k = max(2, min(k, n_samples))
    return Scheme("cross-validation", k, 2 if n_samples <= SMALL_DATA else 1)


def cross_validation_folds(
    n_samples: int,
    folds: int = 5,
    repeats: int = 1,
    labels: Any = None,
    groups: Any = None,
    seed: int = 0,
) -> list[Fold]:
    """The folds of (repeated) k-fold cross-validation: each sample is in exactly one test part per repeat.

    With ``labels`` the folds are stratified (each class keeps its share in every fold); with ``groups``
    (patient, donor, sequence family, or the ID shared by duplicate samples) a group is never split
    between training and test. Uses scikit-learn's StratifiedKFold / StratifiedGroupKFold / GroupKFold /
    KFold with a new shuffle per repeat.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds; got {folds!r}.")
    if folds > n_samples:
        raise ValueError(f"{folds} folds need at least {folds} samples; there are {n_samples}.")
    rows = np.arange(n_samples)
    y = None if labels is None else np.asarray(labels)
    g = None if groups is None else np.asarray(groups)
    if g is not None and len(np.unique(g)) < folds:
        raise ValueError(
            f"{len(np.unique(g))} groups cannot be spread over {folds} folds (a group is never split); "
            "use fewer folds or finer groups."
        )
    out: list[Fold] = []
    for r in range(int(repeats)):
        state = (int(seed) * 1_000_003 + r) % (2**32)
        if g is not None and y is not None:
            splitter: Any = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=state)
            parts = splitter.split(rows, y, g)
        elif g is not None:
            # GroupKFold cannot shuffle before scikit-learn 1.6: relabel the groups at random instead
            rng = np.random.default_rng(state)
            uniq, inverse = np.unique(g, return_inverse=True)
            shuffled = rng.permutation(len(uniq))[inverse]
            parts = GroupKFold(n_splits=folds).split(rows, groups=shuffled)
        elif y is not None:
            parts = StratifiedKFold(n_splits=folds, shuffle=True, random_state=state).split(rows, y)
        else:
            parts = KFold(n_splits=folds, shuffle=True, random_state=state).split(rows)
        for k, (train, test) in enumerate(parts):
            out.append(Fold(np.asarray(train), np.asarray(test), r, k))
    return out


def _resample_rows(n: int, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with replacement; within each stratum when given (class sizes stay fixed)."""
    if strata is None:
        return rng.integers(0, n, size=n)
    parts = []
    for members in _strata_members(strata):
        parts.append(members[rng.integers(0, len(members), size=len(members))])
    return np.concatenate(parts)


def _strata_members(strata: np.ndarray) -> list[np.ndarray]:
    _, inverse = np.unique(strata, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse)
    return np.split(order, np.cumsum(counts)[:-1])


def _value(metric: Callable[..., Any], arrays: Sequence[np.ndarray], rows: np.ndarray | None) -> float:
    args = arrays if rows is None else [a[rows] for a in arrays]
    value = metric(*args)
    return math.nan if value is None else float(value)


def bootstrap_distribution(
    metric: Callable[..., Any],
    *arrays: Any,
    n_boot: int = N_BOOT,
    seed: int = 0,
    strata: Any = None,
) -> np.ndarray:
    """``metric`` recomputed on ``n_boot`` resamples of the rows of ``arrays`` (NaN where undefined)."""
    arrays_ = [np.asarray(a) for a in arrays]
    n = len(arrays_[0])
    if any(len(a) != n for a in arrays_):
        raise ValueError(f"The arrays to resample have different lengths: {[len(a) for a in arrays_]}.")
    if n == 0:
        raise ValueError("Cannot compute an interval on zero samples.")
    strata_ = None if strata is None else np.asarray(strata)
    rng = np.random.default_rng(seed)
    return np.array([_value(metric, arrays_, _resample_rows(n, strata_, rng)) for _ in range(int(n_boot))])


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    # an interval from a few defined resamples would be a guess: require most of them
    if len(finite) < max(20, 0.5 * len(values)):
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    metric: Callable[..., Any],
    *arrays: Any,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
    strata: Any = None,
) -> tuple[float, float] | None:
    """A percentile-bootstrap interval for ``metric(*arrays)``: resample the samples (rows) with
    replacement ``n_boot`` times, recompute the metric, keep the middle ``level`` of the values.

    ``strata`` (e.g. the true classes) resamples within each stratum, so every resample keeps the class
    sizes (and an AUC stays defined). None when the metric is undefined on most resamples.
    """
    if not 0 < level < 1:
        raise ValueError(f"The interval level must be in (0, 1), e.g. 0.95; got {level!r}.")
    values = bootstrap_distribution(metric, *arrays, n_boot=n_boot, seed=seed, strata=strata)
    return _percentiles(values, level)


def proportion_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion p = k/n (e.g. accuracy: k of n samples right).

    With z the normal quantile of the level (1.96 for 95%):

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    20 of 20 right gives [0.839, 1.000]: the data are consistent with a true accuracy as low as 84%,
    which the bootstrap's [1.000, 1.000] hides. None when n is 0.
    """
    if not 0 < level < 1:
        raise ValueError(f"The interval level must be in (0, 1), e.g. 0.95; got {level!r}.")
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n = {n}; got {successes!r}.")
    z = _normal_quantile(0.5 + level / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _normal_quantile(q: float) -> float:
    """The standard normal's quantile, by bisection on erf (exact to ~1e-12; no scipy needed)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def verdict(low: float | None, high: float | None) -> str:
    """ "better" when the whole interval of a difference (A - B) is above 0, "worse" when below, else
    "no clear difference"."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return NO_CLEAR_DIFFERENCE
    if low > 0:
        return BETTER
    if high < 0:
        return WORSE
    return NO_CLEAR_DIFFERENCE


def paired_difference(
    metric: Callable[..., Any],
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    level: float = LEVEL,
    n_boot: int = N_BOOT,
    seed: int = 0,
    strata: Any = None,
) -> Difference:
    """metric(y_true, pred_a) - metric(y_true, pred_b) with a paired bootstrap interval.

    Both models are scored on the same resampled rows each time, so what the samples share (easy and hard
    cases) cancels out and only the difference between the models varies. The verdict is "better" only
    when the interval lies above zero.
    """
    y, a, b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)

    def diff(yy: np.ndarray, aa: np.ndarray, bb: np.ndarray) -> float:
        va, vb = metric(yy, aa), metric(yy, bb)
        return math.nan if va is None or vb is None else float(va) - float(vb)

    point = diff(y, a, b)
    values = bootstrap_distribution(diff, y, a, b, n_boot=n_boot, seed=seed, strata=strata)
    interval = _percentiles(values, level)
    low, high = interval if interval is not None else (math.nan, math.nan)
    return Difference(point, low, high, verdict(*interval) if interval else NO_CLEAR_DIFFERENCE)


def format_interval(value: float | None, interval: Sequence[float] | None, digits: int = 3) -> str:
    """ "0.912 [0.871, 0.948]" (or "n/a"): a figure with its 95% interval, for text and tables."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if not interval:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def univariate_selection(x: Any, y: Any, task: str, keep: int) -> np.ndarray:
    """The ``keep`` columns of ``x`` that best separate the classes (ANOVA F test) or track the target
    (correlation F test), strongest first: column indices.

    Meant to be run inside each training fold, on the training rows only (choosing features on all rows,
    test rows included, leaks the answer into the evaluation). Constant columns score 0.
    """
    from sklearn.feature_selection import f_classif, f_regression

    x_ = np.asarray(x, dtype=np.float64)
    x_ = x_.reshape(len(x_), -1)
    y_ = np.asarray(y)
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
    keep = int(keep)
    if keep < 1:
        raise ValueError(f"Feature selection must keep at least 1 feature; got {keep}.")
    if keep >= x_.shape[1]:
        return np.arange(x_.shape[1])
    test = f_classif if task == "classification" else f_regression
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns: sklearn warns and gives NaN; they score 0
        scores, _ = test(x_, y_)
    scores = np.nan_to_num(scores, nan=0.0, posinf=np.finfo(np.float64).max)
    order = np.argsort(-scores, kind="stable")
    return order[:keep]


def rank_stability(attributions: Any, top: int = 20) -> np.ndarray:
    """For each feature, the share of committee members that rank it among their ``top`` features.

    ``attributions`` has one row per member (members x features, e.g. mean |attribution| per feature).
    A feature that every member puts in its top 20 scores 1.0; a feature in the committee's top list that
    few members agree on is an unstable finding and should not be reported as one.
    """
    a = np.abs(np.asarray(attributions, dtype=np.float64))
    if a.ndim != 2:
        raise ValueError(f"attributions must be members x features; got shape {a.shape}.")
    top = max(1, min(int(top), a.shape[1]))
    ranks = np.argsort(-a, axis=1, kind="stable")[:, :top]
    counts = np.zeros(a.shape[1])
    for row in ranks:
        counts[row] += 1
    return counts / a.shape[0]


# Thresholds of :func:`check_shift`. A batch whose mean moved by more than one training standard deviation
# is far beyond chance for any batch of a few samples (its standard error is sd / sqrt(n)).
SHIFT_SD = 1.0
# A value counts as outside the training range when it lies beyond [min, max] by more than this share of
# the range; a sample is "outside" when any of its features is.
RANGE_MARGIN = 0.1


@dataclass
class Profile:
    """What the training data looked like, feature by feature (saved with a model as JSON)."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    samples: int

    @classmethod
    def of(cls, x: Any, names: Sequence[str] | None = None) -> Profile:
        """The profile of the training rows ``x`` (samples x features; other shapes are flattened)."""
        x_ = np.asarray(x, dtype=np.float64)
        x_ = x_.reshape(len(x_), -1)
        names_ = [str(n) for n in names] if names is not None else [f"x{i + 1}" for i in range(x_.shape[1])]
        if len(names_) != x_.shape[1]:
            raise ValueError(f"{len(names_)} feature names for {x_.shape[1]} features.")
        with np.errstate(invalid="ignore"):
            return cls(
                names_,
                np.nanmean(x_, axis=0),
                np.nanstd(x_, axis=0),
                np.nanmin(x_, axis=0),
                np.nanmax(x_, axis=0),
                len(x_),
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Profile:
        arrays = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "std", "low", "high")}
        n = len(d["names"])
        if any(len(a) != n for a in arrays.values()):
            raise ValueError("The saved training profile is damaged: its lists have different lengths.")
        return cls([str(v) for v in d["names"]], samples=int(d["samples"]), **arrays)


@dataclass
class Shift:
    """How new samples differ from the training data (:func:`check_shift`)."""

    samples: int
    shifted: list[tuple[str, float]]  # (feature, batch mean shift in training SDs), largest first
    outside_share: float  # share of new samples with a feature outside the training range
    outside_features: list[tuple[str, float]]  # (feature, share of samples outside its range)
    outside_samples: np.ndarray | None = None  # per new sample: any feature outside the training range

    @property
    def any(self) -> bool:
        return bool(self.shifted) or self.outside_share > 0

    def describe(self) -> str:
        """One paragraph for a warning or the outputs of predict/evaluate/explain; empty when no shift."""
        parts = []
        if self.shifted:
            top = ", ".join(f"{name!r} ({sd:+.1f} SD)" for name, sd in self.shifted[:5])
            parts.append(
                f"the new samples as a whole differ from the training data in {len(self.shifted)} "
                f"feature(s), most in {top} (another batch, other units or another preparation?)"
            )
        if self.outside_share > 0:
            top = ", ".join(f"{name!r}" for name, _ in self.outside_features[:5])
            parts.append(
                f"{self.outside_share:.0%} of the {self.samples} new samples lie outside the range the model "
                f"was trained on (in {top})"
            )
        if not parts:
            return ""
        return (
            "; ".join(parts)[0].upper()
            + "; ".join(parts)[1:]
            + ". Predictions and explanations there are extrapolations: check units and batches first."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "shifted_features": [{"feature": n, "shift_sd": s} for n, s in self.shifted],
            "outside_share": self.outside_share,
            "outside_features": [{"feature": n, "share": s} for n, s in self.outside_features],
        }


def check_shift(profile: Profile, x: Any) -> Shift:
    """Do the new samples ``x`` lie where the training data lay?

    Two checks, per feature: the batch's mean shift in training standard deviations
    (|mean_new - mean_train| / sd_train > :data:`SHIFT_SD`, only with 3 or more new samples), and values
    beyond the training [min, max] by more than :data:`RANGE_MARGIN` of the range. Constant training
    features count as shifted when the new values differ at all.
    """
    x_ = np.asarray(x, dtype=np.float64)
    x_ = x_.reshape(len(x_), -1)
    if x_.shape[1] != len(profile.names):
        raise ValueError(
            f"The new data have {x_.shape[1]} features; the model was trained on {len(profile.names)}."
        )
    n = len(x_)
    shifted: list[tuple[str, float]] = []
    if n >= 3:
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.nanmean(x_, axis=0) - profile.mean
            sd = np.where(profile.std > 0, profile.std, np.nan)
            z = delta / sd
        constant_moved = (profile.std == 0) & (np.abs(delta) > 1e-12)
        z = np.where(constant_moved, np.copysign(np.inf, delta), z)
        flagged = np.flatnonzero(np.nan_to_num(np.abs(z), nan=0.0) > SHIFT_SD)
        shifted = sorted(((profile.names[j], float(z[j])) for j in flagged), key=lambda t: -abs(t[1]))
    span = profile.high - profile.low
    margin = RANGE_MARGIN * np.where(span > 0, span, np.abs(profile.high) + 1.0)
    with np.errstate(invalid="ignore"):
        outside = (x_ < profile.low - margin) | (x_ > profile.high + margin)
    per_feature = outside.mean(axis=0) if n else np.zeros(x_.shape[1])
    outside_features = sorted(
        ((profile.names[j], float(per_feature[j])) for j in np.flatnonzero(per_feature > 0)),
        key=lambda t: -t[1],
    )
    outside_share = float(outside.any(axis=1).mean()) if n else 0.0
    return Shift(n, shifted, outside_share, outside_features, outside.any(axis=1))
