"""The backprop stepper measured in a real browser (Debian's Chromium through Python Playwright, never
`playwright install`): every text sits inside its box on every frame, weight labels do not overlap, lines
are coloured and dashed by the sign of the weight the frame shows, hover texts follow the frame, the
formulas stay beside the network from about 1000 px wide, and nothing scrolls sideways at 700 px."""

from __future__ import annotations

import numpy as np
import pytest

from biograd.viz._draw import BLUE, ORANGE, fmt
from chromium import CHROMIUM, launch
from test_backprop_stepper import _model_with_a_weight_that_changes_sign

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)

# For the frame on screen: each weight label's box and its text's box, the loss box and its texts, and
# each weight line's stroke, dash and data-before/after (read in one call, in page coordinates).
MEASURE = """() => {
  const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const labels = [...document.querySelectorAll('[id^="wh-"]')].map(h => {
    const t = document.getElementById('wl-' + h.id.slice(3));
    return {id: h.id, halo: box(h), text: box(t), content: t.textContent};
  });
  const loss = {box: box(document.getElementById('loss-box')),
                texts: ['loss-text', 'loss-label'].map(i => box(document.getElementById(i)))};
  const lines = [...document.querySelectorAll('line.weight')].map(l => ({
    id: l.id, stroke: l.getAttribute('stroke'), dash: l.getAttribute('stroke-dasharray'),
    before: parseFloat(l.dataset.before), after: parseFloat(l.dataset.after),
    tip: l.querySelector('title').textContent}));
  const values = [...document.querySelectorAll('[id^="nv-"]')].filter(t => t.textContent).map(t => {
    const c = document.getElementById('n-' + t.id.slice(3));
    return {id: t.id, text: box(t), circle: box(c)};
  });
  return {labels, loss, lines, values};
}"""


def _inside(inner, outer, slack=0.5):
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def _overlap(a, b):
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    from biograd import nn, viz

    lr = 1.0
    model, x = _model_with_a_weight_that_changes_sign(lr)
    steps = viz.backprop(
        model, x, 1, nn.CrossEntropyLoss(), lr=lr, feature_names=["mean radius", "mean texture"],
        class_names=["benign", "malignant"],
    )  # fmt: skip
    path = steps.save(tmp_path_factory.mktemp("stepper") / "step.html")
    return path, steps


def test_texts_fit_their_boxes_and_lines_follow_the_sign_on_every_frame(page_path):
    path, steps = page_path
    update_index = {}  # the frame of each neuron's update: from there on its lines show the new weights
    for i, frame in enumerate(steps.frames):
        if frame["stage"] == "update":
            for element in frame["highlight"]:
                if element.startswith("w-"):
                    update_index[element] = i
    flips = 0
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            for i in range(len(steps)):
                if i:
                    page.click("#next")
                m = page.evaluate(MEASURE)
                assert m["labels"] and m["lines"] and m["values"]
                for label in m["labels"]:
                    assert _inside(label["text"], label["halo"]), (i, label)
                for a_i, a in enumerate(m["labels"]):
                    for b in m["labels"][a_i + 1 :]:
                        assert not _overlap(a["halo"], b["halo"]), (i, a["id"], b["id"])
                for text in m["loss"]["texts"]:
                    assert _inside(text, m["loss"]["box"]), (i, text, m["loss"]["box"])
                for value in m["values"]:
                    assert _inside(value["text"], value["circle"], slack=1.0), (i, value)
                for line in m["lines"]:
                    updated = i >= update_index[line["id"]]
                    w = line["after"] if updated else line["before"]
                    assert line["stroke"] == (BLUE if w >= 0 else ORANGE), (i, line)
                    assert (line["dash"] is None) == (w >= 0), (i, line)
                    assert f"= {fmt(line['before'])}" in line["tip"]
                    assert (f"after the update: w = {fmt(line['after'])}" in line["tip"]) == updated
                    flips += updated and np.sign(line["before"]) != np.sign(line["after"])
            assert not errors, errors
        finally:
            browser.close()
    assert flips, "a weight changed sign and was redrawn"


@pytest.mark.parametrize("width", [1000, 1024, 1400])
def test_formulas_stay_beside_the_network_from_1000_px(page_path, width):
    path, _ = page_path
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(path.as_uri())
            net = page.locator("#net").bounding_box()
            panel = page.locator("#panel").bounding_box()
            assert panel["x"] >= net["x"] + net["width"] - 1, (net, panel)  # to the right
            assert abs(panel["y"] - net["y"]) < 40, (net, panel)  # at the same height, not below
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        finally:
            browser.close()


@pytest.mark.parametrize("width", [700, 420])
def test_nothing_scrolls_sideways_on_a_narrow_window(page_path, width):
    path, steps = page_path
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(path.as_uri())
            for _ in range(len(steps)):  # the longest formula too
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.click("#next")
            svg = page.locator("#net svg").bounding_box()
            assert svg["width"] <= width  # the drawing shrinks to the window
        finally:
            browser.close()


def test_every_text_of_the_wide_network_picture_fits_inside_the_picture(tmp_path):
    import biograd
    from biograd import nn, viz

    biograd.manual_seed(0)
    picture = viz.network(nn.MLP([30, 16, 2]), x=np.linspace(-2, 2, 30), title="30 measurements, 16 hidden")
    path = tmp_path / "wide.html"
    path.write_text(f"<!DOCTYPE html><html><body style='margin:0'>{picture.svg}</body></html>")
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(path.as_uri())
            width = float(page.locator("svg").first.get_attribute("width"))
            rights = page.eval_on_selector_all(
                "svg text", "ts => ts.map(t => [t.textContent, t.getBoundingClientRect().right])"
            )
            assert rights and all(right <= width for _, right in rights), [r for r in rights if r[1] > width]
            assert any("1 feature" in t or "30 features" in t for t, _ in rights)
        finally:
            browser.close()
