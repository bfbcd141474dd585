"""Reading a data file's bytes with bounds: what every reader of tables and FASTA does first.

A file received from someone else may be a gzip bomb (2 MB that unpack to gigabytes), a device such as
``/dev/zero``, or simply far larger than a network trained with numpy can use. :func:`read_bytes` reads at
most ``MAX_TEXT_BYTES`` of (unpacked) data, unpacking gzip in chunks so that a bomb fails just past the
limit, with a message saying so, instead of running out of memory.
"""

from __future__ import annotations

import io
from os import PathLike
from pathlib import Path

from biograd.bio.errors import DataError
from biograd.io.files import read_regular_file, size_text

#: The most text a table or FASTA file may hold once unpacked: 512 MiB is tens of millions of table cells,
#: far more than a network trained with numpy gets through. Raise it (biograd.bio.files.MAX_TEXT_BYTES)
#: if you have the memory and the patience.
MAX_TEXT_BYTES = 512 * 1024**2

_CHUNK = 1024**2
_RAISE_IT = "(set biograd.bio.files.MAX_TEXT_BYTES to read more)"


def read_bytes(path: str | PathLike, kind: str = "data", limit: int | None = None) -> bytes:
    """The bytes of a data file, gunzipped when they start with gzip's magic bytes, at most ``limit``
    (default ``MAX_TEXT_BYTES``) of them.

    Raises FileNotFoundError for a missing file and DataError for a folder, a file that is not a regular
    file (a device or a pipe), an empty file, a damaged gzip file, or more data than the limit; messages
    name the file and say a ``kind`` file was expected ("... is a directory, not a file; expected a FASTA
    file.").
    """
    path = Path(path)
    limit = MAX_TEXT_BYTES if limit is None else limit

    def fail(what: str) -> DataError:
        hint = f" {_RAISE_IT}" if "allowed" in what else ""
        return DataError(f"{str(path)!r} {what}; expected a {kind} file.{hint}")

    try:
        data = read_regular_file(path, limit, fail)
    except FileNotFoundError:
        raise FileNotFoundError(f"{kind} file {str(path)!r} not found. Check the path.") from None
    if not data:
        raise DataError(f"{str(path)!r} is empty (0 bytes); expected a {kind} file.")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data, path, kind, limit)
    return data


def _gunzip(packed: bytes, path: Path, kind: str, limit: int) -> bytes:
    """Unpack gzip data in chunks, stopping just past ``limit`` bytes (a bomb never fills memory)."""
    import gzip
    import zlib

    chunks: list[bytes] = []
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(packed), mode="rb") as stream:
            while True:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise DataError(
                        f"{str(path)!r} unpacks to more than the {size_text(limit)} allowed; expected a "
                        f"{kind} file of a sensible size. {_RAISE_IT}"
                    )
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        detail = str(err) or type(err).__name__
        raise DataError(
            f"{str(path)!r} is a damaged gzip file ({detail}); download or compress it again."
        ) from None
    data = b"".join(chunks)
    if not data:
        raise DataError(f"{str(path)!r} is an empty gzip file (nothing inside); expected a {kind} file.")
    return data
