"""Import sources: a folder, a zip archive, a manifest (CSV or JSONL) or one file.

Each iterator yields :class:`Entry` (a file's name and bytes, with the known label and split a
manifest gives) or :class:`Rejection` (a file refused before decoding, with a stable reason), in
a deterministic order. Nothing is ever extracted to disk, links are never followed, and every
size is bounded before the bytes are read. A source that cannot be read at all raises
:class:`crowdgate.errors.ImportRejected` before the first entry.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import ImportRejected
from ._files import DEFAULT_MAX_FILE_BYTES, Entry, Rejection, Skipped, Source, read_file
from ._manifest import MANIFEST_SUFFIXES, count_manifest, iter_manifest
from ._zip import ZipLimits, iter_zip, skipped_member

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "MANIFEST_SUFFIXES",
    "Entry",
    "Rejection",
    "Source",
    "ZipLimits",
    "count_source",
    "iter_folder",
    "iter_manifest",
    "iter_source",
    "iter_zip",
]


def iter_source(
    path: str | os.PathLike[str],
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    zip_limits: ZipLimits | None = None,
    skip: int = 0,
) -> Source:
    """Yield the entries of a folder, ``.zip``, ``.csv``/``.jsonl`` manifest or single file.

    ``skip``: the first this many entries of a folder or manifest come as :class:`Skipped`
    (name only, the file not read), for an import resuming after them; a zip's are read.
    """
    path = Path(path)
    if path.is_dir():
        return iter_folder(path, max_file_bytes=max_file_bytes, skip=skip)
    if not path.exists():
        raise ImportRejected(
            "missing-file", f"{str(path)!r} does not exist; check the path to import."
        )
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        return iter_manifest(path, max_file_bytes=max_file_bytes, skip=skip)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        limits = zip_limits or ZipLimits(max_entry_bytes=max_file_bytes)
        return iter_zip(path, limits=limits)
    return _iter_single(path, max_file_bytes)


def count_source(path: str | os.PathLike[str]) -> int | None:
    """Return how many entries :func:`iter_source` will yield, or ``None`` if unknown cheaply."""
    path = Path(path)
    try:
        if path.is_dir():
            return sum(1 for _ in _walk(path, ""))
        if path.suffix.lower() in MANIFEST_SUFFIXES:
            return count_manifest(path)
        if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return sum(1 for info in zf.infolist() if not skipped_member(info))
    except (OSError, ImportRejected, zipfile.BadZipFile):
        return None
    return 1 if path.is_file() else None


# -- folders ---------------------------------------------------------------------------------
def iter_folder(
    path: str | os.PathLike[str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, skip: int = 0
) -> Source:
    """Yield every non-hidden file under ``path``, recursively, sorted by relative name.

    Symbolic links (to files or folders) are reported as ``symlink`` and never followed; hidden
    files and folders (a name starting with ``.``) are skipped silently.
    """
    root = Path(path)
    for n, (name, entry_path, is_link) in enumerate(_walk(root, "")):
        if n < skip:
            yield Skipped(name)
            continue
        if is_link:
            yield Rejection(
                name,
                "symlink",
                "The file is a symbolic link, which is never followed; copy the "
                "file itself into the folder.",
            )
            continue
        yield read_file(entry_path, name, max_file_bytes)


def _walk(root: Path, prefix: str) -> Iterator[tuple[str, Path, bool]]:
    # Only the sorted names of one folder are held (not os.DirEntry objects, several times
    # larger), and each entry is looked at when its turn comes: a folder of a million photos
    # costs its names' memory, no more.
    for child in sorted(n for n in os.listdir(root) if not n.startswith(".")):
        path = root / child
        name = f"{prefix}{child}"
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG  # gone since listed: read_file reports it as missing-file
        if stat.S_ISLNK(mode):
            yield name, path, True
        elif stat.S_ISDIR(mode):
            yield from _walk(path, f"{name}/")
        else:
            yield name, path, False


def _iter_single(path: Path, max_file_bytes: int) -> Source:
    if path.is_symlink():
        yield Rejection(
            path.name,
            "symlink",
            "The file is a symbolic link, which is never followed; import the file itself.",
        )
        return
    yield read_file(path, path.name, max_file_bytes)
