"""A tiny scene of shapes drawn two ways: as SVG text (for the browser and Jupyter) and with matplotlib
(for PNG files and animation frames). No Graphviz, no browser needed to make a picture.

Colors come from :mod:`biograd.viz.palette` (Okabe-Ito, which reads for color-blind viewers); sign is
always shown twice: blue and solid for positive, orange and dashed for negative, so it survives greyscale
printing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biograd.viz.markup import Markup, escape, html, join
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
            html(
                '<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" '
                'viewBox="0 0 {0:.0f} {1:.0f}" font-family="{2}" class="biograd-viz">',
                self.width,
                self.height,
                FONT,
            )
        ]
        if self.title:
            parts.append(html("<title>{}</title>", self.title))
        if css:
            parts.append(html("<style>{}</style>", Markup(css)))  # CSS written in biograd's code
        parts.append(
            html('<rect x="0" y="0" width="{:.0f}" height="{:.0f}" fill="#ffffff"/>', self.width, self.height)
        )
        parts.extend(_svg_shape(s) for s in self.shapes)
        parts.append(Markup("</svg>"))
        return str(join(parts, "\n"))

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


def _attrs(s: Shape) -> Markup:
    out = []
    if s.id:
        out.append(html('id="{}"', s.id))
    if s.cls:
        out.append(html('class="{}"', s.cls))
    for key, value in s.data.items():
        text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
        out.append(html('data-{}="{}"', key, text))
    if s.opacity != 1.0:
        out.append(html('opacity="{:.3g}"', s.opacity))
    return join(out, " ")


def _svg_shape(s: Shape) -> Markup:
    """One shape as an SVG element; every text and attribute value escaped (viz.markup)."""
    g = s.geom
    attrs = _attrs(s)
    paint = html('fill="{}" stroke="{}" stroke-width="{:.3g}"', s.fill, s.stroke, s.width)
    if s.dash:
        paint += html(' stroke-dasharray="{}"', s.dash)
    title = html("<title>{}</title>", s.title) if s.title else Markup("")
    if s.kind == "circle":
        name = "circle"
        tag = html('<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" {} {}', g["x"], g["y"], g["r"], paint, attrs)
    elif s.kind == "line":
        name = "line"
        tag = html(
            '<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" {} stroke-linecap="butt" {}',
            g["x1"],
            g["y1"],
            g["x2"],
            g["y2"],
            paint,
            attrs,
        )
    elif s.kind == "rect":
        name = "rect"
        tag = html(
            '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" rx="{:.1f}" {} {}',
            g["x"],
            g["y"],
            g["w"],
            g["h"],
            g.get("rx", 0),
            paint,
            attrs,
        )
    elif s.kind == "polygon":
        name = "polygon"
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in s.points)
        tag = html('<polygon points="{}" {} {}', points, paint, attrs)
    elif s.kind == "text":
        style = Markup(' font-weight="bold"' if s.bold else "")
        style += Markup(' font-style="italic"' if s.italic else "")
        lines = s.text.split("\n")
        if len(lines) == 1:
            body = escape(s.text)
        else:
            body = join(
                html('<tspan x="{:.1f}" dy="{:.1f}">{}</tspan>', g["x"], 0 if i == 0 else s.size * 1.25, t)
                for i, t in enumerate(lines)
            )
        return html(
            '<text x="{:.1f}" y="{:.1f}" font-size="{:.3g}" text-anchor="{}" fill="{}"{} {}>{}{}</text>',
            g["x"],
            g["y"],
            s.size,
            s.anchor,
            s.fill,
            style,
            attrs,
            title,
            body,
        )
    else:  # pragma: no cover - shapes are built in this package only
        raise ValueError(f"unknown shape kind {s.kind!r}")
    return html("{}>{}</{}>", tag, title, Markup(name)) if title else tag + Markup("/>")


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
        return str(html('<div style="overflow:auto">{}</div>', Markup(self.svg)))  # escaped when drawn

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
    """A self-contained HTML page (no external files or CDNs). ``title`` is text (escaped); ``body``,
    ``css`` and ``script`` are markup and code built by biograd (through :mod:`biograd.viz.markup`)."""
    return str(
        html(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{}</title>'
            "<style>body{{font-family:{};margin:16px;color:{}}}{}</style></head>\n<body>\n{}\n{}\n</body></html>\n",
            title,
            FONT,
            INK,
            Markup(css),
            Markup(body),
            html("<script>{}</script>", Markup(script)) if script else Markup(""),
        )
    )
