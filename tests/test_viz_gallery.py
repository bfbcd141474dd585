"""docs/pictures.md: every code snippet runs (top to bottom, as one script), every picture function of
biograd.viz is in the gallery, and every image the page shows exists and stays small. No pixel comparisons.

Run this file directly (``python tests/test_viz_gallery.py``) to redraw the gallery's pictures.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "pictures.md"


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)


def run_gallery(folder: Path) -> None:
    """Run every snippet in one namespace with ``folder`` as the working directory."""
    import matplotlib

    matplotlib.use("Agg")
    (folder / "docs" / "pictures").mkdir(parents=True, exist_ok=True)
    namespace: dict = {"__name__": "gallery"}
    here = Path.cwd()
    os.chdir(folder)
    try:
        for i, code in enumerate(snippets()):
            exec(compile(code, f"docs/pictures.md snippet {i + 1}", "exec"), namespace)
    finally:
        os.chdir(here)


def test_every_snippet_runs_and_saves_what_the_page_shows(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # training may warn (e.g. epoch limit); the pictures are the point
        run_gallery(tmp_path)
    shown = re.findall(r"\]\((pictures/[^)]+)\)", PAGE.read_text(encoding="utf-8"))
    assert shown
    for rel in shown:
        made = tmp_path / "docs" / rel
        assert made.is_file() and made.stat().st_size > 1000, f"the snippets do not make {rel}"


def test_the_page_shows_committed_small_pictures():
    for rel in re.findall(r"!\[[^\]]*\]\((pictures/[^)]+\.png)\)", PAGE.read_text(encoding="utf-8")):
        path = ROOT / "docs" / rel
        assert path.is_file(), f"{rel} is missing: run python tests/test_viz_gallery.py"
        assert path.stat().st_size < 150_000, f"{rel} is {path.stat().st_size} bytes; keep pictures < 150 KB"


def test_every_picture_function_is_in_the_gallery():
    from biograd import viz

    text = PAGE.read_text(encoding="utf-8")
    functions = [name for name in viz.__all__ if name[0].islower()]
    missing = [name for name in functions if f"viz.{name}(" not in text]
    assert not missing, f"docs/pictures.md has no example of {missing}"


if __name__ == "__main__":  # redraw the gallery's pictures in docs/pictures/
    sys.exit(run_gallery(ROOT) or pytest.main([__file__, "-q"]))
