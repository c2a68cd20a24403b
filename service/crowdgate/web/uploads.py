"""Save uploaded files for the importer (admin API and dashboard share this)."""

from __future__ import annotations

from pathlib import Path

from flask import request
from werkzeug.datastructures import FileStorage

from ..errors import BadRequest


def allow_large_body(max_bytes: int) -> None:
    """Raise this request's body limit (the app's default is small); call after auth."""
    request.max_content_length = max_bytes


def save_uploads(files: list[FileStorage], folder: Path) -> Path:
    """Save ``files`` under ``folder`` and return what to import: the folder, or a lone zip.

    File names keep only their last part; empty, ``.``, ``..`` and hidden names, and names
    that repeat, get a safe generated name so no upload overwrites or escapes another.
    """
    if not files:
        raise BadRequest(
            "Upload one or more files in the multipart field 'file'.", code="bad-request"
        )
    folder.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for n, upload in enumerate(files):
        name = Path((upload.filename or "").replace("\\", "/")).name
        if name in ("", ".", "..") or name.startswith(".") or name in names:
            name = f"upload-{n}{Path(name).suffix if name not in ('.', '..') else ''}"
        upload.save(folder / name)
        names.append(name)
    if len(names) == 1 and names[0].lower().endswith(".zip"):
        return folder / names[0]
    return folder
