"""CSV export: a header row, then one row per record (UTF-8, RFC 4180 quoting)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from .records import FIELDS, ExportRecord
from .stream import CHUNK_BYTES


def chunks(records: Iterable[ExportRecord]) -> Iterator[bytes]:
    """Yield the CSV file in chunks of about :data:`CHUNK_BYTES`; empty cells stand for None."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        writer.writerow(["" if v is None else v for v in record.to_dict().values()])
        if text.tell() >= CHUNK_BYTES:
            yield text.getvalue().encode()
            text.seek(0)
            text.truncate()
    yield text.getvalue().encode()
