"""Debian's Chromium for the browser tests, driven by Python Playwright (never `playwright install`).

`.ci/run` installs the `chromium` package; without it the browser tests skip.
"""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium")
# headless on a machine with a closed network: no GPU, no sandbox (root), no background connections
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a running ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
