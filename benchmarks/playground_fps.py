"""Frames per second of `biograd playground` while it trains a 2-8-8-1 network on 500 points.

The command runs as the user would start it (its own process, its HTTP server); training plays in its
background thread while this script asks for frames as the page does (``GET /api/frame``: the neuron
heatmaps, the decision surface, the weights and the curves, computed by the engine). It prints the frames
served per second and the training steps per second over the same seconds. With ``--browser`` (needs
Python Playwright and Debian's chromium) it also reads the frames per second the real page draws.

Run:  python benchmarks/playground_fps.py              (about 10 seconds)
      python benchmarks/playground_fps.py --browser    (also the page in headless Chromium)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from machine import cpu_name

SETUP = {
    "dataset": "gating",
    "n_points": 500,
    "hidden": [8, 8],
    "activations": ["tanh", "tanh"],
    "batch_size": 10,
}


def start() -> tuple[subprocess.Popen, str]:
    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "biograd", "playground", "--no-browser"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    return proc, line.split(": ", 1)[1].strip()


def call(url: str, path: str, body: dict | None = None) -> dict:
    base, token = url.split("/?token=")
    request = urllib.request.Request(
        f"{base}{path}{'&' if '?' in path else '?'}token={token}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def served_fps(url: str, seconds: float) -> tuple[float, float, int]:
    """Frames fetched back to back while training plays: (frames/s, steps/s, frames)."""
    call(url, "/api/frame")
    first = call(url, "/api/state")["step"]
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        frame = call(url, "/api/frame")
        assert len(frame["neurons"]) == 2 and len(frame["neurons"][0]) == 8
        frames += 1
    elapsed = time.perf_counter() - start
    steps = call(url, "/api/state")["step"] - first
    return frames / elapsed, steps / elapsed, frames


def browser_fps(url: str, seconds: float) -> float | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(url)
            page.wait_for_function("document.body.dataset.playing === '1'")
            time.sleep(1.5)  # warm-up
            start_frames = page.evaluate("window.performance.now()")
            counted = page.evaluate(
                f"""() => new Promise(done => {{
                    const first = Number(document.body.dataset.frames || 0), t0 = performance.now();
                    setTimeout(() => done((Number(document.body.dataset.frames) - first) * 1000 /
                                          (performance.now() - t0)), {int(seconds * 1000)});
                }})"""
            )
            del start_frames
            return float(counted)
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--browser", action="store_true", help="also measure the page in headless Chromium")
    args = parser.parse_args()
    proc, url = start()
    try:
        call(url, "/api/settings", SETUP)
        call(url, "/api/control", {"action": "play"})
        time.sleep(0.5)
        fps, steps, frames = served_fps(url, args.seconds)
        page_fps = browser_fps(url, args.seconds) if args.browser else None
        call(url, "/api/control", {"action": "pause"})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "network 2-8-8-1 (tanh), 500 points (250 training rows), batch size 10, SGD, training while drawing"
    )
    print(f"frames served: {fps:.1f} frames/s ({frames} frames in {args.seconds:g} s; target >= 20)")
    print(f"training:      {steps:.0f} steps/s at the same time")
    if page_fps is not None:
        print(f"page drawn:    {page_fps:.1f} frames/s in headless Chromium (software rendering)")


if __name__ == "__main__":
    main()
