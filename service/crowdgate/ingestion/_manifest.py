"""CSV and JSONL manifests: files with optional known labels and splits, kept in one folder."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ..errors import ImportRejected
from ._files import DEFAULT_MAX_FILE_BYTES, Entry, Rejection, Skipped, Source, read_file

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
#: Hugging Face ``imagefolder`` metadata names the file column ``file_name``.
_FILE_ALIASES = ("file", "file_name")

#: one manifest line: the file, its known label and its split
Row = tuple[str, str | None, str | None]


def iter_manifest(
    path: str | os.PathLike[str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, skip: int = 0
) -> Source:
    """Yield the files a CSV or JSONL manifest lists, with their known label and split.

    A CSV manifest has a header naming ``file`` and optionally ``label`` and ``split``; a JSONL
    manifest has one object per line with the same keys (``file_name`` is accepted for
    ``file``; other columns are ignored). Paths are relative to the manifest's folder; a path
    that leaves that folder is refused as ``unsafe-path``, a missing file as ``missing-file``.
    The manifest is read line by line twice (once to check it, once to import it), so memory
    stays flat at any length.

    Raises
    ------
    ImportRejected
        ``bad-manifest``, naming the line, when called, if any line is malformed.
    """
    path = Path(path)
    count_manifest(path)  # the whole manifest is checked before the first file is read
    return _entries(iter_rows(path), path.parent.resolve(), max_file_bytes, skip)


def _entries(rows: Iterator[Row], base: Path, max_file_bytes: int, skip: int = 0) -> Source:
    for n, (file, label, split) in enumerate(rows):
        target = Path(file) if Path(file).is_absolute() else base / file
        try:
            inside = target.resolve().is_relative_to(base)
        except (OSError, RuntimeError):
            inside = False
        if n < skip:  # an import resuming past it: named as it was, not read
            yield Skipped(
                file if not inside or not Path(file).is_absolute() else _rel(target, base)
            )
            continue
        if not inside:
            yield Rejection(
                file,
                "unsafe-path",
                "The path leads outside the manifest's folder; move the file next to the manifest.",
            )
            continue
        name = _rel(target, base) if Path(file).is_absolute() else file
        outcome = read_file(target, name, max_file_bytes)
        if isinstance(outcome, Entry):
            outcome = Entry(name, outcome.data, label, split)
        yield outcome


def _rel(target: Path, base: Path) -> str:
    return target.relative_to(base).as_posix()


def count_manifest(path: Path) -> int:
    """Return how many files a manifest lists, or raise ``bad-manifest`` (flat memory)."""
    return sum(1 for _ in iter_rows(path))


def parse_manifest(path: Path) -> list[Row]:
    """Return the (file, label, split) rows of a manifest, or raise ``bad-manifest``."""
    return list(iter_rows(path))


def iter_rows(path: Path) -> Iterator[Row]:
    """Yield the (file, label, split) rows of a manifest as read, or raise ``bad-manifest``."""
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    with fh:
        is_csv = path.suffix.lower() == ".csv"
        rows = _csv_rows(path.name, fh) if is_csv else _jsonl_rows(path.name, fh)
        try:
            yield from rows
        except UnicodeDecodeError as exc:
            raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: Exception) -> ImportRejected:
    return ImportRejected(
        "bad-manifest", f"The manifest {str(path)!r} cannot be read as UTF-8 text ({exc})."
    )


def _bad_line(manifest: str, line: int, detail: str) -> ImportRejected:
    return ImportRejected("bad-manifest", f"{manifest}, line {line}: {detail}.")


def _csv_rows(manifest: str, fh: TextIO) -> Iterator[Row]:
    reader = csv.reader(fh)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise _bad_line(
            manifest, 1, "the manifest is empty; add a header 'file,label,split'"
        ) from None
    except csv.Error as exc:
        raise _bad_line(manifest, reader.line_num, f"malformed CSV ({exc})") from exc
    file_col = next((header.index(a) for a in _FILE_ALIASES if a in header), None)
    if file_col is None:
        raise _bad_line(
            manifest,
            1,
            f"the header {','.join(header)!r} has no 'file' column; start the "
            "manifest with 'file,label,split' (label and split are optional)",
        )
    label_col = header.index("label") if "label" in header else None
    split_col = header.index("split") if "split" in header else None
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise _bad_line(
                    manifest,
                    reader.line_num,
                    f"found {len(record)} fields where the header "
                    f"has {len(header)}; quote values that contain commas",
                )
            yield _row(
                manifest,
                reader.line_num,
                record[file_col],
                None if label_col is None else record[label_col],
                None if split_col is None else record[split_col],
            )
    except csv.Error as exc:
        raise _bad_line(manifest, reader.line_num, f"malformed CSV ({exc})") from exc


def _jsonl_rows(manifest: str, fh: TextIO) -> Iterator[Row]:
    # Lines end at \n, \r or \r\n; none can occur raw inside a JSON string.
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(manifest, number, f"not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise _bad_line(manifest, number, 'expected an object like {"file": "a.jpg"}')
        file = next((record[a] for a in _FILE_ALIASES if a in record), None)
        yield _row(manifest, number, file, record.get("label"), record.get("split"))


def _row(manifest: str, line: int, file: object, label: object, split: object) -> Row:
    if not isinstance(file, str) or not file.strip():
        raise _bad_line(manifest, line, "the 'file' value is missing or empty; name the image file")
    return (
        file.strip(),
        _text(manifest, line, "label", label),
        _text(manifest, line, "split", split),
    )


def _text(manifest: str, line: int, key: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad_line(
            manifest, line, f"the {key!r} value {value!r} is not text; write it as a string"
        )
    text = str(value).strip()
    return text or None
