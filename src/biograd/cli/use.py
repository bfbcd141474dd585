"""``biograd predict``, ``evaluate`` and ``explain``: a trained run used on new samples."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from biograd.cli.console import _out, _table


def _load_for(args: argparse.Namespace, need_target: bool) -> tuple[Any, dict, Any]:
    from biograd import pipeline

    model, info = pipeline.load_run(args.model_dir)
    new = pipeline.read_new_data(
        info,
        args.data,
        model=model,
        labels=args.labels,
        label_column=args.label_column,
        need_target=need_target,
        id_column=getattr(args, "id", None),
        orientation=args.orientation,
        sample_id_column=args.sample_id_column,
    )
    return model, info, new


def _predict(args: argparse.Namespace) -> int:
    from biograd import pipeline

    model, info, new = _load_for(args, need_target=False)
    table = pipeline.predict_table(model, info, new)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    table.to_csv(tmp, index=False)
    tmp.replace(out)
    _out(f"Predicted {len(table)} samples -> {out}")
    if "uncertain" in table.columns:
        _out(
            f"The model is a committee of networks: {int(table['uncertain'].sum())} sample(s) marked "
            "uncertain (its members disagree; spread = their standard deviation)"
        )
    _out(table.head(10).to_string(index=False))
    if len(table) > 10:
        _out(f"... ({len(table) - 10} more rows in {out})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from biograd import pipeline

    model, info, new = _load_for(args, need_target=True)
    metrics = pipeline.evaluate_new(model, info, new)
    _out(f"{len(new.ids)} samples from {args.data}:")
    rows = [[k, v] for k, v in metrics.items() if k not in ("confusion_matrix", "new_data_shift")]
    _out(_table(rows, ["metric", "value"]))
    if "uncertain_samples" in metrics:
        _out(
            f"({metrics['uncertain_samples']} of {len(new.ids)} samples are uncertain: the committee's "
            "members disagree on them; biograd predict marks which)"
        )
    if "confusion_matrix" in metrics:
        names = [str(c) for c in info["preprocessing"]["class_names"]]
        _out("")
        _out("Confusion matrix (rows: true class, columns: predicted class):")
        cm = metrics["confusion_matrix"]
        _out(_table([[name, *row] for name, row in zip(names, cm, strict=True)], ["", *names]))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from biograd import pipeline

    if args.top < 1:
        raise pipeline.ConfigError(f"The 'top' parameter must be an int >= 1. Got {args.top} instead.")
    model, info, new = _load_for(args, need_target=False)
    found = pipeline.explain_new(model, info, new, top=args.top, explain_class=args.explain_class)
    if found.kind == "table":
        _explain_table_text(found)
    else:
        _explain_sequences_text(found)
    if args.out:
        found.table().to_csv(args.out, index=False)
        _out(f"Written to {args.out}")
    if args.per_sample:
        found.per_sample.to_csv(args.per_sample, index=False)
        what = "feature" if found.kind == "table" else "position"
        _out(f"Per-sample attributions (one row per sample, one column per {what}) -> {args.per_sample}")
    return 0


def _explain_table_text(found: Any) -> None:
    from biograd.explain.predictions import STABILITY_TOP, UNSTABLE_BELOW, UNSTABLE_TEXT

    table = found.table()
    per_class = found.direction_columns
    towards = found.towards
    used = found.used()
    if per_class:
        _out(f"Features ranked by mean |integrated gradients| of each sample's predicted class, over {used}:")
    elif towards is not None:
        _out(f"Features ranked by mean |integrated gradients| towards {towards!r}, over {used}:")
    else:
        _out(f"Features ranked by mean |integrated gradients| of the predicted value, over {used}:")
    directions = per_class or ["direction"]
    labels = [f"-> {c[len('direction_') :]}" for c in per_class] or ["direction"]
    committee = "stability" in table.columns
    if committee:
        _out(
            f"(a committee of {found.members} networks: each member explained, attributions averaged; "
            f"stability = share of members ranking the feature in their top {STABILITY_TOP}; below "
            f"{UNSTABLE_BELOW} the members disagree and the feature is {UNSTABLE_TEXT!r})"
        )
    rows = [
        [
            int(r["rank"]),
            str(r["feature"]),
            float(r["mean_abs_attribution"]),
            *[float(r[d]) for d in directions],
            *(
                [float(r["stability"]), UNSTABLE_TEXT if found.is_unstable(r["feature"]) else ""]
                if committee
                else []
            ),
        ]
        for _, r in table.iterrows()
    ]
    _out(
        _table(rows, ["rank", "feature", "mean |attr.|", *labels, *(["stability", ""] if committee else [])])
    )
    if per_class:
        _out(
            "(-> CLASS: correlation, over all samples, between the feature's value and its attribution to "
            "CLASS's logit: > 0 higher values raise that class's score, < 0 lower it; "
            "--class NAME explains every sample towards one class)"
        )
    elif towards is not None:
        _out(
            f"(direction > 0: higher values of the feature push towards {towards!r}; < 0: away from it. "
            "--class NAME explains towards another class)"
        )
    else:
        _out("(direction > 0: higher values of the feature raise the predicted value; < 0: they lower it)")


def _explain_sequences_text(found: Any) -> None:
    window = found.window
    _out(f"Integrated gradients over {found.used()}; each sequence's most important {window}-letter site.")
    if found.members > 1:
        _out(f"(a committee of {found.members} networks: each member explained, attributions averaged)")
    for group in found.groups:
        name = group.class_name
        shown = group.shown
        _out("")
        if name is None:
            _out(f"The {len(shown)} sequences with the highest predicted value:")
        elif not group.n:
            _out(f"No sequence is predicted as {name!r}.")
            continue
        else:
            _out(
                f"Explained towards {name!r}: {group.n} sequence(s); the {len(shown)} most confident "
                f"(attribution > 0 pushes towards {name!r}):"
            )
        header = ["sequence", *(["P(" + str(name) + ")"] if name is not None else []), "score", "positions"]
        rows = [
            [
                str(s["id"]),
                *([float(s["probability"])] if name is not None else []),
                float(s["score"]),
                f"{s['start']}-{s['end']}",
                str(s["site"]),
                float(s["site_attribution"]),
            ]
            for s in shown
        ]
        _out(_table(rows, [*header, "site", "attribution"]))
        common = group.common_sites()
        if common:
            _out("Most frequent sites (a candidate motif): " + ", ".join(f"{k} ({n}x)" for k, n in common))
        damage = group.most_damaging()
        if damage is not None:
            pos, drop = damage
            what = f"the score of {name!r}" if name is not None else "the predicted value"
            _out(
                f"In-silico mutagenesis of {group.top_ids[0]}: the most damaging single substitution "
                f"(at position {pos}) lowers {what} by {drop:.3f}."
            )
