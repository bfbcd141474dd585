"""benchmarks/large_table.py --quick runs end to end and prints its figures (no time is asserted: timings
on a shared machine mean nothing; the real figures are measured with the default run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "large_table.py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not shipped with the package")


def test_quick_run_prints_both_libraries_and_the_memory_ratio():
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "2,000 x 200 float32, MLP 200-64-16-10" in out
    assert "load average" in out and "threads per process: 1" in out
    lines = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.split()[:1] in (["biograd"], ["torch"])
    }
    assert set(lines) == {"biograd", "torch"}
    for row in lines.values():
        assert float(row[1]) > 0  # the epoch's median seconds
        assert float(row[-1]) > 0  # memory above the baseline, in copies of the data
    assert "epoch speed biograd / torch:" in out and "CPU time" in out
    assert "memory above baseline / data:" in out
