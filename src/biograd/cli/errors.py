"""Exit codes, and a library error in the words of the command line (flags, not Python names)."""

from __future__ import annotations

import re

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "your input is wrong" (exit code 2, a message, no traceback)."""
    from biograd.bio.errors import DataError
    from biograd.io import ModelFileError

    return (
        DataError,
        ModelFileError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        ValueError,
        ImportError,
    )


def _one_message(err: BaseException) -> str:
    text = str(err).strip()
    if isinstance(err, KeyError) and err.args and isinstance(err.args[0], str):
        text = err.args[0].strip()  # str(KeyError) adds quotes around the message; a message's own stay
    return _flag_names(text) or type(err).__name__


#: Settings whose Python names a message may use, and the flags a command-line user typed instead.
_FLAGS = {
    name: "--" + name.replace("_", "-")
    for name in (
        "test_fraction",
        "val_fraction",
        "batch_size",
        "weight_decay",
        "kernel_size",
        "label_column",
        "sample_id_column",
        "keep_conflicting",
    )
}


def _flag_names(text: str) -> str:
    """A library message in command-line words: "The 'test_fraction' parameter" becomes "--test-fraction",
    "val_fraction + test_fraction" becomes "--val-fraction + --test-fraction"."""
    text = re.sub(r"The '(\w+)' parameter", lambda m: "--" + m.group(1).replace("_", "-"), text)
    for name, flag in _FLAGS.items():
        text = re.sub(rf"(?<![\w-]){name}\b", flag, text)
    return text
