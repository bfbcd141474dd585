"""report.html: one self-contained page about a training run, for a lab meeting.

Every figure is drawn with matplotlib (Agg backend, imported lazily) and embedded as a base64 PNG, so the
file has no external links: it can be mailed, archived or opened offline. Sections, in reading order:
the verdict at a glance, the data, the network, training (curves and diagnosis), test results, the
comparison with classical baselines, what drove the predictions, and how to reproduce the run.

Colors come from :mod:`biograd.viz.palette` (Okabe-Ito, readable by color-blind readers), and lines also
differ by style, so the figures survive greyscale printing. The learning curves and the network are drawn
by :mod:`biograd.viz`, as in the notebooks.

Files: ``html`` (style sheet, formatted numbers, escaped tables), ``figures`` (one function per figure),
``sections`` (one function per section), ``importance`` (section 6, what drove the predictions); this
module puts the page together.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from biograd.report.figures import (
    figure_feature_ranking,
    figure_network,
    figure_roc_pr,
)
from biograd.report.html import CSS
from biograd.report.importance import _section_importance
from biograd.report.sections import (
    _section_baselines,
    _section_data,
    _section_network,
    _section_reproducibility,
    _section_summary,
    _section_test,
    _section_training,
)
from biograd.viz.markup import Markup, html, join

__all__ = ["figure_feature_ranking", "figure_network", "figure_roc_pr", "render_report"]


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
