"""The per-file work of an import, runnable in a worker process: decode, normalize, variants.

:func:`prepare_entry` is the one call each file goes through (in this process, a thread or a
worker of a process pool). It takes a file's bytes and returns the item and every blob the
store keeps for it, or a :class:`Rejection`; it never touches the store, so the pool's workers
need no store connection and the parent writes items in source order.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..clock import Clock, system_clock
from ..config import Settings
from ..errors import ImportRejected
from ..models import GOLD, UNLABELED, Item, Project
from ..store.base import IMAGE, THUMB
from ._files import Entry, Rejection
from .images import normalize_image
from .tiles import item_tiles

__all__ = ["Job", "Prepared", "prepare_entry"]


@dataclass
class Prepared:
    """One file made ready for the store: the item, its blobs and its feature vector."""

    item: Item
    blobs: dict[str, bytes]
    features: np.ndarray | None


@dataclass(frozen=True)
class Job:
    """What every file of one import is prepared with (sent once to each worker process)."""

    project: Project
    settings: Settings
    extract: Any = None  # a picklable function image -> vector, or None
    clock: Clock = system_clock
    #: the encoding of tile variants, "jpeg" or "webp" (one per project: importer.py)
    tile_format: str = "jpeg"
    #: the encoding of thumbnails, "jpeg" (projects whose tiles are deferred) or "webp"
    thumb_format: str = "webp"


def prepare_entry(
    job: Job, entry: Entry | Rejection, features: np.ndarray | None, tiles: bool = True
) -> Prepared | Rejection:
    """Normalize one file and make its thumbnail, features and (if ``tiles``) its grid
    tiles, or refuse it."""
    if isinstance(entry, Rejection):  # refused by the source, before any decoding
        return entry
    try:
        return _prepare(job, entry, features, tiles)
    except ImportRejected as exc:
        return Rejection(entry.name, exc.reason, exc.message)


def _prepare(job: Job, entry: Entry, features: np.ndarray | None, tiles: bool) -> Prepared:
    settings, project = job.settings, job.project
    if entry.label is not None and entry.label not in project.labels:
        raise ImportRejected(
            "unknown-label",
            f"The label {entry.label!r} is not one of the project's labels "
            f"({', '.join(project.labels)}); fix the manifest or add the label to the project.",
        )
    norm = normalize_image(
        entry.data,
        max_pixels=settings.max_image_pixels,
        max_side_px=settings.max_side_px,
        thumb_px=settings.thumb_px,
        max_file_bytes=settings.max_file_bytes,
        thumb_format=job.thumb_format,
    )
    if features is None and job.extract is not None:
        features = np.asarray(job.extract(norm.image), dtype=np.float32)
    gold = entry.label is not None
    blobs = {IMAGE: norm.data, THUMB: norm.thumb}
    # Every served item gets variants, not only gold: if only gold tiles were perturbed, a
    # bot could tell gold from unlabeled tiles by their bytes and answer only the gold ones
    # truthfully. An open item imported without them is not served until it has them (tiles.py).
    n_variants = settings.tile_variants if tiles or gold else 0
    if n_variants:
        blobs.update(
            item_tiles(settings, norm.sha256, norm.image, fmt=job.tile_format, base=norm.base)
        )
    item = Item(
        project=project.id,
        id=norm.sha256,
        filename=entry.name,
        state=GOLD if gold else UNLABELED,
        known_label=entry.label,
        label=entry.label,
        split=entry.split,
        width=norm.width,
        height=norm.height,
        mime=norm.mime,
        variants=n_variants,
        created_at=job.clock(),
    )
    return Prepared(item, blobs, features)


# -- worker processes ------------------------------------------------------------------------
_JOB: Job | None = None


def init_worker(job: Job) -> None:
    """Process-pool initializer: keep the job; leave Ctrl-C to the parent, which stops cleanly."""
    global _JOB
    _JOB = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def prepare_in_worker(
    entry: Entry | Rejection, features: np.ndarray | None, tiles: bool = True
) -> Prepared | Rejection:
    """:func:`prepare_entry` with the job :func:`init_worker` kept (runs in a pool worker)."""
    assert _JOB is not None, "init_worker was not run in this process"
    return prepare_entry(_JOB, entry, features, tiles)
