"""CSV and JSONL manifests: files with optional known labels and splits, kept in one folder."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..errors import ImportRejected
from ._files import DEFAULT_MAX_FILE_BYTES, Entry, Rejection, Source, read_file

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")
#: Hugging Face ``imagefolder`` metadata names the file column ``file_name``.
_FILE_ALIASES = ("file", "file_name")


def iter_manifest(
    path: str | os.PathLike[str], *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Source:
    """Yield the files a CSV or JSONL manifest lists, with their known label and split.

    A CSV manifest has a header naming ``file`` and optionally ``label`` and ``split``; a JSONL
    manifest has one object per line with the same keys (``file_name`` is accepted for
    ``file``; other columns are ignored). Paths are relative to the manifest's folder; a path
    that leaves that folder is refused as ``unsafe-path``, a missing file as ``missing-file``.

    Raises
    ------
    ImportRejected
        ``bad-manifest``, naming the line, when called, if any line is malformed.
    """
    path = Path(path)
    rows = parse_manifest(path)
    return _entries(rows, path.parent.resolve(), max_file_bytes)


def _entries(
    rows: list[tuple[str, str | None, str | None]], base: Path, max_file_bytes: int
) -> Source:
    for file, label, split in rows:
        target = Path(file) if Path(file).is_absolute() else base / file
        try:
            inside = target.resolve().is_relative_to(base)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            yield Rejection(
                file,
                "unsafe-path",
                "The path leads outside the manifest's folder; move the file next to the manifest.",
            )
            continue
        name = target.relative_to(base).as_posix() if Path(file).is_absolute() else file
        outcome = read_file(target, name, max_file_bytes)
        if isinstance(outcome, Entry):
            outcome = Entry(name, outcome.data, label, split)
        yield outcome


def parse_manifest(path: Path) -> list[tuple[str, str | None, str | None]]:
    """Return the (file, label, split) rows of a manifest, or raise ``bad-manifest``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRejected(
            "bad-manifest", f"The manifest {str(path)!r} cannot be read as UTF-8 text ({exc})."
        ) from exc
    if path.suffix.lower() == ".csv":
        return _parse_csv(path.name, text)
    return _parse_jsonl(path.name, text)


def _bad_line(manifest: str, line: int, detail: str) -> ImportRejected:
    return ImportRejected("bad-manifest", f"{manifest}, line {line}: {detail}.")


def _parse_csv(manifest: str, text: str) -> list[tuple[str, str | None, str | None]]:
    reader = csv.reader(io.StringIO(text, newline=""))
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
    rows = []
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
            rows.append(
                _row(
                    manifest,
                    reader.line_num,
                    record[file_col],
                    None if label_col is None else record[label_col],
                    None if split_col is None else record[split_col],
                )
            )
    except csv.Error as exc:
        raise _bad_line(manifest, reader.line_num, f"malformed CSV ({exc})") from exc
    return rows


def _parse_jsonl(manifest: str, text: str) -> list[tuple[str, str | None, str | None]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_line(manifest, number, f"not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise _bad_line(manifest, number, 'expected an object like {"file": "a.jpg"}')
        file = next((record[a] for a in _FILE_ALIASES if a in record), None)
        rows.append(_row(manifest, number, file, record.get("label"), record.get("split")))
    return rows


def _row(
    manifest: str, line: int, file: object, label: object, split: object
) -> tuple[str, str | None, str | None]:
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
