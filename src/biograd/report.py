"""report.html: one self-contained page about a training run, for a lab meeting.

Every figure is drawn with matplotlib (Agg backend, imported lazily) and embedded as a base64 PNG, so the
file has no external links: it can be mailed, archived or opened offline. Sections, in reading order:
the verdict at a glance, the data, the network, training (curves and diagnosis), test results, the
comparison with classical baselines, what drove the predictions, and how to reproduce the run.

Colors come from :mod:`biograd.viz.palette` (Okabe-Ito, readable by color-blind readers), and lines also
differ by style, so the figures survive greyscale printing. The learning curves and the network are drawn
by :mod:`biograd.viz`, as in the notebooks.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from typing import Any

import numpy as np

from biograd.viz.palette import BLUE, GREEN, ORANGE, line_style

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;max-width:1100px;
margin:0 auto;padding:24px 32px;line-height:1.45;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:2px solid #0072B2;
padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
.sub{color:#555;margin:0 0 16px}.cards{display:flex;gap:14px;flex-wrap:wrap;margin:12px 0}
.card{flex:1 1 200px;border:1px solid #d0d7de;border-radius:8px;padding:12px 14px;background:#f6f8fa}
.card .big{font-size:26px;font-weight:600}.card .label{color:#555;font-size:13px}
.verdict{border-left:5px solid #0072B2;background:#eef5fb;padding:10px 14px;margin:12px 0;border-radius:4px}
.verdict.bad{border-color:#D55E00;background:#fdf1ea}.verdict.good{border-color:#009E73;background:#eaf7f2}
.banner{background:#D55E00;color:#fff;padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
table{border-collapse:collapse;margin:8px 0 12px;font-size:14px}th,td{border:1px solid #d0d7de;
padding:5px 10px;text-align:left}th{background:#f0f3f6}td.num{text-align:right;font-variant-numeric:
tabular-nums}tr.best td{font-weight:600}tr.net td{background:#eef5fb}
tr.unstable td{color:#555;font-style:italic}
img{max-width:100%;height:auto}.figs{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.figs>div{flex:1 1 420px}.note{color:#555;font-size:13px}code,pre{background:#f6f8fa;border-radius:4px;
padding:2px 5px;font-size:13px}pre{padding:10px;white-space:pre-wrap;word-break:break-all}
.seq{font-family:Menlo,Consolas,monospace}
"""


# ==================================================================================================
# Small helpers
# ==================================================================================================


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "n/a"
        return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return _esc(value)


def _table(header: list[str], rows: list[list[Any]], row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = "".join(
            f'<td class="num">{_fmt(c)}</td>'
            if isinstance(c, (int, float, np.number)) or c is None
            else f"<td>{c}</td>"
            for c in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {"font.size": 10, "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 110}
    )
    return plt


def _png(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    _plt().close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


# ==================================================================================================
# Figures
# ==================================================================================================


def figure_class_balance(names: list[str], counts: list[int]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.45 * len(names)))
    y = np.arange(len(names))
    ax.barh(y, counts, color=[line_style(i)[0] for i in range(len(names))], edgecolor="black")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    total = sum(counts)
    for i, c in enumerate(counts):
        ax.text(c, i, f"  {c} ({100 * c / total:.0f}%)", va="center")
    ax.set_xlabel("samples")
    ax.set_title("Class balance (all samples)")
    ax.set_xlim(0, max(counts) * 1.35)
    return _png(fig, "class balance")


def figure_target_histogram(values: np.ndarray, name: str) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.hist(values, bins=30, color=BLUE, edgecolor="black")
    ax.set_xlabel(f"{name} (target units)")
    ax.set_ylabel("samples")
    ax.set_title(f"Distribution of the target {name!r}")
    return _png(fig, "target histogram")


def figure_curves(history: Any, metric: str | None) -> str:
    """Loss (and the metric) per epoch, training vs validation, best epoch and stop marked: the same
    figure as :func:`biograd.viz.loss_curves`."""
    from biograd.viz.plots import loss_curves

    return _png(loss_curves(history, title="Learning curves", metric=metric), "training curves")


def figure_confusion(matrix: list[list[int]], names: list[str]) -> str:
    plt = _plt()
    cm = np.asarray(matrix)
    k = len(names)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k, 1.3 + 0.8 * k))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=30 if k > 2 else 0, ha="right" if k > 2 else "center")
    ax.set_yticks(range(k), names)
    for i in range(k):
        for j in range(k):
            dark = cm[i, j] > cm.max() / 2
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize=12,
                fontweight="bold",
            )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (test set)")
    ax.spines[:].set_visible(False)
    return _png(fig, "confusion matrix")


def figure_roc_pr(y_true: np.ndarray, proba: np.ndarray, names: list[str]) -> str:
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    k = len(names)
    classes = [1] if k == 2 else list(range(k))
    for n, c in enumerate(classes):
        truth = (y_true == c).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = roc_curve(truth, proba[:, c])
        prec, rec, _ = precision_recall_curve(truth, proba[:, c])
        label = names[c] if k > 2 else f"{names[1]} vs {names[0]}"
        color, ls, _ = line_style(n)
        ax1.plot(fpr, tpr, color=color, ls=ls, lw=2, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
        ax2.plot(rec, prec, color=color, ls=ls, lw=2, label=label)
        ax2.axhline(truth.mean(), color=color, lw=0.8, ls=":")
    ax1.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="chance")
    ax1.set_xlabel("false positive rate (1 - specificity)")
    ax1.set_ylabel("true positive rate (sensitivity)")
    ax1.set_title("ROC curve (test set)" + (", one vs rest" if k > 2 else ""))
    ax1.legend(frameon=False, fontsize=8, loc="lower right")
    ax2.set_xlabel("recall (sensitivity)")
    ax2.set_ylabel("precision")
    ax2.set_ylim(0, 1.02)
    ax2.set_title("Precision-recall (dotted: chance level)")
    ax2.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    return _png(fig, "ROC and precision-recall curves")


def figure_pred_vs_true(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> str:
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax1.scatter(y_true, y_pred, s=18, color=BLUE, edgecolor="black", linewidth=0.3, alpha=0.8)
    ax1.plot([lo, hi], [lo, hi], color=ORANGE, ls="--", label="perfect prediction")
    ax1.set_xlabel(f"true {name}")
    ax1.set_ylabel(f"predicted {name}")
    ax1.set_title("Predicted vs true (test set)")
    ax1.legend(frameon=False)
    ax2.scatter(y_true, y_pred - y_true, s=18, color=GREEN, edgecolor="black", linewidth=0.3)
    ax2.axhline(0, color="grey", ls=":")
    ax2.set_xlabel(f"true {name}")
    ax2.set_ylabel("error (predicted - true)")
    ax2.set_title("Errors (test set)")
    fig.tight_layout()
    return _png(fig, "predicted vs true")


def figure_feature_ranking(ranking: Any, class_name: str | None, top: int = 20) -> str:
    """Bars of mean |attribution|; with one direction (``class_name``), filled for features whose higher
    values push towards it and hatched for away (per-class directions: plain bars)."""
    plt = _plt()
    shown = ranking.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.3 * len(shown)))
    if class_name is None:
        ax.barh(shown["feature"].astype(str), shown["mean_abs_attribution"], color=BLUE, edgecolor="black")
        ax.set_xlabel("mean |integrated gradients| over test samples (logit units)")
        ax.set_title(f"Top {len(shown)} features")
        return _png(fig, "feature ranking")
    up = shown["direction"].to_numpy() >= 0
    colors = np.where(up, ORANGE, BLUE)
    bars = ax.barh(
        shown["feature"].astype(str), shown["mean_abs_attribution"], color=colors, edgecolor="black"
    )
    for bar, u in zip(bars, up, strict=True):
        bar.set_hatch("" if u else "//")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(facecolor=ORANGE, edgecolor="black", label=f"higher values -> {class_name}"),
            Patch(
                facecolor=BLUE,
                edgecolor="black",
                hatch="//",
                label=f"higher values -> away from {class_name}",
            ),
        ],
        frameon=False,
        fontsize=8,
        loc="lower right",
    )
    ax.set_xlabel("mean |integrated gradients| over test samples (logit units)")
    ax.set_title(f"Top {len(shown)} features")
    return _png(fig, "feature ranking")


def figure_sequence_map(found: Any, group: Any, alphabet: str) -> str:
    """Per-position importance of a group's top sequences as a heatmap, with each sequence's letters."""
    plt = _plt()
    top = group.top
    pos = found.positions[top]
    seqs = group.top_sequences
    length = pos.shape[1]
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.2 * length), 0.8 + 0.42 * len(top)))
    vmax = float(np.abs(pos).max()) or 1.0
    im = ax.imshow(pos, cmap="PuOr_r", vmin=-vmax, vmax=vmax, aspect="auto")
    if length <= 80:
        for r, seq in enumerate(seqs):
            for c, letter in enumerate(seq[:length]):
                ax.text(c, r, letter, ha="center", va="center", fontsize=7, family="monospace")
    ax.set_yticks(range(len(top)), [str(i) for i in group.top_ids])
    ax.set_xlabel("position in the sequence")
    towards = f"'{group.class_name}'" if group.class_name is not None else "a higher prediction"
    ax.set_title(f"Integrated gradients per position (orange: pushes towards {towards})")
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01, label="attribution")
    ax.spines[:].set_visible(False)
    return _png(fig, "sequence attribution map")


def figure_ism(ism: np.ndarray, alphabet: str, seq: str, seq_id: str, towards: str | None = None) -> str:
    plt = _plt()
    a, length = ism.shape
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.2 * length), 0.9 + 0.28 * a))
    vmax = float(np.abs(ism).max()) or 1.0
    im = ax.imshow(ism, cmap="RdBu", vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_yticks(range(a), list(alphabet))
    if length <= 80:
        ax.set_xticks(range(length), list(seq[:length].ljust(length, "-")), fontsize=7, family="monospace")
        ax.set_xlabel(f"sequence {seq_id} (the original letter at each position; - = padding)")
    else:
        ax.set_xlabel(f"position in sequence {seq_id}")
    ax.set_ylabel("substituted letter")
    what = f"score of '{towards}'" if towards is not None else "prediction"
    ax.set_title(f"In-silico mutagenesis: change in the {what} for every single substitution (red: lower)")
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01, label="change in score")
    ax.spines[:].set_visible(False)
    return _png(fig, "in-silico mutagenesis")


MAX_DIAGRAM_INPUTS = 64  # wider inputs make a neuron diagram an unreadable smear: boxes instead


def figure_network(prepared: Any) -> str:
    """The network: every neuron and weight (:func:`biograd.viz.network`) for an MLP small enough to
    read, a chain of layer boxes (:func:`biograd.viz.network.layer_chain`) otherwise (convolutional
    networks, or very wide inputs)."""
    from biograd.viz.network import dense_layers, layer_chain, network, one_network

    model = prepared.model
    try:
        if dense_layers(one_network(model)[0])[0].weight.shape[1] > MAX_DIAGRAM_INPUTS:
            raise ValueError("too many inputs to draw neuron by neuron")
        picture = network(model, title="The trained network and its weights")
    except (TypeError, ValueError):  # e.g. a Conv1d, which the neuron diagram does not draw
        x = prepared.x
        what = f"{x.shape[1]} x {x.shape[2]}" if x.ndim == 3 else f"{x.shape[1]} features"
        picture = layer_chain(model, what)
    return f'<div class="svg">{picture.svg}</div>'


# ==================================================================================================
# The page
# ==================================================================================================


def _section_summary(result: Any) -> str:
    p = result.prepared
    task = p.data.task
    metric, value = result.comparison["metric_label"], result.comparison["network"]
    diag = result.diagnosis
    key_ci = _interval_text(result.test_ci.get(result.comparison["metric"]))
    samples = result.evaluation.get("samples", len(p.test_idx))
    cards = [
        (f"{_fmt(value)}", f"test {metric} of the network{key_ci}"),
        (
            _fmt(result.comparison["best_baseline_value"]),
            f"test {metric}, best baseline ({_esc(result.comparison['best_baseline'] or 'n/a')})",
        ),
        (_esc(diag.verdict), "diagnosis of the learning curves"),
        (
            f"{samples}",
            "samples predicted out of fold (by networks that never saw them)"
            if p.folds
            else "held-out test samples (never seen in training)",
        ),
    ]
    if task == "classification":
        cards.insert(1, (_fmt(result.test_metrics["balanced_accuracy"]), "test balanced accuracy"))
    else:
        cards.insert(
            1, (_fmt(result.test_metrics["mae"]), f"test mean absolute error ({_esc(p.data.target_name)})")
        )
    beats = result.comparison["network_beats_baseline"]
    cls = "good" if beats else ("bad" if beats is False else "")
    html_cards = "".join(
        f'<div class="card"><div class="big">{v}</div><div class="label">{label}</div></div>'
        for v, label in cards
    )
    return (
        f'<div class="cards">{html_cards}</div>'
        f"<p>Evaluation: {_esc(result.scheme_text)}.</p>"
        f'<div class="verdict {cls}">{_esc(result.comparison["sentence"])}</div>' + _small_sample_html(result)
    )


def _interval_text(interval: Any) -> str:
    """ " (95% interval 0.871 to 0.948)" for a card label, or "" without an interval."""
    if not interval:
        return ""
    return f" (95% interval {_fmt(interval[0])} to {_fmt(interval[1])})"


def _small_sample_html(result: Any) -> str:
    if not result.small_sample:
        return ""
    return f'<div class="verdict bad">{_esc(result.small_sample)}</div>'


def _with_ci(value: Any, interval: Any) -> str:
    """ "0.912 [0.871, 0.948]" (escaped text for a table cell)."""
    from biograd.stats import format_interval

    if value is None:
        return "n/a"
    return _esc(format_interval(float(value), interval))


def _section_data(result: Any) -> str:
    p = result.prepared
    d = p.data
    rows = [
        ["source", _esc(d.source)],
        ["kind", "one-hot " + d.kind.upper() + " sequences" if d.is_sequence else "table"],
        ["samples", d.n_samples],
        [
            "network inputs",
            f"{p.x.shape[1]} letters x {p.x.shape[2]} positions"
            if d.is_sequence
            else f"{len(p.feature_names)} features (from {d.features.shape[1]} columns)",
        ],
        ["target", _esc(d.target_name) + f" ({d.task})"],
        _split_row(result),
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
                + _esc(", ".join(always[:30]) + (" ..." if len(always) > 30 else "") or "none"),
            ]
        )
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
    out = f"<p>{_esc(d.description)}</p>" + _table(["property", "value"], rows)
    if d.task == "classification":
        counts = d.class_counts()
        out += figure_class_balance(list(counts), list(counts.values()))
    else:
        out += figure_target_histogram(d.y, d.target_name)
    return out


def _split_row(result: Any) -> list[str]:
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
        _esc(result.scheme_text)
        + f"{stratified}. Each fold: about {f['train']} training / {f['validation']} validation (early "
        f"stopping) / {f['test']} test samples; the saved model is the committee of the "
        f"{len(result.fold_summaries)} fold networks",
    ]


def _section_network(result: Any) -> str:
    p = result.prepared
    return (
        f"<p><b>{_esc(p.architecture)}</b>: {_esc(p.why)}. "
        f"<b>{p.n_parameters:,}</b> trainable parameters (weights and biases).</p>"
        + figure_network(p)
        + f"<p class='note'>Loss: {_esc(result.history.params.get('loss', ''))}"
        + (
            " on the standardized target (the model was rescaled to the target's units afterwards)"
            if p.data.task == "regression"
            else ""
        )
        + f". Optimizer {_esc(p.config.optimizer)}, learning rate {p.lr:g}, batch size {p.config.batch_size}"
        + (f", weight decay {p.config.weight_decay:g}" if p.config.weight_decay else "")
        + (f", dropout {p.config.dropout:g}" if p.config.dropout else "")
        + ".</p>"
    )


def _section_training(result: Any) -> str:
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
    curves = figure_curves(h, metric) if h.epochs else "<p>No epoch finished.</p>"
    which = ""
    if result.fold_summaries:
        epochs = ", ".join(str(f["epochs"]) for f in result.fold_summaries)
        which = (
            f"<p>The curves are those of the first fold's network (of {len(result.fold_summaries)}); "
            f"epochs run per fold: {epochs}.</p>"
        )
    return (
        f"{which}<p>Training {reason}.{restored}</p>{curves}"
        f'<div class="verdict {cls}"><b>Diagnosis: {_esc(diag.verdict)}.</b> {_esc(diag.explanation)}'
        + (f"<br><b>Advice:</b> {_esc(diag.advice)}" if diag.advice else "")
        + "</div>"
    )


def _section_test(result: Any) -> str:
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
        return (
            _test_intro(result)
            + _table(["metric", "value [95% interval]", "meaning"], _ci_rows(result, rows))
            + _external_html(result)
            + '<div class="figs"><div>'
            + figure_confusion(m["confusion_matrix"], names)
            + "</div></div>"
            + figure_roc_pr(out["y_true"], out["proba"], names)
        )
    rows = [
        ["R^2", "r2", "share of the target's variance explained (1 perfect, 0 = predicting the mean)"],
        ["MAE", "mae", f"mean absolute error, in units of {_esc(p.data.target_name)}"],
        ["RMSE", "rmse", "root mean squared error (large errors weigh more)"],
        ["Pearson r", "pearson_r", "correlation of predicted with true values"],
    ]
    return (
        _test_intro(result)
        + _table(["metric", "value [95% interval]", "meaning"], _ci_rows(result, rows))
        + _external_html(result)
    ) + figure_pred_vs_true(out["y_true"], out["y_pred"], p.data.target_name)


def _test_intro(result: Any) -> str:
    samples = result.evaluation.get("samples", len(result.prepared.test_idx))
    where = (
        f"the out-of-fold predictions of all {samples} samples ({_esc(result.scheme_text)})"
        if result.prepared.folds
        else f"{samples} held-out test samples, never used in training"
    )
    return (
        f"<p>Computed on {where}. The interval in brackets is a 95% bootstrap interval: resampling the "
        "samples (within each class) 2,000 times, the figure stayed in that range 95% of the time. A wide "
        "interval means the data cannot pin the figure down.</p>" + _small_sample_html(result)
    )


def _ci_rows(result: Any, rows: list[list[str]]) -> list[list[str]]:
    """(name, metric key, meaning) -> (name, "value [low, high]", meaning)."""
    m, ci = result.test_metrics, result.test_ci
    return [[name, _with_ci(m.get(key), ci.get(key)), meaning] for name, key, meaning in rows]


def _external_html(result: Any) -> str:
    ext = result.external_test
    if not ext:
        return ""
    keys = (
        ["accuracy", "balanced_accuracy", "roc_auc", "pr_auc"]
        if result.prepared.data.task == "classification"
        else ["r2", "mae", "rmse", "pearson_r"]
    )
    row = [_with_ci(ext["metrics"].get(k), ext["ci"].get(k)) for k in keys]
    note = (
        f'<div class="verdict bad">{_esc(ext["small_sample_warning"])}</div>'
        if ext["small_sample_warning"]
        else ""
    )
    return (
        f"<h3>External test set</h3><p>{_esc(ext['source'])}: {ext['samples']} samples scored once by the "
        "saved model. They influenced neither training nor any choice, so these are the figures to quote "
        "for new samples like them.</p>" + _table(["data", *keys], [["external test set", *row]]) + note
    )


def _section_baselines(result: Any) -> str:
    task = result.prepared.data.task
    if task == "classification":
        header = ["model", "accuracy", "balanced accuracy", "ROC AUC", "PR AUC"]
        keys = ["accuracy", "balanced_accuracy", "roc_auc", "pr_auc"]
    else:
        header = ["model", "R^2", "MAE", "RMSE"]
        keys = ["r2", "mae", "rmse"]
    rows = [["<b>biograd network</b>", *[result.test_metrics.get(k) for k in keys]]]
    classes = ["net"]
    best = result.comparison["best_baseline"]
    for name, values in result.baselines.items():
        rows.append([_esc(name), *[values.get(k) for k in keys]])
        classes.append("best" if name == best else "")
    seq = (
        " Sequences are given to them as flattened one-hot vectors."
        if result.prepared.data.is_sequence
        else ""
    )
    return (
        "<p>Classical models from scikit-learn, trained on the same rows and scored on the same samples"
        + (" (the same folds; out-of-fold predictions)" if result.prepared.folds else "")
        + f".{seq} The verdict compares the network with the best of them on the same samples: the "
        "difference of the key figure with its 95% bootstrap interval; only an interval entirely above zero "
        "says the network is better. If a simple model does as well, prefer it: it is faster, and easier to "
        "explain.</p>"
        + _table(header, rows, classes)
        + f'<div class="verdict {"good" if result.comparison["network_beats_baseline"] else "bad"}">'
        f"{_esc(result.comparison['sentence'])}</div>"
    )


def _section_importance(result: Any) -> str:
    p = result.prepared
    imp = result.importance
    if imp is None:
        return "<p>Not computed.</p>"
    if not p.data.is_sequence:
        return _table_importance(result, imp)
    from biograd.bio.sequences import ALPHABETS

    alphabet = ALPHABETS[p.data.kind]
    parts = [
        "<p>Integrated gradients (baseline: an empty sequence) on the correctly predicted test sequences. "
        "Each sequence is explained towards the class it is predicted as: a positive attribution pushes "
        f"towards that class. Each sequence's most important {imp.window}-letter window is listed; "
        "sequences are grouped by predicted class, the most confident first. This shows what the "
        "<i>network</i> uses, which is not proof of biological cause.</p>"
    ]
    if imp.members > 1:
        parts.append(
            f"<p>The model is a committee of {imp.members} networks: the attributions and the in-silico "
            "mutagenesis are each member's, averaged over the members.</p>"
        )
    for group in imp.groups:
        name = group.class_name
        title = (
            f"Sequences predicted as {_esc(name)} ({group.n})"
            if name is not None
            else f"The sequences with the highest predicted {_esc(p.data.target_name)}"
        )
        parts.append(f"<h3>{title}</h3>")
        if not group.n:
            parts.append("<p>None.</p>")
            continue
        sites = group.sites[:12]
        rows = [
            [
                _esc(s["id"]),
                *([float(s["probability"])] if name is not None else []),
                float(s["score"]),
                f"{s['start']}-{s['end']}",
                f'<span class="seq">{_esc(s["site"])}</span>',
                float(s["site_attribution"]),
            ]
            for s in sites
        ]
        common = group.common_sites()
        if common:
            parts.append(
                "<p>Most frequent top sites (a candidate motif): "
                + ", ".join(f'<span class="seq">{_esc(k)}</span> ({n}x)' for k, n in common)
                + "</p>"
            )
        parts.append(figure_sequence_map(imp, group, alphabet))
        header = ["sequence", *([f"P({_esc(name)})"] if name is not None else []), "score", "top site"]
        parts.append(_table([*header, "site", "site attribution"], rows))
        if group.ism is not None:
            parts.append(figure_ism(group.ism, alphabet, group.top_sequences[0], group.top_ids[0], name))
    return "".join(parts)


def _table_importance(result: Any, imp: Any) -> str:
    p = result.prepared
    ranking = imp.ranking
    head = ranking.head(20)
    towards = imp.towards
    per_class = imp.direction_columns
    if per_class:
        scored = "each sample's predicted class's logit"
    elif towards is not None:
        scored = f"the log-odds of {_esc(towards)}"
    else:
        scored = f"the predicted {_esc(p.data.target_name)}"
        towards = f"a higher {p.data.target_name}"
    from biograd.explain.predictions import STABILITY_TOP, UNSTABLE_BELOW, UNSTABLE_TEXT

    committee = "stability" in ranking.columns
    rows, classes = [], []
    for _, r in head.iterrows():
        if committee and imp.is_unstable(r["feature"]):
            effect = f"<b>{UNSTABLE_TEXT}</b>"
        elif per_class:
            best = max(per_class, key=lambda c: r[c])
            effect = _direction(float(r[best]), best[len("direction_") :], "most towards")
        else:
            effect = _direction(float(r["direction"]), towards)
        stability = [float(r["stability"])] if committee else []
        rows.append(
            [int(r["rank"]), _esc(r["feature"]), float(r["mean_abs_attribution"]), *stability, effect]
        )
        classes.append("unstable" if committee and imp.is_unstable(r["feature"]) else "")
    used = imp.used("test samples")
    note = ""
    if committee:
        note = (
            f"<p>The model is a committee of {imp.members} networks: each member is explained and the "
            "attributions are averaged. <i>Stability</i> is the share of members that rank the feature "
            f"among their top {STABILITY_TOP}; below {UNSTABLE_BELOW} the members disagree about it, and it "
            f"is marked <b>{UNSTABLE_TEXT}</b>: another training run could rank it anywhere.</p>"
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
    return (
        f"<p>Integrated gradients on {used}: how much each input moved {scored} away from that of an "
        "average sample. Features are ranked by the mean absolute attribution. The effect of higher "
        "values is the correlation, across samples, between a feature's value and its attribution"
        + (" to each class's logit (the class it raises most is named)" if per_class else "")
        + ". This shows what the <i>network</i> uses, which is not proof of biological cause.</p>"
        + note
        + figure_feature_ranking(ranking, None if per_class else towards)
        + _table(header, rows, classes if committee else None)
    )


def _direction(corr: float, towards: str, word: str | None = None) -> str:
    strength = "strongly " if abs(corr) > 0.7 else ("" if abs(corr) > 0.3 else "weakly / mixed: ")
    arrow = word or ("towards" if corr >= 0 else "away from")
    return f"{strength}{arrow} {_esc(towards)} (r = {corr:+.2f})"


def _section_reproducibility(result: Any) -> str:
    p = result.prepared
    cfg = p.config.as_dict()
    cfg["lr"] = p.lr
    if cfg.get("hidden") is None:
        cfg["hidden"] = "default"
    cfg_rows = [[_esc(k), _esc(v)] for k, v in cfg.items()]
    versions = ", ".join(f"{_esc(k)} {_esc(v)}" for k, v in result.versions.items())
    return (
        f"<p>Command:</p><pre>{_esc(result.command or '(called from Python)')}</pre>"
        f"<p>Seed <b>{p.config.seed}</b> fixes the split, the starting weights, the shuffling and dropout: "
        f"the same command on the same data gives the same network. Training took {result.seconds:.1f} s.</p>"
        f"<p>Versions: {versions}.</p>" + _table(["setting", "value"], cfg_rows)
    )


def render_report(result: Any) -> str:
    """The whole report as one HTML string (figures embedded; no external resources)."""
    p = result.prepared
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = f"biograd: {p.data.name} ({p.data.task})"
    banner = (
        '<div class="banner">INTERRUPTED: training was stopped with Ctrl-C. The model holds the best '
        "weights seen so far; the numbers below describe that model.</div>"
        if result.interrupted
        else ""
    )
    warnings_html = (
        "<h3>Warnings</h3><ul>" + "".join(f"<li>{_esc(w)}</li>" for w in result.warnings) + "</ul>"
        if result.warnings
        else ""
    )
    sections = [
        ("At a glance", _section_summary(result) + warnings_html),
        ("1. The data", _section_data(result)),
        ("2. The network", _section_network(result)),
        ("3. Training", _section_training(result)),
        ("4. Test results", _section_test(result)),
        ("5. Network vs classical baselines", _section_baselines(result)),
        ("6. What drove the predictions", _section_importance(result)),
        ("7. Reproducibility", _section_reproducibility(result)),
    ]
    body = "".join(f"<h2>{_esc(t)}</h2>{content}" for t, content in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1><p class='sub'>{_esc(p.architecture)} &middot; {when} &middot; "
        f"stop reason: {_esc(result.history.stop_reason)}</p>{banner}{body}"
        "<p class='note'>Written by biograd. Everything on this page (figures included) is in this one "
        "file.</p></body></html>"
    )
