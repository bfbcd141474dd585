"""The report's figures: matplotlib (Agg, imported lazily), each embedded as a base64 PNG."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from biograd.viz.markup import Markup, html
from biograd.viz.palette import BLUE, GREEN, ORANGE, line_style


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
    from biograd.viz.layers import dense_layers, one_network
    from biograd.viz.network import layer_chain, network

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
