"""A tiny scene of shapes drawn two ways: as SVG text (for the browser and Jupyter) and with matplotlib
(for PNG files and animation frames). No Graphviz, no browser needed to make a picture.

Colors come from :mod:`biograd.viz.palette` (Okabe-Ito, which reads for color-blind viewers); sign is
always shown twice: blue and solid for positive, orange and dashed for negative, so it survives greyscale
printing.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biograd.viz.palette import BLUE, GREEN, GREY, HIGHLIGHT, INK, ORANGE, PALE, SKY  # noqa: F401 - re-exported

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def _mix(color_a: str, color_b: str, t: float) -> str:
    """The color a fraction t of the way from color_a to color_b (hex strings)."""
    a = [int(color_a[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(color_b[i : i + 2], 16) for i in (1, 3, 5)]
    t = min(max(float(t), 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def signed_color(value: float, scale: float) -> str:
    """White at 0, darker blue for positive and darker orange for negative values (|value| / scale)."""
    if not np.isfinite(value) or scale <= 0:
        return "#ffffff"
    t = min(abs(value) / scale, 1.0) ** 0.7
    return _mix("#ffffff", BLUE if value >= 0 else ORANGE, t)


def text_color_on(fill: str) -> str:
    """Black or white text, whichever reads on the fill."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else INK


def fmt(value: Any, digits: int = 4) -> str:
    """A number as a biologist reads it: 4 significant digits, a real minus sign not needed in SVG."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    text = f"{v:.{digits}g}"
    return text


# --------------------------------------------------------------------------------------------------
# The scene
# --------------------------------------------------------------------------------------------------


@dataclass
class Shape:
    """One drawable element. ``kind`` is circle, line, rect, text or polygon; ``cls`` and ``data`` become
    the SVG's class and data-* attributes (tests count elements by class); ``title`` shows on hover."""

    kind: str
    geom: dict[str, float]
    fill: str = "none"
    stroke: str = "none"
    width: float = 1.0
    dash: str | None = None
    cls: str = ""
    title: str | None = None
    text: str = ""
    size: float = 12.0
    anchor: str = "middle"
    bold: bool = False
    italic: bool = False
    id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)
    opacity: float = 1.0


class Scene:
    """A canvas of ``width`` x ``height`` pixels holding shapes in drawing order."""

    def __init__(self, width: float, height: float, title: str = "") -> None:
        self.width = float(width)
        self.height = float(height)
        self.title = title
        self.shapes: list[Shape] = []

    def add(self, shape: Shape) -> Shape:
        self.shapes.append(shape)
        return shape

    def circle(self, x: float, y: float, r: float, **kw: Any) -> Shape:
        return self.add(Shape("circle", {"x": x, "y": y, "r": r}, **kw))

    def line(self, x1: float, y1: float, x2: float, y2: float, **kw: Any) -> Shape:
        return self.add(Shape("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2}, **kw))

    def rect(self, x: float, y: float, w: float, h: float, rx: float = 0.0, **kw: Any) -> Shape:
        return self.add(Shape("rect", {"x": x, "y": y, "w": w, "h": h, "rx": rx}, **kw))

    def text(self, x: float, y: float, text: str, **kw: Any) -> Shape:
        kw.setdefault("fill", INK)
        return self.add(Shape("text", {"x": x, "y": y}, text=text, **kw))

    def polygon(self, points: list[tuple[float, float]], **kw: Any) -> Shape:
        return self.add(Shape("polygon", {}, points=list(points), **kw))

    def arrow(self, x1: float, y1: float, x2: float, y2: float, color: str = GREY, **kw: Any) -> None:
        """A line with an arrowhead at (x2, y2)."""
        self.line(x1, y1, x2, y2, stroke=color, width=1.4, **kw)
        angle = math.atan2(y2 - y1, x2 - x1)
        size = 7.0
        left = (x2 - size * math.cos(angle - 0.4), y2 - size * math.sin(angle - 0.4))
        right = (x2 - size * math.cos(angle + 0.4), y2 - size * math.sin(angle + 0.4))
        self.polygon([(x2, y2), left, right], fill=color, cls="arrowhead")

    # -- SVG --------------------------------------------------------------------------------------
    def to_svg(self, css: str = "") -> str:
        """The scene as a standalone SVG document (text)."""
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width:.0f}" height="{self.height:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {self.height:.0f}" font-family="{FONT}" class="biograd-viz">',
        ]
        if self.title:
            parts.append(f"<title>{html.escape(self.title)}</title>")
        if css:
            parts.append(f"<style>{css}</style>")
        parts.append(
            f'<rect x="0" y="0" width="{self.width:.0f}" height="{self.height:.0f}" fill="#ffffff"/>'
        )
        parts.extend(_svg_shape(s) for s in self.shapes)
        parts.append("</svg>")
        return "\n".join(parts)

    # -- matplotlib -------------------------------------------------------------------------------
    def to_figure(self, dpi: float = 100.0):
        """The scene drawn with matplotlib (a Figure, not registered with pyplot)."""
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Circle, FancyBboxPatch, Polygon, Rectangle

        fig = Figure(figsize=(self.width / dpi, self.height / dpi), dpi=dpi)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)
        ax.set_axis_off()
        px = 72.0 / dpi  # one pixel in points
        for z, s in enumerate(self.shapes):
            g = s.geom
            dashes = _dash_pattern(s.dash)
            fill = None if s.fill == "none" else s.fill
            edge = "none" if s.stroke == "none" else s.stroke
            common = dict(zorder=z, alpha=s.opacity)
            if s.kind == "circle":
                patch = Circle((g["x"], g["y"]), g["r"], facecolor=fill or "none", edgecolor=edge, **common)
                patch.set_linewidth(s.width * px)
                if dashes:
                    patch.set_linestyle((0, dashes))
                ax.add_patch(patch)
            elif s.kind == "rect":
                if g.get("rx"):
                    patch = FancyBboxPatch(
                        (g["x"], g["y"]),
                        g["w"],
                        g["h"],
                        boxstyle=f"round,pad=0,rounding_size={g['rx']}",
                        facecolor=fill or "none",
                        edgecolor=edge,
                        **common,
                    )
                else:
                    patch = Rectangle(
                        (g["x"], g["y"]), g["w"], g["h"], facecolor=fill or "none", edgecolor=edge, **common
                    )
                patch.set_linewidth(s.width * px if edge != "none" else 0)
                if dashes:
                    patch.set_linestyle((0, dashes))
                ax.add_patch(patch)
            elif s.kind == "line":
                line = Line2D(
                    [g["x1"], g["x2"]],
                    [g["y1"], g["y2"]],
                    color=s.stroke,
                    linewidth=s.width * px,
                    solid_capstyle="butt",
                    **common,
                )
                if dashes:
                    line.set_dashes(dashes)
                ax.add_line(line)
            elif s.kind == "polygon":
                ax.add_patch(
                    Polygon(
                        s.points, closed=True, facecolor=fill or "none", edgecolor=edge, linewidth=0, **common
                    )
                )
            elif s.kind == "text":
                ha = {"middle": "center", "start": "left", "end": "right"}[s.anchor]
                for i, line_text in enumerate(s.text.split("\n")):
                    ax.text(
                        g["x"],
                        g["y"] + i * s.size * 1.25,
                        line_text,
                        ha=ha,
                        va="baseline",
                        fontsize=s.size * px,
                        color=s.fill,
                        fontweight="bold" if s.bold else "normal",
                        fontstyle="italic" if s.italic else "normal",
                        family="DejaVu Sans",
                        **common,
                    )
        return fig


def _dash_pattern(dash: str | None) -> list[float] | None:
    if not dash:
        return None
    return [float(v) for v in dash.replace(",", " ").split()]


def _attrs(s: Shape) -> str:
    out = []
    if s.id:
        out.append(f'id="{html.escape(s.id)}"')
    if s.cls:
        out.append(f'class="{html.escape(s.cls)}"')
    for key, value in s.data.items():
        text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        out.append(f'data-{key}="{html.escape(text)}"')
    if s.opacity != 1.0:
        out.append(f'opacity="{s.opacity:.3g}"')
    return " ".join(out)


def _svg_shape(s: Shape) -> str:
    g = s.geom
    attrs = _attrs(s)
    paint = f'fill="{s.fill}" stroke="{s.stroke}" stroke-width="{s.width:.3g}"'
    if s.dash:
        paint += f' stroke-dasharray="{s.dash}"'
    title = f"<title>{html.escape(s.title)}</title>" if s.title else ""
    if s.kind == "circle":
        tag = f'<circle cx="{g["x"]:.1f}" cy="{g["y"]:.1f}" r="{g["r"]:.1f}" {paint} {attrs}'
    elif s.kind == "line":
        tag = (
            f'<line x1="{g["x1"]:.1f}" y1="{g["y1"]:.1f}" x2="{g["x2"]:.1f}" y2="{g["y2"]:.1f}" '
            f'{paint} stroke-linecap="butt" {attrs}'
        )
    elif s.kind == "rect":
        tag = (
            f'<rect x="{g["x"]:.1f}" y="{g["y"]:.1f}" width="{g["w"]:.1f}" height="{g["h"]:.1f}" '
            f'rx="{g.get("rx", 0):.1f}" {paint} {attrs}'
        )
    elif s.kind == "polygon":
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in s.points)
        tag = f'<polygon points="{pts}" {paint} {attrs}'
    elif s.kind == "text":
        style = ' font-weight="bold"' if s.bold else ""
        style += ' font-style="italic"' if s.italic else ""
        lines = s.text.split("\n")
        if len(lines) == 1:
            body = html.escape(s.text)
        else:
            body = "".join(
                f'<tspan x="{g["x"]:.1f}" dy="{0 if i == 0 else s.size * 1.25:.1f}">{html.escape(t)}</tspan>'
                for i, t in enumerate(lines)
            )
        return (
            f'<text x="{g["x"]:.1f}" y="{g["y"]:.1f}" font-size="{s.size:.3g}" text-anchor="{s.anchor}" '
            f'fill="{s.fill}"{style} {attrs}>{title}{body}</text>'
        )
    else:  # pragma: no cover - shapes are built in this package only
        raise ValueError(f"unknown shape kind {s.kind!r}")
    return f"{tag}>{title}</{tag.split()[0][1:]}>" if title else f"{tag}/>"


# --------------------------------------------------------------------------------------------------
# The object users get back
# --------------------------------------------------------------------------------------------------


class Picture:
    """A diagram that shows itself in Jupyter and saves as ``.svg``, ``.png`` or ``.html``.

    ``picture.svg`` is the SVG text; ``picture.to_figure()`` the same drawing as a matplotlib Figure.
    """

    def __init__(self, scene: Scene, css: str = "") -> None:
        self.scene = scene
        self._css = css

    @property
    def svg(self) -> str:
        return self.scene.to_svg(self._css)

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_html_(self) -> str:
        return f'<div style="overflow:auto">{self.svg}</div>'

    def to_figure(self, dpi: float = 100.0):
        return self.scene.to_figure(dpi=dpi)

    def save(self, path: str | Path, dpi: float = 150.0) -> Path:
        """Write the picture: the file's suffix chooses the format (``.svg``, ``.png`` or ``.html``)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self.svg, encoding="utf-8")
        elif suffix in (".html", ".htm"):
            path.write_text(
                html_page(self.scene.title or "biograd picture", self._repr_html_()), encoding="utf-8"
            )
        elif suffix == ".png":
            self.scene.to_figure(dpi=100.0).savefig(path, dpi=dpi, facecolor="white")
        else:
            raise ValueError(
                f"Cannot save a picture as {path.name!r}: the file name must end in .svg, .png or .html."
            )
        return path

    def __repr__(self) -> str:
        return (
            f"<biograd.viz.Picture {self.scene.title!r} ({self.scene.width:.0f}x{self.scene.height:.0f} px)>"
        )


def html_page(title: str, body: str, css: str = "", script: str = "") -> str:
    """A self-contained HTML page (no external files or CDNs)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        f"<style>body{{font-family:{FONT};margin:16px;color:{INK}}}{css}</style></head>\n"
        f"<body>\n{body}\n{f'<script>{script}</script>' if script else ''}\n</body></html>\n"
    )
