"""Input records and the safe file reader shared by every source."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: bytes one file may have (the default of ``CROWDGATE_MAX_FILE_BYTES``)
DEFAULT_MAX_FILE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One input file: its name inside the source, its bytes, and manifest label and split."""

    name: str
    data: bytes
    label: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Rejection:
    """One input refused: its name, a stable ``reason`` code and a sentence saying why."""

    name: str
    reason: str
    message: str


@dataclass(frozen=True)
class Skipped:
    """A file a resumed import already wrote: named only, its bytes not read again."""

    name: str


Source = Iterator[Entry | Rejection | Skipped]


def read_file(path: Path, name: str, max_file_bytes: int) -> Entry | Rejection:
    """Read a regular file without following a final symlink or blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return Rejection(name, "missing-file", f"{name!r} does not exist; fix the path.")
    except OSError as exc:
        if path.is_symlink():
            return Rejection(
                name,
                "symlink",
                "The file is a symbolic link, which is never followed; copy the file itself.",
            )
        return Rejection(name, "unreadable", f"{name!r} cannot be read ({exc.strerror}).")
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            return Rejection(
                name, "not-a-file", f"{name!r} is not a regular file (a device, pipe or socket)."
            )
        if info.st_size > max_file_bytes:
            return too_large(name, info.st_size, max_file_bytes)
        # Ask for the size fstat gave (plus one byte, to notice a file still growing), not for
        # the limit: read(n) allocates n bytes up front, 25 MiB per file by default.
        data = fh.read(info.st_size + 1)
        if len(data) > info.st_size:  # grew since fstat: read on, up to the limit
            data += fh.read(max_file_bytes + 1 - len(data))
    if len(data) > max_file_bytes:
        return too_large(name, len(data), max_file_bytes)
    return Entry(name, data)


def too_large(name: str, size: int, limit: int) -> Rejection:
    return Rejection(
        name,
        "too-large",
        f"The file has {size} bytes, more than the limit of {limit}; shrink "
        "it or raise CROWDGATE_MAX_FILE_BYTES.",
    )
