"""Pages from hostile names: every string a user's file controls (columns, target, classes, IDs, category
values, the file name, FASTA IDs and labels, titles and tensor names given to viz) carries script and
markup payloads; each page biograd writes is opened in headless Chromium and must raise no dialog and
grow no injected element, while showing the payload as text. Plus the rule that keeps it so: pages are
built through biograd.viz.markup, and no f-string in a page writer mixes tags with values."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import biograd
from biograd import nn, viz
from biograd.cli import main
from biograd.viz.markup import Markup, escape, html, join, script_json
from chromium import CHROMIUM, launch

SRC = Path(biograd.__file__).resolve().parent
PAGE_WRITERS = [*sorted((SRC / "report").glob("*.py")), SRC / "tour.py", *sorted((SRC / "viz").glob("*.py"))]

#: Visible as text when escaped; an alert, or an element with an id starting "injected", when not.
PAYLOAD = '<script>alert("s")</script><img src=x onerror=alert(1) id=injected1><b id=injected2>!</b>'
#: FASTA IDs and header labels end at whitespace: a payload without spaces.
TIGHT = "<svg/onload=alert(3)><i/id=injected3>"


# ------------------------------------------------------------------------------------------------------
# The one escaping path
# ------------------------------------------------------------------------------------------------------


def test_markup_escapes_whatever_is_not_markup():
    import html as stdlib_html

    cell = html("<td>{}</td>", PAYLOAD)
    inner = cell[len("<td>") : -len("</td>")]
    assert cell.startswith("<td>") and cell.endswith("</td>") and "<" not in inner
    assert stdlib_html.unescape(inner) == PAYLOAD  # the oracle: the browser's reading of the entities
    assert html("<b>{:.2f}</b>", 0.125) == "<b>0.12</b>"  # numbers keep their format
    assert "<" not in str("a<b" + Markup("")) and "<" not in str(Markup("") + "a<b")  # both sides escape
    assert escape(Markup("<i>ok</i>")) == "<i>ok</i>"  # markup is not escaped twice
    assert join(["<a>", Markup("<b>")], ", ") == "&lt;a&gt;, <b>"
    assert "'" not in escape("it's") and '"' not in escape('"')  # safe inside quoted attributes
    data = script_json({"name": "</script><script>alert(1)</script>", "amp": "&"})
    assert "</script" not in data and "<" not in data and "&" not in data


def _html_fstrings(path: Path) -> list[int]:
    """Lines of f-strings that contain a tag and a value without a format spec (a number format such
    as {x:.3f} cannot carry markup). __repr__ methods are exempt: they are not HTML."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exempt = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef) and function.name == "__repr__"
        for node in ast.walk(function)
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr) or id(node) in exempt:
            continue
        literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if "<" in literal and any(
            isinstance(v, ast.FormattedValue) and v.format_spec is None for v in node.values
        ):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", PAGE_WRITERS, ids=lambda p: str(p.relative_to(SRC)))
def test_page_writers_build_markup_only_through_viz_markup(path):
    assert not _html_fstrings(path), f"{path.name}: tags and values mixed in f-strings (use markup.html)"
    if path.name != "markup.py":
        text = path.read_text(encoding="utf-8")
        assert "html.escape" not in text and "import html" not in text, path.name


# ------------------------------------------------------------------------------------------------------
# In the browser
# ------------------------------------------------------------------------------------------------------

playwright = pytest.importorskip("playwright.sync_api")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def open_and_check(pages: list[Path], expected_text: list[str]) -> None:
    """Open each page; no dialog, no injected element, no script holding 'alert', and the payload shown as
    text (so the test can tell an escaped payload from a dropped one)."""
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            for path in pages:
                page = browser.new_page()
                dialogs: list[str] = []
                page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
                page.goto(path.as_uri())
                page.wait_for_timeout(300)  # img onerror handlers run after the failed load
                injected = page.evaluate("document.querySelectorAll('[id^=injected]').length")
                scripts = page.evaluate(
                    "[...document.scripts].filter(s => s.textContent.includes('alert')).length"
                )
                assert not dialogs and injected == 0 and scripts == 0, (path.name, dialogs, injected, scripts)
                text = page.inner_text("body")
                for expected in expected_text:
                    assert expected in text, (path.name, expected)
                page.close()
        finally:
            browser.close()


def hostile_table(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame(
        {
            "sample": [f"S{i:02d}{PAYLOAD}" for i in range(n)],
            f"gene_a{PAYLOAD}": rng.normal(size=n),
            f"gene_b{PAYLOAD}": rng.normal(size=n),
            f"tissue{PAYLOAD}": rng.choice([f"liver{PAYLOAD}", f"lung{PAYLOAD}"], size=n),
        }
    )
    signal = frame.iloc[:, 1].to_numpy()
    if task == "classification":
        frame[f"status{PAYLOAD}"] = np.where(signal > 0, f"sick{PAYLOAD}", f"healthy{PAYLOAD}")
    else:
        frame[f"level{PAYLOAD}"] = 3 * signal + rng.normal(scale=0.3, size=n)
    return frame


@needs_chromium
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_report_of_a_table_with_hostile_names(tmp_path, task):
    """The regression report once put the target name into a table cell unescaped (_section_test)."""
    frame = hostile_table(task)
    target = frame.columns[-1]
    data = tmp_path / "data<b id=injected9>.csv"
    frame.to_csv(data, index=False)
    run = tmp_path / "run"
    code = main(["train", str(data), "--target", target, "--epochs", "3", "--quiet", "--out", str(run)])
    assert code == 0
    open_and_check([run / "report.html"], ['<script>alert("s")</script>', "data<b id=injected9>.csv"])


@needs_chromium
def test_report_of_fasta_with_hostile_ids_and_labels(tmp_path):
    rng = np.random.default_rng(5)
    motif = "TATAAT"
    records = []
    for i in range(60):
        seq = list(rng.choice(list("ACGT"), 40))
        label = f"bound{TIGHT}" if i % 2 else f"free{TIGHT}"
        if i % 2:
            seq[10:16] = motif
        records.append(f">r{i}{TIGHT} label={label}\n{''.join(seq)}\n")
    data = tmp_path / "seqs.fa"
    data.write_text("".join(records))
    run = tmp_path / "run"
    assert main(["train", str(data), "--epochs", "3", "--quiet", "--out", str(run)]) == 0
    open_and_check([run / "report.html"], [TIGHT])


@needs_chromium
def test_viz_pages_with_hostile_titles_and_names(tmp_path):
    biograd.manual_seed(0)
    model = nn.MLP([2, 3, 1])
    pages = []
    pages.append(viz.network(model, title=f"net {PAYLOAD}").save(tmp_path / "network.html"))
    steps = viz.backprop(model, [0.5, -1.0], [1.0], nn.MSELoss(), title=f"step {PAYLOAD}")
    pages.append(steps.save(tmp_path / "backprop.html"))
    x = biograd.tensor([1.0, 2.0], requires_grad=True, name=f"x {PAYLOAD}")
    with biograd.trace() as recorded:
        y = (x * x).sum()
        y.backward()
    pages.append(viz.graph(y, trace=recorded, title=f"graph {PAYLOAD}").save(tmp_path / "graph.html"))
    from biograd.viz.network import layer_chain

    chain = layer_chain(
        nn.Sequential(nn.Conv1d(4, 2, 3), nn.GlobalMaxPool1d()), f"in {PAYLOAD}", f"t {PAYLOAD}"
    )
    pages.append(chain.save(tmp_path / "chain.html"))
    open_and_check(pages, ['<script>alert("s")</script>'])
