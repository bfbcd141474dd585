"""The files a model is kept in: written atomically, read only when regular and of bounded size, and the
error (:class:`ModelFileError`) that names the file when one cannot be read.

Every write goes to a temporary file in the same directory that is then renamed over the old file
(``os.replace`` is atomic), so an interrupted save never leaves a half-written file; the temporaries a killed
writer left behind are removed by the next write. Every read refuses directories, devices and pipes, and
files over a size limit, before reading a byte; the biological readers (:mod:`biograd.bio`) read their
files the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, truncated, corrupted, from an unknown format version,
    or with weights that do not fit the architecture. The message names the file and what is wrong."""


def _fail(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{path}: {what}")


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back: the only way os offers)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old content or all of the new one.

    The bytes go to a temporary file in the same directory (same file system, so the rename cannot turn
    into a copy), are flushed to disk, and the file is then renamed over ``path`` with ``os.replace``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it private; a model file is an ordinary one
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def process_is_alive(pid: int) -> bool:
    """Whether a process with this id runs (on this machine): used to tell leftovers of killed writers
    from files another process is still writing."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # exists, owned by someone else; or not a real pid
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files that killed writes of ``path`` left behind; returns those removed.

    ``_atomic_write`` names its temporary file ``.NAME.PID.random.tmp``; a process killed before the
    rename (kill -9, power loss) leaves it there. A file whose writer PID no longer runs can never be
    finished, so it is removed. A writer that is still running (another save to the same place) is
    left alone.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^/]*\.tmp")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and int(match.group(1)) != os.getpid() and not process_is_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _parse_json(raw: bytes, path: Path, what: str) -> Any:
    """JSON from a model file; every way it can fail (not UTF-8, not JSON, a number too long for Python,
    nesting deeper than the parser's recursion allows) is a ModelFileError naming ``path``."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, f"{what} is not text (UTF-8); the file is corrupted.") from None
    except RecursionError:
        raise _fail(
            path, f"{what} nests lists or objects too deeply to be read; the file is damaged or hostile."
        ) from None
    except ValueError as err:  # json.JSONDecodeError, and int() refusing a 5000-digit number
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise _fail(
            path, f"{what} is not valid JSON ({first}); the file is corrupted or truncated."
        ) from None


def read_regular_file(path: str | os.PathLike, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; otherwise ``fail(what is wrong)`` is raised.

    Refuses directories, devices (``/dev/zero`` never ends), pipes and sockets (a pipe would block the
    reader) before reading a byte, and files larger than ``limit``, checked on the open file (so a file that
    grows while being read is caught too) without reserving more memory than the file holds. A missing
    file raises FileNotFoundError; the caller words it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise fail("is a directory, not a file") from None
    except FileNotFoundError:
        raise
    except OSError as err:
        raise fail(f"cannot be opened ({err.strerror or err})") from None
    mode = os.fstat(fd)
    if not stat.S_ISREG(mode.st_mode):
        os.close(fd)
        if stat.S_ISDIR(mode.st_mode):
            raise fail("is a directory, not a file")
        raise fail("is not a regular file (it is a device, pipe or socket)")
    with os.fdopen(fd, "rb") as f:
        if mode.st_size > limit:
            raise fail(f"is {size_text(mode.st_size)}, more than the {size_text(limit)} allowed")
        try:
            data = f.read(min(mode.st_size, limit) + 1)  # read(n) reserves n bytes up front
        except OSError as err:
            raise fail(f"cannot be read ({err.strerror or err})") from None
    if len(data) > limit:
        raise fail(f"holds more than the {size_text(limit)} allowed")
    return data


def size_text(n_bytes: float) -> str:
    """A byte count for people: 512 bytes, 11.2 KB, 2.0 GB (powers of 1024)."""
    if n_bytes < 1024:
        return f"{int(n_bytes)} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n_bytes /= 1024
        if n_bytes < 1024 or unit == "TB":
            break
    return f"{n_bytes:.1f} {unit}"


def read_model_file(path: str | os.PathLike, limit: int, missing: str = "no such file.") -> bytes:
    """The bytes of one file of a model (see :func:`read_regular_file`), or a ModelFileError naming it.
    ``missing`` completes the message for a missing file."""
    path = Path(path)

    def fail(what: str) -> ModelFileError:
        return _fail(path, f"{what}; a model is stored in ordinary files written by biograd.save.")

    try:
        return read_regular_file(path, limit, fail)
    except FileNotFoundError:
        raise _fail(path, missing) from None
