"""ImageFolder zip: ``<split>/<item>.webp`` plus one ``<split>/metadata.jsonl`` per split.

Hugging Face ``datasets`` loads the extracted folder with
``load_dataset("imagefolder", data_dir=...)``: one dataset split per folder, and the label,
confidence, source and votes as columns. Metadata lines wait in temporary files on disk until
the images are written, so memory does not grow with the number of items. The imported file
name is ``original_name``: ``datasets`` reads any column ending in ``file_name`` as a path.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO

from ..store import Store
from ..store.base import IMAGE
from .records import TRAIN, ExportRecord
from .stream import CHUNK_BYTES, ChunkSink
from .zipstream import StreamingZip

SPLIT_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")


def split_folder(split: str | None) -> str:
    """Return the folder of a split: its name made path-safe, ``train`` when there is none."""
    return SPLIT_NAME_RE.sub("_", split)[:40] if split else TRAIN


def chunks(records: Iterable[ExportRecord], store: Store, project_id: str) -> Iterator[bytes]:
    """Yield the zip archive in chunks; items whose image is missing are left out."""
    sink = ChunkSink()
    metadata: dict[str, IO[bytes]] = {}
    with ExitStack() as temps:
        archive = StreamingZip(sink, temps.enter_context(_spool("crowdgate-zipdir-")))
        for record in records:
            image = store.get_blob(project_id, record.item_id, IMAGE)
            if image is None:
                continue
            folder = split_folder(record.split)
            name = f"{record.item_id}.webp"
            # WebP is already compressed: storing it costs no size and saves the CPU.
            archive.add(f"{folder}/{name}", image)
            row = {
                "file_name": name,
                "item_id": record.item_id,
                "original_name": record.file_name,
                "label": record.label,
                "confidence": record.confidence,
                "votes": record.votes,
                "source": record.source,
                "model_version": record.model_version,
            }
            if folder not in metadata:
                metadata[folder] = temps.enter_context(_spool("crowdgate-meta-"))
            metadata[folder].write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            yield from sink.drain(CHUNK_BYTES)
        for folder, lines in sorted(metadata.items()):
            lines.seek(0)
            for _ in archive.add_file(f"{folder}/metadata.jsonl", lines):
                yield from sink.drain(CHUNK_BYTES)
        for _ in archive.close():
            yield from sink.drain(CHUNK_BYTES)
    yield from sink.drain()


def _spool(prefix: str) -> IO[bytes]:
    return tempfile.TemporaryFile(prefix=prefix)
