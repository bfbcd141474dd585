"""PyTorch, the oracle the engine tests compare against, where it is installed.

The test extra pins ``torch==2.13.0``, whose CPU wheel exists only for some Pythons. Where it is missing,
``torch`` is None here and every test marked ``@needs_torch`` skips with ``SKIP_REASON``, so that only
the PyTorch comparisons skip (the rest of a module still runs) and `.ci/run` can count them by reason.
"""

from __future__ import annotations

import pytest

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

SKIP_REASON = "PyTorch oracle: torch is not installed (the test extra pins torch==2.13.0)"

needs_torch = pytest.mark.skipif(torch is None, reason=SKIP_REASON)
