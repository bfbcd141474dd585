"""What the command line writes: one flushed line at a time to stdout, warnings and errors to stderr,
plain-text tables."""

from __future__ import annotations

import os
import sys
from typing import Any


def _out(text: str = "") -> None:
    """One line to stdout, flushed; a reader that stopped reading (``| head``) silences the rest of the
    output rather than the command (a run still writes its files)."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at the null device: the reader of the pipe is gone, and Python would otherwise fail
    again when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests, notebooks)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    _err(f"warning: {message}")


def _table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """Plain-text table, columns padded; numbers right-aligned."""
    cells = [[_cell(c) for c in row] for row in ([header] if header else []) + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    originals = [header, *rows] if header else rows
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, c in enumerate(row):
            raw = (header is None or n > 0) and isinstance(originals[n][i], (int, float))
            parts.append(c.rjust(widths[i]) if raw else c.ljust(widths[i]))
        lines.append("  " + "  ".join(parts).rstrip())
        if header and n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
