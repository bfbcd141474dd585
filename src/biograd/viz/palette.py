"""The one palette of every biograd picture (diagrams, plots and the run report).

Colors are Okabe and Ito's eight, chosen to stay distinct for the common kinds of color blindness. Color
alone is never the only cue: :func:`line_style` pairs each color with its own dash and marker, so lines
and classes also read in greyscale print. Sign is shown twice as well: blue and solid for positive,
orange (vermillion) and dashed for negative.
"""

from __future__ import annotations

from typing import Any

BLUE = "#0072B2"  # positive
ORANGE = "#D55E00"  # negative (Okabe-Ito's vermillion)
GREEN = "#009E73"
BLACK = "#000000"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
AMBER = "#E69F00"
YELLOW = "#F0E442"
GREY = "#777777"
INK = "#222222"
PALE = "#f4f4f4"
HIGHLIGHT = BLACK

#: The categorical colors in the order lines and classes take them.
COLORS = (BLUE, ORANGE, GREEN, BLACK, PURPLE, SKY, AMBER, YELLOW)
#: Dashes, in the order lines take them (matplotlib line styles).
LINESTYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)))
#: Marker shapes, in the order classes take them.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def line_style(i: int) -> tuple[str, Any, str]:
    """(color, line style, marker) of the i-th line or class.

    The color cycles through 8 and the dash through 5, so the pair differs for the first 40 lines
    (8 and 5 share no factor); the marker cycles through 10. The first 20 classes are therefore told
    apart by color, by dash and, in a scatter plot, by shape.

    >>> line_style(0)
    ('#0072B2', '-', 'o')
    """
    return COLORS[i % len(COLORS)], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]
