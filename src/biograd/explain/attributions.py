"""Which inputs mattered: attributions that say how much each input drove a network's prediction.

All methods explain one number per sample, the *score*:

- one output (binary classification logit, or regression): that output;
- several outputs (multi-class logits): the logit of the ``target`` class (default: the predicted one).

Scores are logits, not probabilities: a sigmoid or softmax saturates and would hide large effects.

=========================  ===============================================================================
method                     attribution for input i
=========================  ===============================================================================
saliency                   |d score / d x_i|: how sensitive the score is to x_i
gradient_x_input           x_i * d score / d x_i: first-order share of x_i in the score (relative to 0)
integrated_gradients       (x_i - b_i) * average over a in [0, 1] of d score / d x_i at b + a (x - b);
                           the attributions add up to score(x) - score(b) (completeness)
in_silico_mutagenesis      score(sequence with base c at position l) - score(sequence): every single
                           substitution tried, no gradients involved
=========================  ===============================================================================

The model runs in eval mode (dropout off); its parameters get no gradients from these functions, and
its training/eval mode and ``requires_grad`` flags are restored afterwards.

>>> from biograd import explain                                          # doctest: +SKIP
>>> attr = explain.integrated_gradients(model, data.x[:10])
>>> table = explain.feature_ranking(model, data.x, data.feature_names)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from biograd.nn.module import Module
from biograd.tensor import Tensor, enable_grad, no_grad

METHODS = ("integrated_gradients", "gradient_x_input", "saliency")


@contextlib.contextmanager
def _explaining(model: Module) -> Iterator[None]:
    """Eval mode, parameters frozen (no .grad written into them); everything restored on exit."""
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, Module) else []
    flags = [(p, p.requires_grad) for p in model.parameters()] if isinstance(model, Module) else []
    if isinstance(model, Module):
        model.eval()
        for p, _ in flags:
            p.requires_grad = False
    try:
        yield
    finally:
        for m, training in modes:
            object.__setattr__(m, "training", training)
        for p, flag in flags:
            p.requires_grad = flag


def _as_input(x: Any) -> np.ndarray:
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind not in "f":
        arr = arr.astype(np.float32)
    if arr.ndim < 2:
        raise ValueError(
            f"Attributions need a batch of samples (first axis = samples); got shape {arr.shape}."
        )
    return arr


def _outputs(model: Callable, x: np.ndarray) -> np.ndarray:
    with no_grad():
        out = model(Tensor(x, dtype=x.dtype))
    out = np.asarray(out.data if isinstance(out, Tensor) else out)
    return out.reshape(len(x), -1)


def _resolve_target(model: Callable, x: np.ndarray, target: Any) -> np.ndarray:
    """One output column per sample: 0 for single-output models; else the given class(es), or the
    predicted class (argmax of the logits)."""
    out = _outputs(model, x)
    n_out = out.shape[1]
    if target is None:
        target = np.zeros(len(x), dtype=np.int64) if n_out == 1 else out.argmax(axis=1)
    target = np.broadcast_to(np.asarray(target, dtype=np.int64), (len(x),)).copy()
    if n_out == 1 and np.any(target != 0):
        target[:] = 0  # a single logit: class 1 vs 0 are both explained by that one number
    if target.min() < 0 or target.max() >= n_out:
        raise ValueError(
            f"The 'target' parameter must be a class index in 0..{n_out - 1} (the model has {n_out} "
            "outputs). "
            f"Got {int(target.max() if target.max() >= n_out else target.min())} instead."
        )
    return target


def _score_gradient(model: Callable, x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score per sample, d score / d x) in one forward and one backward pass.

    Summing the samples' scores is safe: in eval mode sample i's score depends on x_i alone, so
    d(sum of scores)/dx_i = d score_i / dx_i.
    """
    xt = Tensor(x, requires_grad=True, dtype=x.dtype)
    with enable_grad():
        out = model(xt)
        flat = out.reshape((len(x), -1))
        picked = flat[np.arange(len(x)), target]
        picked.sum().backward()
    return np.asarray(picked.data), np.asarray(xt.grad)


def outputs(model: Callable, x: Any) -> np.ndarray:
    """The model's raw outputs (logits for a classifier), shape (samples, outputs), in eval mode."""
    x = _as_input(x)
    with _explaining(model):
        return _outputs(model, x)


def score(model: Callable, x: Any, target: Any = None) -> np.ndarray:
    """The number the attributions explain, per sample (see the module docstring)."""
    x = _as_input(x)
    with _explaining(model):
        target = _resolve_target(model, x, target)
        return _outputs(model, x)[np.arange(len(x)), target]


def saliency(model: Callable, x: Any, target: Any = None) -> np.ndarray:
    """|d score / d x|, same shape as x: inputs where a small change moves the score most."""
    x = _as_input(x)
    with _explaining(model):
        target = _resolve_target(model, x, target)
        _, grad = _score_gradient(model, x, target)
    return np.abs(grad)


def gradient_x_input(model: Callable, x: Any, target: Any = None) -> np.ndarray:
    """x * d score / d x, same shape as x. For one-hot sequences only the present base is non-zero."""
    x = _as_input(x)
    with _explaining(model):
        target = _resolve_target(model, x, target)
        _, grad = _score_gradient(model, x, target)
    return x * grad


def integrated_gradients(
    model: Callable,
    x: Any,
    baseline: Any = None,
    steps: int = 50,
    target: Any = None,
) -> np.ndarray:
    """Integrated gradients (Sundararajan et al. 2017), same shape as x.

    IG_i = (x_i - b_i) * integral over a from 0 to 1 of d score / d x_i at b + a (x - b), computed with
    the trapezoidal rule on ``steps`` intervals. Completeness: sum_i IG_i = score(x) - score(b), up to
    the integration error (more steps, smaller error).

    Args:
        baseline: the reference input b ("absence of signal"): zeros by default (for standardized
            tables, the average sample; for one-hot sequences, no base). An array of x's shape, or one
            sample's shape (broadcast to every sample).
        steps: number of integration intervals (>= 1).
        target: the class explained (default: the predicted class; ignored for one output).
    """
    x = _as_input(x)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(
            f"The 'steps' parameter of integrated_gradients must be an int >= 1. Got {steps!r} instead."
        )
    b = (
        np.zeros_like(x)
        if baseline is None
        else np.broadcast_to(np.asarray(baseline, dtype=x.dtype), x.shape)
    )
    with _explaining(model):
        target = _resolve_target(model, x, target)
        total = np.zeros_like(x, dtype=np.float64)
        for k in range(steps + 1):
            alpha = k / steps
            weight = 0.5 if k in (0, steps) else 1.0  # trapezoidal rule
            _, grad = _score_gradient(model, (b + alpha * (x - b)).astype(x.dtype), target)
            total += weight * grad
    return ((x - b) * total / steps).astype(x.dtype)


def in_silico_mutagenesis(
    model: Callable, one_hot_seqs: Any, target: Any = None, batch_size: int = 512
) -> np.ndarray:
    """Try every single-base substitution: the score change, array (samples, alphabet, length).

    ``result[n, c, l] = score(sequence n with letter c at position l) - score(sequence n)``; 0 where c
    is already the letter there. Negative: the substitution weakens the prediction, so the original
    base mattered. ``-result.min(axis=1)`` is a per-position importance.
    """
    x = _as_input(one_hot_seqs)
    if x.ndim != 3:
        raise ValueError(
            "in_silico_mutagenesis needs one-hot sequences of shape (samples, alphabet, length); "
            f"got {x.shape}."
        )
    n, a, length = x.shape
    result = np.zeros((n, a, length), dtype=np.float64)
    with _explaining(model):
        target = _resolve_target(model, x, target)
        reference = _outputs(model, x)[np.arange(n), target]
        # every mutant of one sequence: a*length copies, copy (c, l) has position l set to letter c
        letters = np.eye(a, dtype=x.dtype)
        for i in range(n):
            mutants = np.repeat(x[i][None], a * length, axis=0)  # (a*L, a, L)
            cs, ls = np.divmod(np.arange(a * length), length)
            mutants[np.arange(a * length), :, ls] = letters[cs]
            scores = np.concatenate(
                [
                    _outputs(model, mutants[s : s + batch_size])[:, target[i]]
                    for s in range(0, a * length, batch_size)
                ]
            )
            result[i] = scores.reshape(a, length) - reference[i]
    return result.astype(x.dtype)


def attributions(model: Callable, x: Any, method: str = "integrated_gradients", **kwargs: Any) -> np.ndarray:
    """Attributions by name: "integrated_gradients", "gradient_x_input", "saliency" or
    "in_silico_mutagenesis" (sequences)."""
    functions = {
        "integrated_gradients": integrated_gradients,
        "gradient_x_input": gradient_x_input,
        "saliency": saliency,
        "in_silico_mutagenesis": in_silico_mutagenesis,
    }
    if method not in functions:
        raise ValueError(
            f"The 'method' parameter must be one of {', '.join(functions)}. Got {method!r} instead."
        )
    return functions[method](model, x, **kwargs)


def feature_ranking(
    model: Callable,
    x: Any,
    feature_names: Sequence[str],
    method: str = "integrated_gradients",
    target: Any = None,
    per_sample: bool = False,
    **kwargs: Any,
) -> Any:
    """Features ranked by mean |attribution| over the samples of x (a table's columns).

    Returns a pandas DataFrame sorted from most to least important, with columns ``rank``, ``feature``,
    ``mean_abs_attribution`` and ``mean_attribution`` (signed: positive pushes the score up on average).
    With ``per_sample=True`` returns ``(ranking, per_sample)``, where ``per_sample`` has one row per
    sample and one column per feature (the explanation of each prediction).
    """
    import pandas as pd

    x = _as_input(x)
    if x.ndim != 2:
        raise ValueError(
            f"feature_ranking ranks the columns of a table (samples, features); got shape {x.shape}. "
            "For sequences, use the attribution functions and look at positions."
        )
    names = [str(n) for n in feature_names]
    if len(names) != x.shape[1]:
        raise ValueError(f"feature_ranking got {len(names)} feature names for {x.shape[1]} features.")
    attr = attributions(model, x, method=method, target=target, **kwargs).astype(np.float64)
    table = rank_features(attr, names)
    if per_sample:
        return table, pd.DataFrame(attr, columns=names)
    return table


def rank_features(attr: np.ndarray, feature_names: Sequence[str]) -> Any:
    """Rank a table's columns by mean |attribution| over the samples, given attributions (samples,
    features) already computed: columns ``rank``, ``feature``, ``mean_abs_attribution``,
    ``mean_attribution`` (what :func:`feature_ranking` returns)."""
    import pandas as pd

    attr = np.asarray(attr, dtype=np.float64)
    names = [str(n) for n in feature_names]
    if attr.ndim != 2 or attr.shape[1] != len(names):
        raise ValueError(
            f"rank_features needs attributions of shape (samples, {len(names)}); got {attr.shape}."
        )
    table = pd.DataFrame(
        {
            "feature": names,
            "mean_abs_attribution": np.abs(attr).mean(axis=0),
            "mean_attribution": attr.mean(axis=0),
        }
    )
    table = table.sort_values("mean_abs_attribution", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def position_importance(attr: np.ndarray) -> np.ndarray:
    """Per-position importance (samples, length) from sequence attributions (samples, alphabet, length):
    the sum over the alphabet (for gradient x input and integrated gradients on one-hot input, the
    present base's attribution)."""
    attr = np.asarray(attr)
    if attr.ndim != 3:
        raise ValueError(
            f"position_importance needs attributions of shape (samples, alphabet, length); got {attr.shape}."
        )
    return attr.sum(axis=1)


__all__ = [
    "METHODS",
    "attributions",
    "feature_ranking",
    "gradient_x_input",
    "in_silico_mutagenesis",
    "integrated_gradients",
    "outputs",
    "position_importance",
    "rank_features",
    "saliency",
    "score",
]
