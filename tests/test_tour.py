"""`biograd tour --out DIR`: one self-contained page with the ten steps of the guided tour.

The command runs once (one test); the page is checked for its sections, embedded
images, numbers that agree with closed forms (least squares, the chain rule, the mean), and then opened
once in Debian's Chromium through Python Playwright (never `playwright install`): every image decodes and
the console stays free of errors.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from biograd.cli import main
from chromium import CHROMIUM, launch


def test_tour_writes_one_self_contained_page_that_renders(tmp_path):
    # One test, so that the tour runs once even when pytest-xdist spreads tests over workers.
    out = tmp_path / "tour"
    assert main(["tour", "--out", str(out)]) == 0
    page_path = out / "index.html"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]  # no leftover temp file
    page = page_path.read_text(encoding="utf-8")
    _check_sections_and_images(page)
    _check_numbers_against_closed_forms(page)
    _check_claims_against_figures(page)
    if CHROMIUM is None:
        pytest.skip("page checked; Debian's chromium is not installed for the render check (.ci/run has it)")
    _check_renders_in_chromium(page_path, expected_images=len(re.findall(r"<img ", page)))


def _check_sections_and_images(page: str) -> None:
    assert [int(n) for n in re.findall(r'<section id="step-(\d+)"', page)] == list(range(1, 11))
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 14  # every step has at least one figure; some have two or four
    assert all(src.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")) for src in images)
    # nothing to fetch: no external scripts, stylesheets, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page and "<link" not in page
    for number in range(1, 11):
        assert f"docs/tutorials/{number:02d}_" in page  # each step points to its notebook


def _check_numbers_against_closed_forms(page: str) -> None:
    conc = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1.5])
    absorb = np.array([0.05, 0.21, 0.33, 0.52, 0.63, 0.97])
    slope, intercept = np.polyfit(conc, absorb, 1)
    assert f"it reaches w = {slope:.4f}, b = {intercept:.4f}" in page  # gradient descent = least squares
    assert f"biograd's backward pass gives {2 * 1.5 * np.cos(1.5**2):.4f}" in page  # d/dx sin(x^2)
    from sklearn.datasets import load_diabetes

    assert f"gradient descent on MSE finds {load_diabetes().target.mean():.2f}" in page  # the mean
    parameters = 30 * 16 + 16 + 16 * 8 + 8 + 8 + 1
    assert f"{parameters:,} parameters" in page


def _check_claims_against_figures(page: str) -> None:
    """The tour's words agree with the figures next to them (which are drawn by the same functions)."""
    from biograd import viz

    finals = {}
    for line in viz.optimizer_paths().axes[0].lines:
        found = re.fullmatch(r"(.+) \(lr ([\d.]+)\): final loss ([\d.]+)", line.get_label())
        if found:
            finals[found[1]] = (float(found[2]), float(found[3]))
    ranked = sorted(finals, key=lambda name: finals[name][1])
    order = " &lt; ".join(f"{name} {finals[name][1]:.3g}" for name in ranked)
    assert f"Final losses: {order}; here {ranked[0]} ends lowest and {ranked[-1]} highest" in page
    assert ", ".join(f"{name} {lr:g}" for name, (lr, _) in finals.items()) in page  # the rates
    bottom = re.search(r"after 15 epochs: SGD ([\d.]+), momentum ([\d.]+), Adam ([\d.]+)", page)
    sgd, momentum, adam = (float(v) for v in bottom.groups())
    assert momentum < sgd / 2 and adam < sgd / 2, "momentum and Adam get much further"
    # step 6 promises the frames of the stepper: the page embeds it, with that many frames
    frames = int(re.search(r"Step through all (\d+) frames", page)[1])
    embedded = re.findall(r'<iframe class="stepper"[^>]*srcdoc="([^"]*)"', page)
    assert len(embedded) == 1 and f"Step 1 of {frames}" in embedded[0]
    assert "&lt;script" in embedded[0] and 'sandbox="allow-scripts"' in page


def _check_renders_in_chromium(page_path, expected_images: int) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.as_uri(), wait_until="load")
            sizes = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert len(sizes) == expected_images
            assert all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
            assert page.locator("section").count() == 10
            # the embedded backprop stepper runs: Next moves it to step 2
            # (its own document loaded first: a click before its script ran was once lost under load)
            stepper = page.locator("iframe.stepper").element_handle().content_frame()
            stepper.wait_for_load_state("load")
            stepper.click("#next")
            stepper.wait_for_function(
                "document.querySelector('#counter').textContent.startsWith('Step 2 of ')", timeout=15_000
            )
            assert not problems, problems
        finally:
            browser.close()


def test_tour_rejects_a_file_as_output_directory(tmp_path, capsys):
    target = tmp_path / "not_a_dir"
    target.write_text("x")
    assert main(["tour", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "directory" in err
