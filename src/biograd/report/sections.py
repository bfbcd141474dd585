"""The report's sections, in reading order: the verdict at a glance, the data, the network, training,
test results with intervals, the baselines, how to reproduce the run."""

from __future__ import annotations

from typing import Any

from biograd.report.figures import (
    figure_class_balance,
    figure_confusion,
    figure_curves,
    figure_network,
    figure_pred_vs_true,
    figure_roc_pr,
    figure_target_histogram,
)
from biograd.report.html import _esc, _fmt, _table
from biograd.viz.markup import Markup, html, join


def _section_summary(result: Any) -> Markup:
    p = result.prepared
    task = p.data.task
    metric, value = result.comparison["metric_label"], result.comparison["network"]
    diag = result.diagnosis
    key_ci = _interval_text(result.test_ci.get(result.comparison["metric"]))
    samples = result.evaluation.get("samples", len(p.test_idx))
    cards = [
        (_fmt(value), f"test {metric} of the network{key_ci}"),
        (
            _fmt(result.comparison["best_baseline_value"]),
            f"test {metric}, best baseline ({result.comparison['best_baseline'] or 'n/a'})",
        ),
        (diag.verdict, "diagnosis of the learning curves"),
        (
            samples,
            "samples predicted out of fold (by networks that never saw them)"
            if p.folds
            else "held-out test samples (never seen in training)",
        ),
    ]
    if task == "classification":
        cards.insert(1, (_fmt(result.test_metrics["balanced_accuracy"]), "test balanced accuracy"))
    else:
        cards.insert(
            1, (_fmt(result.test_metrics["mae"]), f"test mean absolute error ({p.data.target_name})")
        )
    beats = result.comparison["network_beats_baseline"]
    cls = "good" if beats else ("bad" if beats is False else "")
    html_cards = join(
        html('<div class="card"><div class="big">{}</div><div class="label">{}</div></div>', v, label)
        for v, label in cards
    )
    return html(
        '<div class="cards">{}</div><p>Evaluation: {}.</p><div class="verdict {}">{}</div>{}',
        html_cards,
        result.scheme_text,
        cls,
        result.comparison["sentence"],
        _small_sample_html(result),
    )


def _interval_text(interval: Any) -> str:
    """ " (95% interval 0.871 to 0.948)" for a card label (plain text, escaped where it is placed), or ""
    without an interval."""
    if not interval:
        return ""
    return f" (95% interval {_fmt(interval[0])} to {_fmt(interval[1])})"


def _small_sample_html(result: Any) -> Markup:
    if not result.small_sample:
        return Markup("")
    return html('<div class="verdict bad">{}</div>', result.small_sample)


def _with_ci(value: Any, interval: Any) -> str:
    """ "0.912 [0.871, 0.948]" (plain text for a table cell; :func:`_table` escapes it)."""
    from biograd.stats import format_interval

    if value is None:
        return "n/a"
    return format_interval(float(value), interval)


def _section_data(result: Any) -> Markup:
    p = result.prepared
    d = p.data
    rows = [
        ["source", d.source],
        ["kind", "one-hot " + d.kind.upper() + " sequences" if d.is_sequence else "table"],
        ["samples", d.n_samples],
        [
            "network inputs",
            f"{p.x.shape[1]} letters x {p.x.shape[2]} positions"
            if d.is_sequence
            else f"{len(p.feature_names)} features (from {d.features.shape[1]} columns)",
        ],
        ["target", f"{d.target_name} ({d.task})"],
        _split_row(result),
        ["grouping", _esc(d.grouping or "none: every sample is its own group (no duplicates found)")],
    ]
    if result.selection:
        kept = result.selection["kept"]
        always = [name for name, share in kept.items() if share >= 1.0]
        rows.append(
            [
                "features kept",
                f"{result.selection['k']} of {len(p.feature_names)} per fold, those that best "
                f"{'separate the classes' if d.task == 'classification' else 'track the target'} "
                "(F test) on each fold's training rows; kept by every fold: "
                + (", ".join(always[:30]) + (" ..." if len(always) > 30 else "") or "none"),
            ]
        )
    if d.task == "classification" and len(d.target_names) == 2:
        chosen = d.extra.get("positive_class")
        rows.append(
            [
                "positive class",
                _esc(str(d.target_names[1]))
                + (
                    " (chosen with --positive)"
                    if chosen
                    else " (a guess from the class names; choose it with --positive CLASS)"
                )
                + ": ROC and precision-recall curves and AUCs score this class",
            ]
        )
    conflicts = (d.extra.get("duplicates") or {}).get("conflicting_removed")
    if conflicts:
        rows.append(["left out", f"{conflicts} identical samples with conflicting labels"])
    if not d.is_sequence:
        prep = p.preprocessing.get("table") or {}
        n_num, n_cat = len(prep.get("numeric", [])), len(prep.get("categorical", []))
        rows.append(
            [
                "preprocessing",
                f"{n_num} numeric columns standardized, {n_cat} text columns one-hot encoded"
                + (
                    f", missing values filled with the training {prep.get('impute')}"
                    if prep.get("impute")
                    else ""
                )
                + "; learned from the training rows only",
            ]
        )
    out = html("<p>{}</p>", d.description) + _table(["property", "value"], rows)
    if d.task == "classification":
        counts = d.class_counts()
        out += figure_class_balance(list(counts), list(counts.values()))
    else:
        out += figure_target_histogram(d.y, d.target_name)
    return out


def _split_row(result: Any) -> list[str]:
    """The "split" row of the data table (plain text cells; :func:`_table` escapes them)."""
    p, d = result.prepared, result.prepared.data
    stratified = " (stratified by class)" if d.task == "classification" else ""
    if not result.fold_summaries:
        return [
            "split",
            f"{len(p.train_idx)} training / {len(p.val_idx)} validation / {len(p.test_idx)} test{stratified}",
        ]
    f = result.fold_summaries[0]
    return [
        "evaluation",
        f"{result.scheme_text}{stratified}. Each fold: about {f['train']} training / {f['validation']} "
        f"validation (early stopping) / {f['test']} test samples; the saved model is the committee of the "
        f"{len(result.fold_summaries)} fold networks",
    ]


def _section_network(result: Any) -> Markup:
    p = result.prepared
    cfg = p.config
    settings = (
        f"Optimizer {cfg.optimizer}, learning rate {p.lr:g}, batch size {cfg.batch_size}"
        + (f", weight decay {cfg.weight_decay:g}" if cfg.weight_decay else "")
        + (f", dropout {cfg.dropout:g}" if cfg.dropout else "")
    )
    rescaled = (
        " on the standardized target (the model was rescaled to the target's units afterwards)"
        if p.data.task == "regression"
        else ""
    )
    return html(
        "<p><b>{}</b>: {}. <b>{}</b> trainable parameters (weights and biases).</p>{}"
        "<p class='note'>Loss: {}{}. {}.</p>",
        p.architecture,
        p.why,
        f"{p.n_parameters:,}",
        figure_network(p),
        result.history.params.get("loss", ""),
        rescaled,
        settings,
    )


def _section_training(result: Any) -> Markup:
    h = result.history
    metric = "accuracy" if result.prepared.data.task == "classification" else "r2"
    reason = {
        "completed": f"ran all {h.epochs_run} epochs",
        "early_stopping": f"stopped early after epoch {h.epochs[-1]} (validation loss had not improved for "
        f"{result.prepared.config.patience} epochs)",
        "interrupted": f"was INTERRUPTED (Ctrl-C) after epoch {h.epochs[-1] if h.epochs else 0}",
        "diverged": "diverged (the loss became inf/NaN)",
    }[h.stop_reason]
    restored = (
        f" The weights of the best epoch ({h.best_epoch}, lowest validation loss) were kept."
        if h.best_epoch
        else ""
    )
    diag = result.diagnosis
    cls = "good" if diag.verdict == "good fit" else "bad"
    curves = figure_curves(h, metric) if h.epochs else Markup("<p>No epoch finished.</p>")
    advice = html("<br><b>Advice:</b> {}", diag.advice) if diag.advice else Markup("")
    which = Markup("")
    if result.fold_summaries:
        which = html(
            "<p>The curves are those of the first fold's network (of {}); epochs run per fold: {}.</p>",
            len(result.fold_summaries),
            ", ".join(str(f["epochs"]) for f in result.fold_summaries),
        )
    return html(
        '{}<p>Training {}.{}</p>{}<div class="verdict {}"><b>Diagnosis: {}.</b> {}{}</div>',
        which,
        reason,
        restored,
        curves,
        cls,
        diag.verdict,
        diag.explanation,
        advice,
    )


def _section_test(result: Any) -> Markup:
    p = result.prepared
    m = result.test_metrics
    out = result.test_output
    if p.data.task == "classification":
        names = list(p.data.target_names)
        rows = [
            ["accuracy", "accuracy", "fraction of test samples classified correctly"],
            [
                "balanced accuracy",
                "balanced_accuracy",
                "mean of the per-class recalls (0.5 = chance "
                "for two classes); not fooled by unbalanced classes",
            ],
            [
                "ROC AUC",
                "roc_auc",
                "probability that a random positive scores above a random negative"
                + (" (one vs rest, macro average)" if len(names) > 2 else ""),
            ],
            ["PR AUC (average precision)", "pr_auc", "precision averaged over recall levels"],
        ]
        return html(
            '{}{}{}<div class="figs"><div>{}</div></div>{}',
            _test_intro(result),
            _table(["metric", "value [95% interval]", "meaning"], _ci_rows(result, rows)),
            _external_html(result),
            figure_confusion(m["confusion_matrix"], names),
            figure_roc_pr(out["y_true"], out["proba"], names),
        )
    rows = [
        ["R^2", "r2", "share of the target's variance explained (1 perfect, 0 = predicting the mean)"],
        ["MAE", "mae", f"mean absolute error, in units of {p.data.target_name}"],  # escaped by _table
        ["RMSE", "rmse", "root mean squared error (large errors weigh more)"],
        ["Pearson r", "pearson_r", "correlation of predicted with true values"],
    ]
    return html(
        "{}{}{}{}",
        _test_intro(result),
        _table(["metric", "value [95% interval]", "meaning"], _ci_rows(result, rows)),
        _external_html(result),
        figure_pred_vs_true(out["y_true"], out["y_pred"], p.data.target_name),
    )


def _test_intro(result: Any) -> Markup:
    samples = result.evaluation.get("samples", len(result.prepared.test_idx))
    where = (
        f"the out-of-fold predictions of all {samples} samples ({result.scheme_text})"
        if result.prepared.folds
        else f"{samples} held-out test samples, never used in training"
    )
    return html(
        "<p>Computed on {}. The interval in brackets is a 95% bootstrap interval: resampling the "
        "samples (within each class) 2,000 times, the figure stayed in that range 95% of the time. A wide "
        "interval means the data cannot pin the figure down.</p>{}",
        where,
        _small_sample_html(result),
    )


def _ci_rows(result: Any, rows: list[list[str]]) -> list[list[str]]:
    """(name, metric key, meaning) -> (name, "value [low, high]", meaning)."""
    m, ci = result.test_metrics, result.test_ci
    return [[name, _with_ci(m.get(key), ci.get(key)), meaning] for name, key, meaning in rows]


def _external_html(result: Any) -> Markup:
    ext = result.external_test
    if not ext:
        return Markup("")
    keys = (
        ["accuracy", "balanced_accuracy", "roc_auc", "pr_auc"]
        if result.prepared.data.task == "classification"
        else ["r2", "mae", "rmse", "pearson_r"]
    )
    row = [_with_ci(ext["metrics"].get(k), ext["ci"].get(k)) for k in keys]
    note = (
        html('<div class="verdict bad">{}</div>', ext["small_sample_warning"])
        if ext["small_sample_warning"]
        else Markup("")
    )
    return html(
        "<h3>External test set</h3><p>{}: {} samples scored once by the saved model. They influenced "
        "neither training nor any choice, so these are the figures to quote for new samples like them.</p>"
        "{}{}",
        ext["source"],
        ext["samples"],
        _table(["data", *keys], [["external test set", *row]]),
        note,
    )


def _section_baselines(result: Any) -> Markup:
    task = result.prepared.data.task
    if task == "classification":
        header = ["model", "accuracy", "balanced accuracy", "ROC AUC", "PR AUC"]
        keys = ["accuracy", "balanced_accuracy", "roc_auc", "pr_auc"]
    else:
        header = ["model", "R^2", "MAE", "RMSE"]
        keys = ["r2", "mae", "rmse"]
    rows = [[Markup("<b>biograd network</b>"), *[result.test_metrics.get(k) for k in keys]]]
    classes = ["net"]
    best = result.comparison["best_baseline"]
    for name, values in result.baselines.items():
        rows.append([name, *[values.get(k) for k in keys]])
        classes.append("best" if name == best else "")
    seq = (
        " Sequences are given to them as flattened one-hot vectors; the k-mer composition models see only"
        " each sequence's letter (and k-mer) frequencies."
        if result.prepared.data.is_sequence
        else ""
    )
    return html(
        "<p>Classical models from scikit-learn, trained on the same rows and scored on the same samples"
        "{}.{} The verdict compares the network with the best of them on the same samples: the difference "
        "of the key figure with its 95% bootstrap interval; only an interval entirely above zero says the "
        "network is better. If a simple model does as well, prefer it: it is faster, and easier to "
        'explain.</p>{}<div class="verdict {}">{}</div>',
        " (the same folds; out-of-fold predictions)" if result.prepared.folds else "",
        seq,
        _table(header, rows, classes),
        "good" if result.comparison["network_beats_baseline"] else "bad",
        result.comparison["sentence"],
    )


def _section_reproducibility(result: Any) -> Markup:
    p = result.prepared
    cfg = p.config.as_dict()
    cfg["lr"] = p.lr
    if cfg.get("hidden") is None:
        cfg["hidden"] = "default"
    cfg_rows = [[str(k), str(v)] for k, v in cfg.items()]
    versions = ", ".join(f"{k} {v}" for k, v in result.versions.items())
    return html(
        "<p>Command:</p><pre>{}</pre><p>Seed <b>{}</b> fixes the split, the starting weights, the "
        "shuffling and dropout: the same command on the same data gives the same network. Training took "
        "{:.1f} s.</p><p>Versions: {}.</p>{}",
        result.command or "(called from Python)",
        p.config.seed,
        result.seconds,
        versions,
        _table(["setting", "value"], cfg_rows),
    )
