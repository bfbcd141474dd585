"""A committee of networks, and a layer that keeps only chosen input features.

On small data one network is a lucky or unlucky draw: another seed or another split gives another model.
Khan et al. (2001) classified tumours by averaging a *committee* of networks, each trained on a different
part of the data. :class:`Committee` does that: its members are ordinary networks, its output is their
average, and :meth:`Committee.disagreement` says, per sample, how much the members disagree.

How outputs are averaged depends on what they mean:

- ``combine="softmax"`` (k-class logits): the average of the members' probabilities
  p_bar = (1/M) sum_m softmax(z_m); the committee outputs log p_bar, so softmax(log p_bar) = p_bar and every
  cross-entropy loss, ``predict`` and ``predict_proba`` read it as logits. Computed stably as
  log p_bar = logsumexp_m(log_softmax(z_m)) - log M.
- ``combine="sigmoid"`` (one logit per sample, two classes): p_bar = (1/M) sum_m sigmoid(z_m), output
  logit(p_bar) = log p_bar - log(1 - p_bar), with log sigmoid(z) = -softplus(-z) and
  log(1 - sigmoid(z)) = -softplus(z).
- ``combine="mean"`` (regression): the mean of the members' outputs.

All of it is built from the engine's differentiable ops, so gradients (and explanations) flow through the
committee to its inputs like through one network.

:class:`SelectFeatures` keeps a fixed subset of the input columns (e.g. the genes chosen inside a training
fold), so the selection is part of the saved model and new data come in with all their columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biograd.nn.module import Module, from_config, register_layer, to_config
from biograd.tensor import Tensor, no_grad
from biograd.tensor_functions import stack

COMBINES = ("softmax", "sigmoid", "mean")

#: A sample is *uncertain* when fewer than this share of the members put it in the committee's class
#: (with 5 members: two or more dissent; with 10: three or more) ...
MIN_AGREEMENT = 0.8
#: ... or, for regression, when the members' predictions spread (standard deviation) by more than this
#: many standard deviations of the training target. Measured on the bundled diabetes data (5 networks of
#: ``biograd train``, seeds 0-4, on all 442 patients): median spread 0.10 SD, 90th percentile 0.18, 99th
#: 0.26, so 0.25 flags the 1-2% most disputed patients, as agreement < 0.8 flags 5 of 569 breast-cancer
#: samples (1%) with the same five-seed committee; samples unlike the training data spread far more.
MAX_SPREAD_SD = 0.25


def uncertain(disagreement: Mapping[str, np.ndarray], target_sd: float | None = None) -> np.ndarray:
    """Which samples the members disagree on (bool per sample), from :meth:`Committee.disagreement`.

    Classes: ``agreement < MIN_AGREEMENT`` (0.8). Regression (no ``"agreement"``): ``spread >
    MAX_SPREAD_SD * target_sd`` (0.25 training SDs); ``target_sd`` is required there.
    """
    if "agreement" in disagreement:
        return np.asarray(disagreement["agreement"]) < MIN_AGREEMENT
    if target_sd is None or not np.isfinite(target_sd) or target_sd <= 0:
        raise ValueError(
            "For a regression committee, 'uncertain' compares the members' spread with the standard "
            f"deviation of the training target; give target_sd > 0. Got {target_sd!r} instead."
        )
    return np.asarray(disagreement["spread"]) > MAX_SPREAD_SD * float(target_sd)


def _member_probabilities(outputs: np.ndarray, combine: str) -> np.ndarray:
    """(M, N, ...) member outputs -> (M, N, k) probabilities, or (M, N, ...) values for "mean"."""
    from biograd.ops import stable_sigmoid

    if combine == "mean":
        return outputs
    if combine == "sigmoid":
        p = stable_sigmoid(outputs.reshape(outputs.shape[0], outputs.shape[1]))
        return np.stack([1 - p, p], axis=-1)
    z = outputs - outputs.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@register_layer
class Committee(Module):
    """The average of several networks (the members), each usually trained on another part of the data.

    >>> import biograd                                                   # doctest: +SKIP
    >>> members = [biograd.nn.MLP([4, 8, 3]) for _ in range(5)]
    >>> committee = biograd.nn.Committee(members, combine="softmax")
    >>> committee(x)                  # log of the averaged class probabilities (read as logits)
    >>> committee.disagreement(x)     # per sample: how much the members disagree
    """

    def __init__(self, members: Sequence[Module], combine: str = "softmax") -> None:
        super().__init__()
        members = list(members)
        if not members or not all(isinstance(m, Module) for m in members):
            raise ValueError(
                "A Committee needs a list of one or more biograd networks (Modules) as its members; got "
                f"{[type(m).__name__ for m in members] or 'an empty list'}."
            )
        if combine not in COMBINES:
            raise ValueError(
                f"The 'combine' parameter of Committee must be one of {', '.join(COMBINES)}: 'softmax' for "
                "k-class logits, 'sigmoid' for one logit per sample, 'mean' for regression. Got "
                f"{combine!r} instead."
            )
        self.combine = combine
        for i, member in enumerate(members):
            self.add_module(str(i), member)

    @property
    def members(self) -> list[Module]:
        """The member networks, in order (``committee.members[0]`` is a plain network)."""
        return list(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, x: Any) -> Tensor:
        outputs = [member(x) for member in self._modules.values()]
        log_m = math.log(len(outputs))
        if self.combine == "mean":
            return stack(outputs, axis=0).mean(axis=0)
        if self.combine == "softmax":
            log_p = stack([o.log_softmax(axis=-1) for o in outputs], axis=0)
            return log_p.logsumexp(axis=0) - log_m
        z = stack(outputs, axis=0)
        log_p = (-(-z).softplus()).logsumexp(axis=0) - log_m  # log p_bar
        log_q = (-z.softplus()).logsumexp(axis=0) - log_m  # log (1 - p_bar)
        return log_p - log_q

    def member_outputs(self, x: Any) -> np.ndarray:
        """Each member's output on ``x`` in eval mode (no graph): shape (members, samples, ...)."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                return np.stack([np.asarray(m(x).data) for m in self._modules.values()])
        finally:
            self.train(was_training)

    def disagreement(self, x: Any) -> dict[str, np.ndarray]:
        """Per sample, how much the members disagree.

        Classification: ``"spread"`` is the standard deviation across members of the probability of the
        committee's class, ``"agreement"`` the share of members whose own top class is the committee's.
        Regression: ``"spread"`` is the standard deviation of the members' predictions (target units) and
        ``"agreement"`` is absent.
        """
        probs = _member_probabilities(self.member_outputs(x), self.combine)
        if self.combine == "mean":
            flat = probs.reshape(probs.shape[0], probs.shape[1], -1)
            return {"spread": flat.std(axis=0).mean(axis=-1)}
        mean = probs.mean(axis=0)
        chosen = mean.argmax(axis=-1)
        rows = np.arange(len(chosen))
        spread = probs[:, rows, chosen].std(axis=0)
        agreement = (probs.argmax(axis=-1) == chosen[None, :]).mean(axis=0)
        return {"spread": spread, "agreement": agreement}

    def uncertain(self, x: Any, target_sd: float | None = None) -> np.ndarray:
        """True for the samples of ``x`` the members disagree on (see :func:`uncertain`)."""
        return uncertain(self.disagreement(x), target_sd)

    def extra_repr(self) -> str:
        return f"members={len(self)}, combine={self.combine!r}"

    def get_config(self) -> dict[str, Any]:
        return {"members": [to_config(m) for m in self._modules.values()], "combine": self.combine}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Module:
        members = [from_config(c) for c in config.get("members", [])]
        return cls(members, combine=config.get("combine", "softmax"))


@register_layer
class SelectFeatures(Module):
    """Keep the input columns ``indices`` (of ``in_features``): (batch, in_features) -> (batch, len(indices)).

    The gradient of a dropped column is 0, so attributions stay defined for every input column.
    """

    def __init__(self, indices: Sequence[int], in_features: int) -> None:
        super().__init__()
        idx = np.asarray(list(indices), dtype=np.int64)
        in_features = int(in_features)
        if idx.ndim != 1 or len(idx) == 0 or idx.min() < 0 or idx.max() >= in_features:
            raise ValueError(
                f"SelectFeatures needs column indices in 0..{in_features - 1}; got {list(indices)[:10]}."
            )
        if len(np.unique(idx)) != len(idx):
            raise ValueError("SelectFeatures got the same column twice; give each column once.")
        self.indices = idx
        self.in_features = in_features

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"SelectFeatures expects (samples, {self.in_features}) inputs; got shape {tuple(x.shape)}."
            )
        return x[:, self.indices]

    def extra_repr(self) -> str:
        return f"{len(self.indices)} of {self.in_features} features"

    def get_config(self) -> dict[str, Any]:
        return {"indices": self.indices.tolist(), "in_features": self.in_features}
