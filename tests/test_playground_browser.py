"""`biograd playground` in a real browser (Debian's Chromium driven by Python Playwright, never
`playwright install`): the command starts, play makes the loss fall, the learning rate and the network
change by clicking, a clicked weight shows PyTorch's gradient for that state, the exported script ends at the
page's loss, a CSV with hostile names loads as text, the HTML replay works without a server, and the console
stays free of errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from chromium import CHROMIUM, launch

playwright = pytest.importorskip("playwright.sync_api")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
SRC = str(Path(__file__).resolve().parents[1] / "src")
HOSTILE = '<img src=x onerror="document.title=1">'


@pytest.fixture(scope="module")
def app():
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "biograd", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = proc.stdout.readline().split(": ", 1)[1].strip()
    with playwright.sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1400, "height": 950}, accept_downloads=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("body[data-step]")
        try:
            yield page, url, errors
        finally:
            browser.close()
            proc.terminate()
            proc.wait(timeout=10)


def api(url: str, path: str):
    base, token = url.split("/?token=")
    sep = "&" if "?" in path else "?"
    with urllib.request.urlopen(f"{base}{path}{sep}token={token}") as answer:
        return json.loads(answer.read())


DEFAULTS = {
    "dataset": "gating",
    "n_points": 500,
    "noise": 0.2,
    "seed": 1,
    "hidden": [4, 4],
    "activations": ["tanh", "tanh"],
    "dropout": 0.0,
    "loss": "auto",
    "lr": 0.03,
    "optimizer": "sgd",
    "batch_size": 10,
    "regularization": "none",
    "reg_rate": 0.0,
}


def fresh(page, url: str, **changes) -> None:
    """Start each test from known settings and new weights (tests may run in any order, or apart)."""
    base, token = url.split("/?token=")
    for path, body in (("/api/settings", {**DEFAULTS, **changes}), ("/api/control", {"action": "reset"})):
        request = urllib.request.Request(
            f"{base}{path}?token={token}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request).close()
    page.reload()
    page.wait_for_selector("body[data-step]")


def wait(condition, seconds: float = 20.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the page did not get there in time")


def test_play_makes_the_loss_fall_and_pause_stops(app):
    page, url, errors = app
    fresh(page, url)
    first = float(page.locator("#train-loss").inner_text())
    page.click("#play")
    wait(lambda: int(page.get_attribute("body", "data-epoch")) >= 12)
    page.click("#play")  # pause
    wait(lambda: page.get_attribute("body", "data-playing") == "0")
    stopped = api(url, "/api/state")["step"]
    time.sleep(0.3)
    state = api(url, "/api/state")
    assert state["step"] == stopped and not state["playing"]
    wait(lambda: page.get_attribute("body", "data-step") == str(stopped))
    assert float(page.locator("#train-loss").inner_text()) < 0.8 * first
    assert page.locator("#verdict").inner_text() != ""  # the diagnosis read the curves
    assert not errors, errors


def test_learning_rate_and_network_change_by_clicking(app):
    page, url, errors = app
    fresh(page, url)
    page.select_option("#lr", "0.1")
    wait(lambda: api(url, "/api/state")["settings"]["lr"] == 0.1)
    page.click("#add-neuron-0")
    wait(lambda: api(url, "/api/state")["shape"] == [2, 5, 4, 1])
    page.click("#add-layer")
    wait(lambda: api(url, "/api/state")["shape"] == [2, 5, 4, 4, 1])
    page.wait_for_selector("#n-2-3")  # the new layer's fourth neuron is drawn
    page.select_option("#activation-1", "relu")
    wait(lambda: api(url, "/api/state")["settings"]["activations"] == ["tanh", "relu", "tanh"])
    page.click("#remove-layer")
    wait(lambda: api(url, "/api/state")["shape"] == [2, 5, 4, 1])
    page.wait_for_selector("#n-1-3")
    assert page.locator("#shape").inner_text() == "2-5-4-1"
    assert not errors, errors


def test_a_clicked_weight_shows_pytorchs_gradient_for_this_state(app):
    page, url, errors = app
    fresh(page, url, lr=0.1, activations=["tanh", "relu"])
    page.click("#step")
    page.click("#step")
    wait(lambda: page.get_attribute("body", "data-step") == "2")
    page.dispatch_event("#w-1-2-3", "click")  # hidden layer 1, neuron 4 -> hidden layer 2, neuron 3
    page.wait_for_selector("#inspector:not([hidden])")
    inspector = page.locator("#inspector")
    wait(lambda: inspector.get_attribute("data-grad"))
    shown = float(inspector.get_attribute("data-grad"))
    state = api(url, "/api/state?weights=1")
    data = api(url, "/api/data")
    rows = [int(r) for r in inspector.get_attribute("data-rows").split(",")]
    assert rows == state["inspection_rows"]

    # PyTorch, from the weights and the batch alone
    h = torch.tensor(np.asarray(data["x_train"])[rows], dtype=torch.float32)
    acts = {"tanh": torch.tanh, "relu": torch.relu}
    weights = []
    for i, layer in enumerate(state["weights"]):
        w = torch.tensor(layer["weight"], requires_grad=True)
        weights.append(w)
        h = h @ w.T + torch.tensor(layer["bias"])
        if i < len(state["weights"]) - 1:
            h = acts[state["settings"]["activations"][i]](h)
    y = torch.tensor(np.asarray(data["y_train"])[rows], dtype=torch.float32).reshape(h.shape)
    torch.nn.functional.binary_cross_entropy_with_logits(h, y).backward()
    expected = float(weights[1].grad[2, 3])
    assert shown == pytest.approx(expected, rel=1e-4, abs=1e-8)
    w = state["weights"][1]["weight"][2][3]
    assert float(inspector.get_attribute("data-after")) == pytest.approx(
        w - 0.1 * expected, rel=1e-5, abs=1e-8
    )
    text = page.locator("#insp-body").inner_text()
    assert "dL/dw" in text and "delta = dL/dz" in text and "w \u2190 w \u2212 lr \u00d7 dL/dw" in text

    page.dispatch_event("#n-0-1", "click")  # a neuron: its bias, delta and update
    wait(lambda: "bias" in page.locator("#insp-title").inner_text())
    href = page.get_attribute("#backprop-link", "href")
    stepper = page.context.new_page()
    stepper.goto(urllib.parse.urljoin(url, href))
    assert "One step on training row" in stepper.locator("h1").inner_text()
    stepper.close()
    assert not errors, errors


def test_the_exported_script_runs_to_the_pages_loss(app, tmp_path):
    page, url, errors = app
    fresh(page, url, dataset="spiral", hidden=[6, 3], dropout=0.2)
    page.select_option("#optimizer", "adam")
    wait(lambda: api(url, "/api/state")["settings"]["optimizer"] == "adam")
    for _ in range(3):
        page.click("#step")
    wait(lambda: page.get_attribute("body", "data-step") == "3")
    state = api(url, "/api/state")
    assert state["step"] == 3
    with page.expect_download() as download:
        page.click("#export-script")
    script = tmp_path / "session.py"
    download.value.save_as(script)
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    words = done.stdout.replace(",", " ").split()
    assert float(words[words.index("training") + 2]) == pytest.approx(state["train_loss"], abs=2e-6)
    assert float(words[words.index("test") + 2]) == pytest.approx(state["test_loss"], abs=2e-6)
    assert not errors, errors


def test_a_csv_with_hostile_names_loads_as_text_also_in_the_replay(app, tmp_path):
    page, url, errors = app
    fresh(page, url)
    rng = np.random.default_rng(1)
    lines = [f"CD4,{HOSTILE},population"] + [
        f"{a:.3f},{b:.3f},{'T & <b>helper</b>' if a > b else HOSTILE}" for a, b in rng.normal(size=(120, 2))
    ]
    page.select_option("#dataset", "csv")
    page.set_input_files(
        "#csv-file", {"name": "../../cells.csv", "mimeType": "text/csv", "buffer": "\n".join(lines).encode()}
    )
    page.wait_for_selector(".csv-feature")
    page.select_option("#csv-target", "population")
    page.click("#csv-load")
    wait(lambda: api(url, "/api/state")["settings"]["dataset"] == "csv")
    wait(lambda: HOSTILE in page.locator("#legend").inner_text())
    assert "T & <b>helper</b>" in page.locator("#legend").inner_text()
    assert page.locator("#y-label").inner_text() == HOSTILE
    assert page.locator("img").count() == 0 and page.locator("#legend b").count() == 0
    assert page.title() == "biograd playground"  # no injected handler ran
    page.click("#play")
    wait(lambda: int(page.get_attribute("body", "data-epoch")) >= 3)
    page.click("#play")
    wait(lambda: page.get_attribute("body", "data-playing") == "0")

    # the self-contained replay: no server, the same names as text
    with page.expect_download() as download:
        page.click("#export-replay")
    replay = tmp_path / "replay.html"
    download.value.save_as(replay)
    viewer = page.context.new_page()
    problems: list[str] = []
    viewer.on("pageerror", lambda e: problems.append(str(e)))
    viewer.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    viewer.goto(replay.as_uri())
    viewer.wait_for_selector("body[data-step]")
    last = viewer.get_attribute("body", "data-step")
    viewer.fill("#replay-slider", "0")
    viewer.dispatch_event("#replay-slider", "input")
    assert viewer.get_attribute("body", "data-step") == "0" != last
    assert HOSTILE in viewer.locator("#legend").inner_text() and viewer.locator("img").count() == 0
    viewer.close()
    assert not problems, problems
    assert not errors, errors
