"""What attributions say about a network's predictions: which class is *positive*, attributions towards
a class, the direction of each feature's effect, and each sequence's most important site.

:func:`explain_table` and :func:`explain_sequences` return one :class:`Explanation`, which the command
line prints and the report draws, so both say the same thing about the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biograd.bio.errors import DataError
from biograd.explain.attributions import (
    in_silico_mutagenesis,
    integrated_gradients,
    outputs,
    position_importance,
    rank_features,
)

#: A committee's explanation: a feature's rank stability is the share of members that put it among their
#: ``STABILITY_TOP`` features (:func:`biograd.stats.rank_stability`); below ``UNSTABLE_BELOW`` the members
#: disagree on it, and it is shown as "unstable - not a finding", never as a finding.
STABILITY_TOP = 20
UNSTABLE_BELOW = 0.5
UNSTABLE_TEXT = "unstable - not a finding"

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


@dataclass
class SiteGroup:
    """The sequences explained towards one class (for regression: all of them), most confident first.

    ``sites`` holds one row per member (id, probability of the class, score, start, end, site,
    site_attribution, top_position); ``top`` the members shown (row indices), ``ism`` the in-silico
    mutagenesis of the first of them (alphabet x length; for two classes, signed towards this class).
    """

    class_name: str | None
    index: int | None
    members: np.ndarray
    sites: list[dict[str, Any]]
    top: np.ndarray
    top_ids: list[str]
    top_sequences: list[str]
    ism: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.members)

    @property
    def shown(self) -> list[dict[str, Any]]:
        """The sites of the members shown (``top``)."""
        return self.sites[: len(self.top)]

    def common_sites(self, n: int = 5) -> list[tuple[str, int]]:
        """The candidate motif: the group's most frequent sites (see :func:`common_sites`)."""
        return common_sites(self.sites, n)

    def most_damaging(self) -> tuple[int, float] | None:
        """(position, drop) of the single substitution of the top sequence that lowers the score most
        (position from 1); None without a mutagenesis."""
        if self.ism is None:
            return None
        position = int(np.unravel_index(self.ism.argmin(), self.ism.shape)[1]) + 1
        return position, float(-self.ism.min())


@dataclass
class Explanation:
    """What drove a network's predictions, for a table (``ranking``) or for sequences (``groups``).

    Attributes:
        kind: "table" or "sequence".
        per_sample: DataFrame, one row per sample explained: its id, the prediction and (classes) the
            class explained with its probability, then one attribution per feature or per position.
        n_used: samples explained (a seeded random sample of them above :data:`MAX_EXPLAIN_ROWS`).
        n_total: the samples there were to explain.
        seed: the seed of that random sample.
        ranking: tables: DataFrame of rank, feature, mean_abs_attribution, mean_attribution and
            ``direction`` (towards ``towards``) or one ``direction_<class>`` column per class.
        towards: the class the single ``direction`` refers to; None for per-class directions or
            regression.
        groups: sequences: one :class:`SiteGroup` per class shown (the positive class first).
        positions: sequences: attribution per position (samples x length); zero past each sequence's
            end (padding carries no attribution).
        lengths: sequences: the real length of each sequence explained (its positions before padding).
        window: sequences: the width of a site.
        top: how many ranking rows :meth:`table` keeps (None: all).
        members: how many networks were explained: 1, or the size of a committee, whose attributions
            are each member's, averaged (tables then get a ``stability`` column in ``ranking``: the share
            of members that rank the feature among their top ``STABILITY_TOP``).
        unstable: tables explained by a committee: the features (in rank order) whose stability is below
            ``UNSTABLE_BELOW``; they are rendered as "unstable - not a finding".
    """

    kind: str
    per_sample: Any
    n_used: int
    n_total: int
    seed: int = 0
    ranking: Any = None
    towards: str | None = None
    groups: list[SiteGroup] = field(default_factory=list)
    positions: np.ndarray | None = None
    window: int = 0
    top: int | None = None
    members: int = 1
    unstable: list[str] = field(default_factory=list)
    lengths: np.ndarray | None = None

    @property
    def sampled(self) -> bool:
        return self.n_used < self.n_total

    @property
    def sites(self) -> list[dict[str, Any]]:
        """Every group's sites, in group order."""
        return [s for g in self.groups for s in g.sites]

    @property
    def direction_columns(self) -> list[str]:
        """The ranking's per-class direction columns (``direction_<class>``); empty for one direction."""
        if self.ranking is None:
            return []
        return [c for c in self.ranking.columns if str(c).startswith("direction_")]

    def is_unstable(self, feature: Any) -> bool:
        """Is this feature's rank unstable across the committee's members (not a finding)?"""
        return str(feature) in set(self.unstable)

    def findings(self, n: int) -> list[str]:
        """The first ``n`` ranked features that are findings (the unstable ones left out)."""
        if self.ranking is None:
            return []
        unstable = set(self.unstable)
        return [str(f) for f in self.ranking["feature"] if str(f) not in unstable][:n]

    def used(self, noun: str = "samples") -> str:
        """Which samples were explained, in words: "all 360 samples" or "a random sample of 50 of the
        360 samples (seed 0)"."""
        if self.sampled:
            return f"a random sample of {self.n_used:,} of the {self.n_total:,} {noun} (seed {self.seed})"
        return f"all {self.n_total:,} {noun}"

    def table(self) -> Any:
        """What ``biograd explain --out`` writes: the ranking (its first ``top`` rows) for tables; the
        sites of the sequences shown, with their class, for sequences."""
        import pandas as pd

        if self.kind == "table":
            return self.ranking if self.top is None else self.ranking.head(self.top)
        return pd.DataFrame([s for g in self.groups for s in g.shown])


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


def _committee_members(model: Any) -> list[Any] | None:
    """The member networks of a committee (:class:`biograd.nn.Committee`); None for one network."""
    from biograd.nn.committee import Committee

    return model.members if isinstance(model, Committee) else None


def member_average(model: Any, explain: Any) -> np.ndarray:
    """``explain(network)`` for one network; for a committee, the average of ``explain(member)`` over its
    members (each member explained on its own, as Khan et al. averaged their networks)."""
    members = _committee_members(model)
    if members is None:
        return explain(model)
    return np.mean([np.asarray(explain(m), dtype=np.float64) for m in members], axis=0)


def attributions_towards_classes(
    model: Any, x: np.ndarray, task: str, class_index_: int | None = None, steps: int = 32
) -> dict[str, Any]:
    """Integrated gradients of each sample towards one class, and the numbers that go with it.

    Which class: ``class_index_`` for every sample if given, else the class the sample is *predicted*
    as. With two classes the network has one logit z = log P(class 1) / P(class 0): explaining class 1
    uses z, class 0 uses -z (so a positive attribution always means "pushes towards the explained
    class", whichever class comes first alphabetically). With more classes the explained quantity is
    that class's logit. Regression: the predicted value.

    A committee (:class:`biograd.nn.Committee`) predicts with its averaged probabilities; the attributions
    are each member's towards the committee's class (its logit, or its signed log-odds), averaged over the
    members, and ``member_importance`` (members x inputs, flattened) holds each member's mean |attribution|
    over the samples, from which the rank stability of each feature follows.

    Returns a dict: ``attr`` (x's shape), ``explained`` (class index per sample, None for regression),
    ``predicted`` (class index per sample or None), ``score`` (the explained quantity: log-odds of the
    explained class for two classes, its logit for more, the prediction for regression; for a committee
    with more classes, the log of its averaged probability), ``probability`` (of the explained class, or
    None), ``log_probability`` (for ranking; for regression the prediction) and ``member_importance``
    (None for one network).
    """
    out = _batched(lambda b: outputs(model, b), x).astype(np.float64)
    n = len(x)
    members = _committee_members(model)
    if task != "classification":
        explained = predicted = None
        value = out[:, 0]
        score, probability, log_p = value, None, value
        sign = None
    elif out.shape[1] == 1:
        z = out[:, 0]
        predicted = (z > 0).astype(np.int64)  # P(class 1) = sigmoid(z) > 0.5, as predict_proba's argmax
        explained = predicted if class_index_ is None else np.full(n, int(class_index_), dtype=np.int64)
        sign = np.where(explained == 1, 1.0, -1.0)
        score = sign * z
        log_p = -np.logaddexp(0.0, -score)  # log sigmoid(score)
        probability = np.exp(log_p)
    else:
        predicted = out.argmax(axis=1)
        explained = predicted if class_index_ is None else np.full(n, int(class_index_), dtype=np.int64)
        sign = None
        score = out[np.arange(n), explained]
        top = out.max(axis=1, keepdims=True)
        log_p = score - (top[:, 0] + np.log(np.exp(out - top).sum(axis=1)))  # log softmax
        probability = np.exp(log_p)

    def explain(net: Any) -> np.ndarray:
        if task == "classification" and sign is None:
            return _batched(lambda b, t: integrated_gradients(net, b, steps=steps, target=t), x, explained)
        attr = _batched(lambda b: integrated_gradients(net, b, steps=steps), x)
        if sign is not None:
            attr = attr * sign.reshape((n,) + (1,) * (attr.ndim - 1)).astype(attr.dtype)
        return attr

    member_importance = None
    if members is None:
        attr = explain(model)
    else:
        total = None
        importance = []
        for member in members:
            a = np.asarray(explain(member), dtype=np.float64)
            importance.append(np.abs(a).mean(axis=0).reshape(-1))
            total = a if total is None else total + a
        attr = (total / len(members)).astype(x.dtype if x.dtype.kind == "f" else np.float64)
        member_importance = np.stack(importance)
    return {
        "attr": attr,
        "explained": explained,
        "predicted": predicted,
        "score": score,
        "probability": probability,
        "log_probability": log_p,
        "member_importance": member_importance,
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
) -> Explanation:
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

    A committee of networks is explained member by member and averaged (see
    :func:`attributions_towards_classes`); the ranking then has a ``stability`` column (the share of
    members ranking the feature among their top ``STABILITY_TOP``) and ``unstable`` names the features
    below ``UNSTABLE_BELOW``.

    Returns an :class:`Explanation` of kind "table": its ``ranking``, ``towards`` and ``per_sample``
    (one row per sample explained, the attribution of every feature).
    """
    import pandas as pd

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
    ranking = rank_features(attr, names)
    unstable: list[str] = []
    if found["member_importance"] is not None:
        from biograd.stats import rank_stability

        by_name = dict(zip(names, rank_stability(found["member_importance"], top=STABILITY_TOP), strict=True))
        ranking["stability"] = [float(by_name[f]) for f in ranking["feature"]]
        unstable = [
            str(f)
            for f, v in zip(ranking["feature"], ranking["stability"], strict=True)
            if v < UNSTABLE_BELOW
        ]
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
    return Explanation(
        kind="table",
        per_sample=per_sample,
        n_used=len(rows),
        n_total=len(x),
        seed=seed,
        ranking=ranking,
        towards=towards,
        members=len(_committee_members(model) or [model]),
        unstable=unstable,
    )


def sequence_lengths(x: np.ndarray, sequences: Sequence[str] | None = None) -> np.ndarray:
    """The real length of each one-hot sequence (samples, alphabet, length): the length of its text when
    given (at most the padded length), else one past the last position holding a letter (padding is
    all-zero)."""
    padded = x.shape[2]
    if sequences is not None:
        return np.minimum(np.array([len(s) for s in sequences], dtype=np.int64), padded)
    filled = np.abs(x).sum(axis=1) > 0  # (samples, length)
    last = padded - np.argmax(filled[:, ::-1], axis=1)
    return np.where(filled.any(axis=1), last, 0).astype(np.int64)


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
) -> Explanation:
    """Which positions drove the predictions: each sequence explained towards the class it is predicted
    as (or ``explain_class``), sites ranked within each class.

    Integrated gradients (baseline: no base) give an importance per position (the present base's
    attribution, positive = pushes towards the explained class; see :func:`attributions_towards_classes`).
    For each sequence, the ``window``-wide stretch with the largest total importance is its most
    important site, always inside the sequence (a sequence shorter than the window is one site). Only
    real positions count: attribution on padding is set to zero, and the mutagenesis covers the top
    sequence's own letters only. Sequences are grouped by explained class (the positive class first for
    two classes), each group ranked by the probability of its class; regression: one group, ranked by
    the predicted value. In-silico mutagenesis (every single-letter substitution) of each group's top
    sequence shows which changes would weaken its class most. A committee's integrated gradients and
    mutagenesis are each member's, averaged over the members, so its sites come from averaged positions.

    Returns an :class:`Explanation` of kind "sequence": its ``groups`` (one :class:`SiteGroup` per class
    shown), ``positions``, ``window`` and ``per_sample`` (one row per sequence, one column per position).
    """
    import pandas as pd

    limit = MAX_EXPLAIN_ROWS["sequence"] if max_rows is None else max_rows
    n_total = len(x)
    rows = _explain_rows(n_total, limit, seed)
    x = x[rows]
    ids = [str(i) for i in np.asarray(list(ids), dtype=object)[rows]]
    seqs = [sequences[i] for i in rows] if sequences is not None else None
    classes = [str(c) for c in class_names]
    found = attributions_towards_classes(model, x, task, explain_class)
    positions = position_importance(found["attr"])  # (samples, length)
    length = positions.shape[1]
    lengths = np.maximum(sequence_lengths(x, seqs), 1)
    positions[np.arange(length)[None, :] >= lengths[:, None]] = 0.0  # padding carries no attribution
    window = max(1, min(window, length))
    key = found["log_probability"]
    if found["explained"] is None:
        group_specs: list[tuple[int | None, np.ndarray]] = [(None, np.arange(len(x)))]
    else:
        order = class_order(classes) if explain_class is None else [int(explain_class)]
        group_specs = [(c, np.flatnonzero(found["explained"] == c)) for c in order]
    groups = []
    for c, members in group_specs:
        members = members[np.argsort(-key[members], kind="stable")]
        group_sites = []
        for i in members:
            own = int(lengths[i])
            width = min(window, own)
            sums = np.convolve(positions[i, :own], np.ones(width), mode="valid")
            start = int(sums.argmax())
            site = seqs[i][start : start + width] if seqs is not None else ""
            entry = {"class": classes[c] if c is not None else None, "id": ids[i]}
            if c is not None:
                entry["probability"] = float(found["probability"][i])
            entry.update(
                {
                    "score": float(found["score"][i]),
                    "start": start + 1,
                    "end": start + width,
                    "site": site,
                    "site_attribution": float(sums[start]),
                    "top_position": int(positions[i, :own].argmax()) + 1,
                }
            )
            group_sites.append(entry)
        top = members[:n_show]
        ism = None
        if len(top):
            target = None if c is None else c
            first = x[top[:1]]
            raw = member_average(
                model, lambda net, s=first, t=target: in_silico_mutagenesis(net, s, target=t)
            )[0][:, : int(lengths[top[0]])]
            # one logit for two classes: the score of class 0 is -z, so its changes flip sign
            ism = -raw if (c == 0 and len(classes) == 2) else raw
        groups.append(
            SiteGroup(
                class_name=classes[c] if c is not None else None,
                index=c,
                members=members,
                sites=group_sites,
                top=top,
                top_ids=[ids[i] for i in top],
                top_sequences=[seqs[i] if seqs is not None else "" for i in top],
                ism=ism,
            )
        )
    front = _prediction_columns(ids, found, classes if found["explained"] is not None else None)
    past_end = np.arange(length)[None, :] >= lengths[:, None]
    per_position = pd.DataFrame(
        np.where(past_end, np.nan, positions), columns=[f"position_{p + 1}" for p in range(length)]
    )  # empty past a sequence's end: padding is not part of the sequence
    return Explanation(
        kind="sequence",
        per_sample=pd.concat([pd.DataFrame(front), per_position], axis=1),
        n_used=len(rows),
        n_total=n_total,
        seed=seed,
        groups=groups,
        positions=positions,
        window=window,
        members=len(_committee_members(model) or [model]),
        lengths=lengths,
    )


def common_sites(sites: Sequence[dict[str, Any]], n: int = 5) -> list[tuple[str, int]]:
    """The sites found most often among sequences' most important sites (each at least twice): a
    candidate motif. Sites cut short by the sequence's end are left out."""
    counts = Counter(s["site"] for s in sites if s["site"] and s["end"] - s["start"] + 1 == len(s["site"]))
    return [(k, c) for k, c in counts.most_common(n) if c > 1]
