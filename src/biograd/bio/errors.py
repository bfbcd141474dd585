"""The error for data that cannot be used as given (a bad file, a missing column, an unknown letter)."""

from __future__ import annotations


class DataError(ValueError):
    """The user's data cannot be used as it is. The message says what is wrong, where (file, line,
    column, sequence ID) and how to fix it, in one or two lines, so the command line can show it as is."""
