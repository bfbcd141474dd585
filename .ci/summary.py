"""One line on one CI environment: its versions and what its tests did, read from pytest's JUnit XML.

    python .ci/summary.py NAME JUNIT_XML SECONDS

Run with the environment's own interpreter, so that the versions printed are the ones tested. Tests that
skipped because PyTorch (the oracle of the engine tests) is not installed are counted apart, so a line
says plainly when an environment did not compare against PyTorch.
"""

from __future__ import annotations

import platform
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def counts(junit: Path) -> tuple[int, int, int, int]:
    """(passed, failed, skipped, skipped for want of PyTorch); errors count as failures."""
    sys.path.insert(0, str(TESTS))
    from torch_oracle import SKIP_REASON  # the one wording of that skip

    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = failed = skipped = torch_skipped = 0
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        for case in suite.iter("testcase"):
            for skip in case.findall("skipped"):
                if SKIP_REASON in (skip.get("message") or "") + (skip.text or ""):
                    torch_skipped += 1
    return total - failed - skipped, failed, skipped, torch_skipped


def main(name: str, junit: str, seconds: str) -> None:
    versions = (
        f"Python {platform.python_version()}, numpy {_version('numpy')}, pandas {_version('pandas')}, "
        f"scikit-learn {_version('scikit-learn')}, matplotlib {_version('matplotlib')}, "
        f"anndata {_version('anndata')}"
    )
    path = Path(junit)
    if not path.exists():
        print(f"{name}: no test ran (install failed, see above); {versions}; {seconds} s")
        return
    passed, failed, skipped, torch_skipped = counts(path)
    torch = _version("torch")
    oracle = (
        f"torch {torch}"
        if torch != "absent"
        else f"torch absent: {torch_skipped} of the skipped are the PyTorch-oracle tests"
    )
    print(f"{name}: {passed} passed, {failed} failed, {skipped} skipped; {versions}; {oracle}; {seconds} s")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
