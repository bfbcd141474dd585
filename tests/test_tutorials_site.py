"""The documentation site's build script (docs/site/build.py), without building the site: its link
rewriting, its CLI reference against the parser, its link checker against broken and online links, its
check that the API pages show every public name, mkdocs.yml against the files it names, and the two
plugins that adapt the docstrings (docs/site/hooks.py, docs/site/doctests.py). `.ci/checks/docs.sh`
builds the whole site, strictly, in CI."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build():
    spec = importlib.util.spec_from_file_location("docs_site_build", ROOT / "docs" / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_links_become_site_pages_and_nothing_points_outside():
    build = _build()
    mapping = {
        "docs/tutorials/01_ai_ml_dl.py": "tutorials/01_ai_ml_dl.md",
        "docs/pictures/x.png": "pictures/x.png",
    }
    text = (
        "[1. AI](docs/tutorials/01_ai_ml_dl.py) · [licence](LICENSE) · [web](https://numpy.org) · "
        "[here](#guided-tour) · ![a picture](docs/pictures/x.png) · ![elsewhere](other/y.png)"
    )
    out = build.rewrite_links(text, mapping)
    assert "[1. AI](tutorials/01_ai_ml_dl.md)" in out
    assert "licence (`LICENSE`)" in out and "[licence]" not in out  # not in the site: plain text
    assert "[web](https://numpy.org)" in out and "[here](#guided-tour)" in out
    assert "![a picture](pictures/x.png)" in out  # the site's copy of the picture
    assert "![elsewhere](other/y.png)" in out  # not in the site: left for the strict build to report


def test_cli_reference_has_every_command_of_the_parser():
    from biograd.cli import build_parser

    page = _build().cli_reference()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert sub.choices
    for name, command in sub.choices.items():
        assert f"## biograd {name}\n" in page
        for action in command._actions:
            for flag in action.option_strings:
                assert flag in page, (name, flag)


def test_link_checker_finds_missing_files_anchors_and_online_resources(tmp_path):
    build = _build()
    (tmp_path / "a.html").write_text(
        '<a href="b.html#there">ok</a><a href="b.html#nowhere">bad anchor</a><a href="gone.html">x</a>'
        '<img src="pic.png"><script src="https://cdn.example.org/x.js"></script>'
        '<a href="https://numpy.org">a link out is fine</a>'
    )
    (tmp_path / "b.html").write_text('<h2 id="there">There</h2>')
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    problems = build.check_site(tmp_path)
    assert len(problems) == 3, problems
    assert any("gone.html does not exist" in p for p in problems)
    assert any("no anchor #nowhere" in p for p in problems)
    assert any("cdn.example.org" in p and "from the web" in p for p in problems)


def test_api_check_finds_public_names_missing_from_the_pages(tmp_path):
    import biograd.optim

    build = _build()
    pages, site = tmp_path / "pages", tmp_path / "site"
    pages.mkdir()
    (site / "api").mkdir(parents=True)
    (pages / "optim.md").write_text("# Optimizers\n\n::: biograd.optim\n\n::: biograd.training.fit.fit\n")
    shown = [name for name in biograd.optim.__all__ if name != "SGD"]  # SGD left out
    headings = [f'<h2 id="biograd.optim.{name}">{name}</h2>' for name in shown]
    headings.append('<h2 id="biograd.training.fit.fit">fit</h2>')  # the function its module's name hides
    (site / "api" / "optim.html").write_text("".join(headings))
    problems = build.check_api_reference(pages, site)
    assert "api/optim.md: biograd.optim.SGD is public but not on the page" in problems
    assert not any("biograd.optim.Adam " in p for p in problems)
    assert "biograd.nn (in biograd.__all__) is on no API page" in problems
    assert not any(p.startswith(("biograd.fit ", "biograd.optim ")) for p in problems)


def test_mkdocs_config_names_every_tutorial_and_api_page():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    tutorials = sorted(p.stem for p in (ROOT / "docs" / "tutorials").glob("[0-9][0-9]_*.py"))
    assert re.findall(r"tutorials/(\d\d_\w+)\.md", config) == tutorials
    for page in re.findall(r"(api/\w+\.md)", config):
        assert (ROOT / "docs" / "site" / page).exists(), page
    for page in (ROOT / "docs" / "site" / "api").glob("*.md"):
        assert f"api/{page.name}" in config, page.name
    requirements = (ROOT / "docs" / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), "docs tools are pinned"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## Guided tour") : readme.index("\n## ", readme.index("## Guided tour") + 5)]
    assert "bash .ci/checks/docs.sh" in tour and "build/site/index.html" in tour


def test_the_docs_hook_turns_rst_roles_into_code():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "site" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    html = "<p>:class:<code>SGD</code> adds momentum; a step downhill::</p><p>a: b</p>"
    assert hooks.on_page_content(html) == "<p><code>SGD</code> adds momentum; a step downhill:</p><p>a: b</p>"
    html = "<li>:mod:<code>~biograd.training.fit</code>: the loop; :func:<code>~fit</code></li>"
    assert hooks.on_page_content(html) == "<li><code>fit</code>: the loop; <code>fit</code></li>"


def test_doctest_lines_in_docstrings_become_code_blocks():
    pytest.importorskip("griffe")  # a docs tool (docs/requirements.txt), not a test dependency
    spec = importlib.util.spec_from_file_location("docs_doctests", ROOT / "docs" / "site" / "doctests.py")
    doctests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doctests)
    doctest = ">>> x = f(1)  # doctest: +SKIP\n>>> for i in x:\n...     pass\n-1.5"
    text = f"Intro.\n\n{doctest}\n\nMore.\n```\n>>> kept\n```"
    code = "```pycon\n>>> x = f(1)\n>>> for i in x:\n...     pass\n-1.5\n```"
    assert doctests.fence_doctests(text) == f"Intro.\n\n\n{code}\n\nMore.\n```\n>>> kept\n```"
