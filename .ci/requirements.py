"""Requirement lists for CI's install matrix, read from pyproject.toml, so CI installs what the package says.

    python .ci/requirements.py lowest [EXTRA ...]
        the lowest versions the package allows, one pin a line: "numpy>=1.24" becomes "numpy==1.24.*"
        (the last patch release of the lowest minor version: a "lowest-direct" resolution of the
        dependencies and of the extras named; their own dependencies stay free)
    python .ci/requirements.py tools [--without NAME ...]
        the test extra without the packages named (e.g. ruff, which lints but runs no test, or anndata,
        which the sc extra brings where it is wanted), to install next to an install that must not change

Needs Python >= 3.11 (tomllib); it only reads pyproject.toml, so any interpreter of CI will do.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def _name(requirement: str) -> str:
    match = REQUIREMENT.match(requirement)
    if match is None:
        raise SystemExit(f"pyproject.toml: cannot read the requirement {requirement!r}")
    return match.group(1).lower().replace("_", "-")


def lowest_pin(requirement: str) -> str:
    """'numpy>=1.24' -> 'numpy==1.24.*'; 'numpy>=1.24.2' -> 'numpy>=1.24.2,==1.24.*'."""
    match = REQUIREMENT.match(requirement)
    specifier = match.group(3) if match else ""
    floor = re.search(r">=\s*([0-9]+(?:\.[0-9]+)*)", specifier)
    if floor is None:
        raise SystemExit(
            f"pyproject.toml: {requirement!r} has no lower bound (>=), so CI cannot test its lowest version; "
            "declare the lowest version that works."
        )
    parts = floor.group(1).split(".")
    minor = ".".join([*parts, "0"][:2])
    pin = f"=={minor}.*" if len(parts) <= 2 else f">={floor.group(1)},=={minor}.*"
    return f"{match.group(1)}{pin}"


def main(argv: list[str]) -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    if argv[:1] == ["lowest"]:
        requirements = list(project["dependencies"])
        for extra in argv[1:]:
            if extra not in extras:
                raise SystemExit(f"pyproject.toml has no extra {extra!r}; it has: {', '.join(extras)}")
            requirements += extras[extra]
        print("\n".join(lowest_pin(r) for r in requirements))
    elif argv[:1] == ["tools"] and argv[1:2] in ([], ["--without"]):
        without = {n.lower() for n in argv[2:]}
        print("\n".join(r for r in extras["test"] if _name(r) not in without))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
