"""Zip archives read entry by entry into memory, with zip-slip, link and bomb defences."""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import ImportRejected
from ._files import DEFAULT_MAX_FILE_BYTES, Entry, Rejection, Source, too_large

_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """Bounds that make a zip bomb fail fast; sizes are uncompressed bytes."""

    #: files (entries) an archive may hold
    max_entries: int = 100_000
    #: bytes one entry may expand to
    max_entry_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: bytes all entries together may expand to
    max_total_bytes: int = 16 * 1024**3
    #: uncompressed / compressed size an entry may reach once it is past ``ratio_floor_bytes``
    max_ratio: float = 100.0
    #: bytes below which an entry is too small to be a bomb, whatever its ratio
    ratio_floor_bytes: int = 1024 * 1024


def iter_zip(path: str | os.PathLike[str], *, limits: ZipLimits | None = None) -> Source:
    """Yield the files of a zip archive in name order, reading them into memory only.

    Refused per entry: unsafe names (absolute, ``..``, drive letters, backslashes) as
    ``unsafe-path``, symbolic links as ``symlink``, encrypted entries as ``encrypted``, nested
    archives as ``nested-archive``, entries over the size limit as ``too-large`` and entries
    whose compression ratio or real size betrays a bomb as ``zip-bomb``. Directories, hidden
    files and ``__MACOSX`` resource forks are skipped.

    Raises
    ------
    ImportRejected
        ``not-a-zip`` if the file is no zip archive; ``zip-bomb`` if it declares too many
        entries or too many bytes in total, or if its entries expand past the total.
    """
    limits = limits or ZipLimits()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        # ValueError covers names flagged UTF-8 that are not.
        raise ImportRejected(
            "not-a-zip", f"{str(path)!r} is not a readable zip archive ({exc}); re-create it."
        ) from exc
    try:
        members = sorted(
            (info for info in zf.infolist() if not skipped_member(info)),
            key=lambda info: info.filename,
        )
        _check_archive(members, limits)
    except BaseException:
        zf.close()
        raise
    return _members(zf, members, limits)


def _members(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], limits: ZipLimits) -> Source:
    with zf:
        total = 0
        for info in members:
            outcome = _check_member(info, limits) or _read_member(zf, info, limits)
            if isinstance(outcome, Entry):
                total += len(outcome.data)
                if total > limits.max_total_bytes:
                    # Only reachable when headers lie: the declared total was checked up front.
                    raise _archive_bomb(f"expands to more than {limits.max_total_bytes} bytes")
            yield outcome


def skipped_member(info: zipfile.ZipInfo) -> bool:
    """Return whether an entry is a folder, a hidden file or a macOS resource fork."""
    parts = info.filename.replace("\\", "/").split("/")
    return (
        info.is_dir()
        or parts[0] == "__MACOSX"
        or any(p.startswith(".") and p not in (".", "..") for p in parts)
    )


def _check_archive(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(members) > limits.max_entries:
        raise _archive_bomb(f"holds {len(members)} files, more than {limits.max_entries}")
    declared = sum(info.file_size for info in members)
    if declared > limits.max_total_bytes:
        raise _archive_bomb(
            f"declares {declared} uncompressed bytes, more than {limits.max_total_bytes}"
        )


def _archive_bomb(detail: str) -> ImportRejected:
    return ImportRejected(
        "zip-bomb", f"The archive {detail}; split it into smaller archives or import a folder."
    )


def _unsafe_name(name: str) -> str | None:
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in PurePosixPath(name).parts:
        return "climbs out of the archive with '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def _check_member(info: zipfile.ZipInfo, limits: ZipLimits) -> Rejection | None:
    name = info.filename
    why = _unsafe_name(name)
    if why:
        return Rejection(
            name,
            "unsafe-path",
            f"The archive entry name {why}; rebuild the archive with plain relative names.",
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        return Rejection(
            name,
            "symlink",
            "The archive entry is a symbolic link, which is never followed; add the file itself.",
        )
    if info.flag_bits & 0x1:
        return Rejection(
            name,
            "encrypted",
            "The archive entry is encrypted; rebuild the archive without a password.",
        )
    if info.file_size > limits.max_entry_bytes:
        return too_large(name, info.file_size, limits.max_entry_bytes)
    if info.file_size > limits.ratio_floor_bytes and (
        info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        ratio = info.file_size / max(info.compress_size, 1)
        return Rejection(
            name,
            "zip-bomb",
            f"The archive entry expands {ratio:.0f} times (limit "
            f"{limits.max_ratio:.0f}), which is how zip bombs work; store the file with "
            "normal compression.",
        )
    return None


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ZipLimits
) -> Entry | Rejection:
    # Headers can lie, so the real output is bounded too, by both size and ratio.
    ceiling = min(
        limits.max_entry_bytes,
        max(limits.ratio_floor_bytes, int(limits.max_ratio * max(info.compress_size, 1))),
    )
    name = info.filename
    out = io.BytesIO()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                out.write(chunk)
                if out.tell() > ceiling:
                    return Rejection(
                        name,
                        "zip-bomb",
                        f"The archive entry expands past {ceiling} bytes "
                        "although its header says otherwise; rebuild the archive.",
                    )
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        return Rejection(
            name, "unreadable", f"The archive entry cannot be read ({exc}); rebuild the archive."
        )
    data = out.getvalue()
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return Rejection(
            name,
            "nested-archive",
            "The entry is itself a zip archive, which is not expanded; import it separately.",
        )
    return Entry(name, data)
