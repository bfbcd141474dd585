"""Section 6 of the report: what drove the predictions (feature rankings, directions, sequence sites,
and how stable each ranking is across a committee's members)."""

from __future__ import annotations

from typing import Any

from biograd.report.figures import figure_feature_ranking, figure_ism, figure_sequence_map
from biograd.report.html import _table
from biograd.viz.markup import Markup, html, join


def _section_importance(result: Any) -> Markup:
    p = result.prepared
    imp = result.importance
    if imp is None:
        return Markup("<p>Not computed.</p>")
    if not p.data.is_sequence:
        return _table_importance(result, imp)
    from biograd.bio.sequences import ALPHABETS

    alphabet = ALPHABETS[p.data.kind]
    parts = [
        html(
            "<p>Integrated gradients (baseline: an empty sequence) on the correctly predicted test "
            "sequences. Each sequence is explained towards the class it is predicted as: a positive "
            "attribution pushes towards that class. Each sequence's most important {}-letter window is "
            "listed; sequences are grouped by predicted class, the most confident first. This shows what "
            "the <i>network</i> uses, which is not proof of biological cause.</p>",
            imp.window,
        )
    ]
    if imp.members > 1:
        parts.append(
            html(
                "<p>The model is a committee of {} networks: the attributions and the in-silico "
                "mutagenesis are each member's, averaged over the members.</p>",
                imp.members,
            )
        )
    for group in imp.groups:
        name = group.class_name
        title = (
            f"Sequences predicted as {name} ({group.n})"
            if name is not None
            else f"The sequences with the highest predicted {p.data.target_name}"
        )
        parts.append(html("<h3>{}</h3>", title))
        if not group.n:
            parts.append(Markup("<p>None.</p>"))
            continue
        sites = group.sites[:12]
        rows = [
            [
                s["id"],
                *([float(s["probability"])] if name is not None else []),
                float(s["score"]),
                f"{s['start']}-{s['end']}",
                html('<span class="seq">{}</span>', s["site"]),
                float(s["site_attribution"]),
            ]
            for s in sites
        ]
        common = group.common_sites()
        if common:
            listed = join((html('<span class="seq">{}</span> ({}x)', k, n) for k, n in common), ", ")
            parts.append(html("<p>Most frequent top sites (a candidate motif): {}</p>", listed))
        parts.append(figure_sequence_map(imp, group, alphabet))
        header = ["sequence", *([f"P({name})"] if name is not None else []), "score", "top site"]
        parts.append(_table([*header, "site", "site attribution"], rows))
        if group.ism is not None:
            parts.append(figure_ism(group.ism, alphabet, group.top_sequences[0], group.top_ids[0], name))
    return join(parts)


def _table_importance(result: Any, imp: Any) -> Markup:
    p = result.prepared
    ranking = imp.ranking
    head = ranking.head(20)
    towards = imp.towards
    per_class = imp.direction_columns
    if per_class:
        scored = "each sample's predicted class's logit"
    elif towards is not None:
        scored = f"the log-odds of {towards}"
    else:
        scored = f"the predicted {p.data.target_name}"
        towards = f"a higher {p.data.target_name}"
    from biograd.explain.predictions import STABILITY_TOP, UNSTABLE_BELOW, UNSTABLE_TEXT

    committee = "stability" in ranking.columns
    rows, classes = [], []
    for _, r in head.iterrows():
        if committee and imp.is_unstable(r["feature"]):
            effect = html("<b>{}</b>", UNSTABLE_TEXT)
        elif per_class:
            best = max(per_class, key=lambda c: r[c])
            effect = _direction(float(r[best]), best[len("direction_") :], "most towards")
        else:
            effect = _direction(float(r["direction"]), towards)
        stability = [float(r["stability"])] if committee else []
        rows.append([int(r["rank"]), r["feature"], float(r["mean_abs_attribution"]), *stability, effect])
        classes.append("unstable" if committee and imp.is_unstable(r["feature"]) else "")
    used = imp.used("test samples")
    note = Markup("")
    if committee:
        note = html(
            "<p>The model is a committee of {} networks: each member is explained and the attributions "
            "are averaged. <i>Stability</i> is the share of members that rank the feature among their top "
            "{}; below {} the members disagree about it, and it is marked <b>{}</b>: another training run "
            "could rank it anywhere.</p>",
            imp.members,
            STABILITY_TOP,
            UNSTABLE_BELOW,
            UNSTABLE_TEXT,
        )
        ranking = ranking.assign(
            feature=[f"{f} (unstable)" if imp.is_unstable(f) else str(f) for f in ranking["feature"]]
        )
    header = [
        "rank",
        "feature",
        "mean |attribution|",
        *(["stability"] if committee else []),
        "effect of higher values",
    ]
    each = " to each class's logit (the class it raises most is named)" if per_class else ""
    return html(
        "<p>Integrated gradients on {}: how much each input moved {} away from that of an average sample. "
        "Features are ranked by the mean absolute attribution. The effect of higher values is the "
        "correlation, across samples, between a feature's value and its attribution{}. This shows what the "
        "<i>network</i> uses, which is not proof of biological cause.</p>{}{}{}",
        used,
        scored,
        each,
        note,
        figure_feature_ranking(
            ranking,
            None if per_class else towards,
            units=f"units of {p.data.target_name}" if p.data.task == "regression" else "logit units",
        ),
        _table(header, rows, classes if committee else None),
    )


def _direction(corr: float, towards: str, word: str | None = None) -> str:
    """Plain text (the table escapes it): how a feature's value relates to its attribution."""
    strength = "strongly " if abs(corr) > 0.7 else ("" if abs(corr) > 0.3 else "weakly / mixed: ")
    arrow = word or ("towards" if corr >= 0 else "away from")
    return f"{strength}{arrow} {towards} (r = {corr:+.2f})"
