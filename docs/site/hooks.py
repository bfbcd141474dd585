"""MkDocs hook: the docstrings use a few reStructuredText habits (``:class:`SGD```, a paragraph ending in
``::`` before a code block) that Markdown shows literally; this turns them into what they mean on the
rendered API pages. Nothing else is changed."""

from __future__ import annotations

import re
from typing import Any

_ROLES = r":(?:class|func|meth|mod|attr|data|exc|obj|ref):"
_SHORT = re.compile(_ROLES + r"<code>~(?:[\w.]+\.)?(\w+)</code>")  # ~a.b.c shows c, as in Sphinx
_ROLE = re.compile(_ROLES + r"(<code>|<span)")
_LITERAL = re.compile(r"::(</p>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """``:class:<code>SGD</code>`` -> ``<code>SGD</code>``; ``:mod:<code>~biograd.training.fit</code>``
    -> ``<code>fit</code>``; ``downhill::</p>`` -> ``downhill:</p>``."""
    return _LITERAL.sub(r":\1", _ROLE.sub(r"\1", _SHORT.sub(r"<code>\1</code>", html)))
