"""Streaming exports of a project's labels: CSV, JSONL, ImageFolder zip and Label Studio JSON.

Every format is a generator of byte chunks over :func:`iter_records`, which reads the store a
batch at a time, so an export of any size runs in flat memory and can be written to a file or
sent as an HTTP response as it is produced. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import BadRequest
from ..models import Project
from ..store import Store
from . import csv_format, imagefolder, jsonl_format, labelstudio
from .labelstudio import DEFAULT_IMAGE_URL, labeling_config
from .records import FIELDS, ExportOptions, ExportRecord, iter_records, record_of, split_of

__all__ = [
    "DEFAULT_IMAGE_URL",
    "FIELDS",
    "FORMATS",
    "ExportOptions",
    "ExportRecord",
    "Format",
    "export_chunks",
    "get_format",
    "iter_records",
    "labeling_config",
    "record_of",
    "split_of",
]


@dataclass(frozen=True)
class Format:
    """An export format: its name, HTTP media type and file extension."""

    name: str
    media_type: str
    extension: str


FORMATS = {
    f.name: f
    for f in (
        Format("csv", "text/csv; charset=utf-8", ".csv"),
        Format("jsonl", "application/x-ndjson", ".jsonl"),
        Format("imagefolder", "application/zip", ".zip"),
        Format("labelstudio", "application/json", ".json"),
    )
}


def get_format(name: str) -> Format:
    """Return the format called ``name``; raise :class:`BadRequest` listing the known ones."""
    if name not in FORMATS:
        raise BadRequest(
            f"Export format {name!r} is unknown; use one of {', '.join(FORMATS)}.",
            code="invalid-export-format",
        )
    return FORMATS[name]


def export_chunks(
    store: Store,
    project: Project,
    fmt: str,
    options: ExportOptions,
    *,
    tick: Callable[[], object] | None = None,
    image_url: str = DEFAULT_IMAGE_URL,
) -> Iterator[bytes]:
    """Return a generator of the export's bytes; ``tick`` is called once per item read.

    Raises
    ------
    BadRequest
        At once (before any byte) for an unknown format or a bad Label Studio URL template
        (checked for every format, so a wrong option never passes unnoticed).
    """
    get_format(fmt)
    labelstudio.check_template(image_url)  # whatever the format: a bad option is an error
    records = iter_records(store, project.id, options, tick)
    if fmt == "csv":
        return csv_format.chunks(records)
    if fmt == "jsonl":
        return jsonl_format.chunks(records)
    if fmt == "imagefolder":
        return imagefolder.chunks(records, store, project.id)
    return labelstudio.chunks(records, project.id, image_url)
