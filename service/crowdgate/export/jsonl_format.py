"""JSON Lines export: one JSON object per record and line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .records import ExportRecord
from .stream import CHUNK_BYTES, ChunkSink


def chunks(records: Iterable[ExportRecord]) -> Iterator[bytes]:
    """Yield the JSONL file in chunks of about :data:`CHUNK_BYTES`."""
    sink = ChunkSink()
    for record in records:
        sink.write(json.dumps(record.to_dict(), ensure_ascii=False).encode() + b"\n")
        yield from sink.drain(CHUNK_BYTES)
    yield from sink.drain()
