"""The ``biograd`` command line: the only place in biograd that prints or exits.

One module per part: ``parser`` (the commands and their options), ``train``, ``use`` (predict, evaluate,
explain), ``teach`` (demo, datasets, tour, playground), ``console`` (what is written, and how) and
``errors`` (exit codes; library errors in command-line words).
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from biograd.cli.console import _err, _show_warning, _silence_stdout
from biograd.cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, _one_message, _user_errors
from biograd.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or argparse's own usage errors (code 2)
        return int(stop.code or 0) if not isinstance(stop.code, str) else EXIT_BAD_INPUT
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    args.argv = list(sys.argv[1:] if argv is None else argv)
    debug = getattr(args, "debug", False)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except BrokenPipeError:  # the reader of our output (| head) stopped reading: not an error
            _silence_stdout()
            return 0
        except KeyboardInterrupt:
            if debug:
                raise
            _err("Interrupted; nothing was written.")
            return EXIT_INTERRUPTED
        except _user_errors() as err:
            if debug:
                raise
            _err(f"error: {_one_message(err)}")
            return EXIT_BAD_INPUT
        except Exception as err:
            if debug:
                raise
            _err(f"error: unexpected {type(err).__name__}: {err}")
            _err("This looks like a bug in biograd; run again with --debug for the traceback and report it.")
            return 1


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
