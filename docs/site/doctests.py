"""Griffe extension for the API pages (mkdocs.yml loads it): doctest lines in a docstring become code.

biograd's docstrings show examples as doctest lines (``>>> x = biograd.tensor(1.5)``) in their text, where
``help()`` and doctest read them. Griffe turns such lines into code only inside an "Examples:" section,
which the docstrings do not use, so Markdown would show them as nested quotes with the lines run
together. Here each run of them (from a line starting with ``>>>`` to the next blank line, continuation
lines and printed output included) becomes a ``pycon`` code block, without its ``# doctest:`` flags.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_FLAGS = re.compile(r"\s*#\s*doctest:.*$")


def fence_doctests(text: str) -> str:
    """``text`` with each run of doctest lines in a fenced ``pycon`` block (fenced code is left alone)."""
    out: list[str] = []
    run: list[str] = []
    in_fence = False
    for line in [*text.split("\n"), ""]:
        if run and line.strip():
            run.append(_FLAGS.sub("", line))
            continue
        if run:
            out += ["", "```pycon", *run, "```"]
            run = []
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if line.startswith(">>>") and not in_fence:
            run.append(_FLAGS.sub("", line))
        else:
            out.append(line)
    return "\n".join(out[:-1])


class DoctestBlocks(griffe.Extension):
    """Rewrites every loaded object's docstring with :func:`fence_doctests`."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
