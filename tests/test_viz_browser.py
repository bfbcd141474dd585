"""The backprop page in a real browser: Debian's Chromium driven by Python Playwright (never
`playwright install`). Next, the arrow keys and the slider move the step and the highlighted element; a
screenshot is not blank."""

from __future__ import annotations

import io

import numpy as np
import pytest

import biograd
from biograd import nn, viz
from chromium import CHROMIUM, launch

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def test_next_button_keys_and_slider_move_the_highlight(tmp_path):
    biograd.manual_seed(3)
    steps = viz.backprop(nn.MLP([2, 3, 1]), [0.5, -1.0], [1.0], nn.MSELoss(), lr=0.1)
    page_path = steps.save(tmp_path / "step.html")
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            body = page.locator("body")
            assert body.get_attribute("data-step") == "0"
            assert page.locator("#counter").inner_text() == f"Step 1 of {len(steps)}"
            first = body.get_attribute("data-highlight")
            first_formula = page.locator("#formula").inner_text()

            page.click("#next")
            assert body.get_attribute("data-step") == "1"
            second = body.get_attribute("data-highlight")
            assert second != first
            assert page.locator("#formula").inner_text() != first_formula
            # the highlighted elements carry the class the stylesheet draws thick and dark
            lit = page.eval_on_selector_all(".hl", "els => els.map(e => e.id)")
            assert sorted(lit) == sorted(second.split())
            assert steps.frames[1]["formula"] == page.locator("#formula").inner_text()

            page.keyboard.press("ArrowRight")
            assert body.get_attribute("data-step") == "2"
            page.keyboard.press("ArrowLeft")
            assert body.get_attribute("data-step") == "1"
            page.click("#prev")
            assert body.get_attribute("data-step") == "0"
            last = len(steps) - 1
            page.fill("#slider", str(last))  # a range input takes a value; fires 'input'
            page.dispatch_event("#slider", "input")
            assert body.get_attribute("data-step") == str(last)
            assert "after the step" in page.locator("#frame-title").inner_text()

            png = page.screenshot(full_page=True)
            from PIL import Image

            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
            assert pixels.std() > 10  # not a blank page
            assert not errors, errors
        finally:
            browser.close()
