"""The one way biograd writes HTML and SVG: text is escaped unless it is already markup.

Column names, class labels, sample IDs, file names and titles come from files that biologists receive
from others; any of them may be ``<script>alert(1)</script>``. So every page biograd writes (the run
report, the tour, the viz pages and pictures) is built from :class:`Markup` values, and the only ways to
make one are:

- :func:`escape` (``&``, ``<``, ``>``, ``"`` and ``'`` become entities: safe in text and in quoted
  attributes);
- :func:`html`, which fills a template written in biograd's code with arguments escaped one by one
  (a Markup argument is kept as it is: it was escaped when it was made);
- concatenating: ``Markup + text`` and ``text + Markup`` escape the text;
- :func:`join`, which escapes each part;
- :func:`script_json`, data for inside a ``<script>`` element, where entities do not apply.

Writing ``Markup("<b>")`` by hand is the one explicit way to say "this string is markup written by
biograd", kept for literals in the code. A test checks that no f-string in the page writers mixes tags
with values: the values must go through :func:`html`, so escaping cannot be forgotten at a call site.

>>> html("<td>{}</td>", "<script>alert(1)</script>")
Markup('<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>')
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Iterable
from typing import Any


class Markup(str):
    """Text that is already HTML: made by :func:`escape`, :func:`html` or :func:`join` (or written as a
    literal in biograd's code). Adding plain text to it escapes the text first."""

    __slots__ = ()

    def __add__(self, other: Any) -> Markup:
        return Markup(str.__add__(self, escape(other)))

    def __radd__(self, other: Any) -> Markup:  # called before str.__add__: Markup subclasses str
        return Markup(str.__add__(escape(other), self))

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"


def escape(value: Any) -> Markup:
    """``value`` as text that displays as itself in HTML or SVG (Markup passes through unchanged)."""
    if isinstance(value, Markup):
        return value
    return Markup(_html.escape(str(value), quote=True))


def html(template: str, *args: Any, **kwargs: Any) -> Markup:
    """Fill ``template`` (markup written in biograd's code, with ``str.format`` fields) with escaped
    arguments. Format specs apply to numbers as usual: ``html("<b>{:.3f}</b>", 0.12345)``."""
    return Markup(
        template.format(*(_safe(a) for a in args), **{key: _safe(value) for key, value in kwargs.items()})
    )


def _safe(value: Any) -> Any:
    """Numbers stay numbers (so ``{:.3f}`` works); anything else becomes escaped markup."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        import numpy as np

        if isinstance(value, np.number):
            return value
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return escape(value)


def join(parts: Iterable[Any], separator: str = "") -> Markup:
    """The parts, each escaped unless already markup, joined by ``separator`` (markup from the code)."""
    return Markup(separator.join(escape(part) for part in parts))


def script_json(value: Any, allow_nan: bool = False) -> Markup:
    """``value`` as JSON that is safe inside ``<script>...</script>``: ``<``, ``>`` and ``&`` are written
    as ``\\u003c``-style escapes, so a string such as ``</script><script>`` cannot end the element.
    ``allow_nan`` writes NaN and Infinity as JavaScript reads them (not JSON.parse)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=allow_nan)
    for char, code in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, code)
    return Markup(text)


__all__ = ["Markup", "escape", "html", "join", "script_json"]
