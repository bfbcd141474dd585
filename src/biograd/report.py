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
import io
from typing import Any

import numpy as np

from biograd.viz.markup import Markup, escape, html, join
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


#: Every value shown on the page is escaped through biograd.viz.markup (the one escaping path).
_esc = escape


def _fmt(value: Any, digits: int = 3) -> Markup:
    if value is None:
        return Markup("n/a")
    if isinstance(value, (int, np.integer)):
        return escape(f"{int(value):,}")
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return Markup("n/a")
        return escape(f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:,.0f}")
    return _esc(value)


def _table(header: list[str], rows: list[list[Any]], row_classes: list[str] | None = None) -> Markup:
    """A table; numbers are formatted, every other cell escaped unless it is Markup."""
    head = join(html("<th>{}</th>", h) for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = html(' class="{}"', row_classes[i]) if row_classes and row_classes[i] else Markup("")
        cells = join(
            html('<td class="num">{}</td>', _fmt(c))
            if isinstance(c, (int, float, np.number)) or c is None
            else html("<td>{}</td>", c)
            for c in row
        )
        body.append(html("<tr{}>{}</tr>", cls, cells))
    return html("<table><tr>{}</tr>{}</table>", head, join(body))


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
    return html('<img alt="{}" src="data:image/png;base64,{}">', alt, data)


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


#: A class with fewer test samples than this gets its curve marked "(only n test samples)".
FEW_TEST_SAMPLES = 5


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
        if int(truth.sum()) < FEW_TEST_SAMPLES:  # a curve through a handful of points: say so
            label += f" (only {int(truth.sum())} test samples)"
        color, ls, _ = line_style(n)
        ax1.plot(fpr, tpr, color=color, ls=ls, lw=2, label=f"{label} (AUC {auc(fpr, tpr):.3f})")
        ax2.plot(rec, prec, color=color, ls=ls, lw=2, label=label)
        ax2.axhline(truth.mean(), color=color, lw=0.8, ls=":")
    ax1.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="chance")
    ax1.set_xlabel("false positive rate (1 - specificity)")
    ax1.set_ylabel("true positive rate (sensitivity)")
    ax1.set_title("ROC curve (test set)" + (", one vs rest" if k > 2 else ""))
    outside = k > 4  # many classes: legends beside the axes, never over the curves
    legend_at: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if outside else {}
    ax1.legend(frameon=False, fontsize=8, **(legend_at or {"loc": "lower right"}))
    ax2.set_xlabel("recall (sensitivity)")
    ax2.set_ylabel("precision")
    ax2.set_ylim(0, 1.02)
    ax2.set_title("Precision-recall (dotted: chance level)")
    ax2.legend(frameon=False, fontsize=8, **(legend_at or {"loc": "lower left"}))
    if outside:
        fig.set_size_inches(14, 4.2)
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


def figure_feature_ranking(
    ranking: Any, class_name: str | None, top: int = 20, units: str = "logit units"
) -> str:
    """Bars of mean |attribution|; with one direction (``class_name``), filled for features whose higher
    values push towards it and hatched for away (per-class directions: plain bars). ``units``: what an
    attribution is measured in (logit units for classes; the target's units for regression, since the
    saved network predicts in them)."""
    plt = _plt()
    shown = ranking.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.3 * len(shown)))
    if class_name is None:
        ax.barh(shown["feature"].astype(str), shown["mean_abs_attribution"], color=BLUE, edgecolor="black")
        ax.set_xlabel(f"mean |integrated gradients| over test samples ({units})")
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
    ax.set_xlabel(f"mean |integrated gradients| over test samples ({units})")
    ax.set_title(f"Top {len(shown)} features")
    return _png(fig, "feature ranking")


def figure_sequence_map(found: Any, group: Any, alphabet: str) -> str:
    """Per-position importance of a group's top sequences as a heatmap, with each sequence's letters."""
    plt = _plt()
    top = group.top
    seqs = group.top_sequences
    own = found.lengths[top] if found.lengths is not None else np.full(len(top), found.positions.shape[1])
    length = int(own.max())  # as wide as the longest sequence shown, not the padded length
    pos = np.ma.masked_where(np.arange(length)[None, :] >= own[:, None], found.positions[top][:, :length])
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.2 * length), 0.8 + 0.42 * len(top)))
    vmax = float(np.abs(pos).max() or 0.0) or 1.0
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
        ax.set_xlabel(f"sequence {seq_id} (the original letter at each position)")
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
        n_inputs = dense_layers(one_network(model)[0])[0].weight.shape[1]
        if n_inputs > MAX_DIAGRAM_INPUTS:
            raise ValueError("too many inputs to draw neuron by neuron")
        names = prepared.feature_names if len(prepared.feature_names) == n_inputs else None  # else: selected
        picture = network(
            model,
            title="The trained network and its weights (each layer on its own scale)",
            input_names=names,
            per_layer_scale=True,
        )
    except (TypeError, ValueError):  # e.g. a Conv1d, which the neuron diagram does not draw
        x = prepared.x
        what = f"{x.shape[1]} x {x.shape[2]}" if x.ndim == 3 else f"{x.shape[1]} features"
        picture = layer_chain(model, what)
    return html('<div class="svg">{}</div>', Markup(picture.svg))  # built by viz._draw, escaped there


# ==================================================================================================
# The page
# ==================================================================================================


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


def render_report(result: Any) -> str:
    """The whole report as one HTML string (figures embedded; no external resources). Every value from
    the data (names, labels, IDs, paths) reaches the page through :mod:`biograd.viz.markup`."""
    p = result.prepared
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    title = f"biograd: {p.data.name} ({p.data.task})"
    banner = (
        Markup(
            '<div class="banner">INTERRUPTED: training was stopped with Ctrl-C. The model holds the best '
            "weights seen so far; the numbers below describe that model.</div>"
        )
        if result.interrupted
        else Markup("")
    )
    warnings_html = (
        html("<h3>Warnings</h3><ul>{}</ul>", join(html("<li>{}</li>", w) for w in result.warnings))
        if result.warnings
        else Markup("")
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
    body = join(html("<h2>{}</h2>{}", t, content) for t, content in sections)
    page = html(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>{}</style>'
        "</head><body><h1>{}</h1><p class='sub'>{} &middot; {} &middot; stop reason: {}</p>{}{}"
        "<p class='note'>Written by biograd. Everything on this page (figures included) is in this one "
        "file.</p></body></html>",
        title,
        Markup(CSS),
        title,
        p.architecture,
        when,
        result.history.stop_reason,
        banner,
        body,
    )
    return str(page)
