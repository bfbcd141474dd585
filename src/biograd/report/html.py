"""The page's building blocks: its style sheet, numbers formatted for reading, escaped tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from biograd.viz.markup import Markup, escape, html, join

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
