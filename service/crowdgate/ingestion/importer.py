"""Import a folder, zip or manifest into a project through the store interface."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..clock import Clock, system_clock
from ..config import Settings
from ..errors import ImportRejected
from ..models import Project
from ..store.base import Store, variant_kind
from ..store.counters import TILES_KEY
from ._files import Entry, Rejection, Skipped
from .prepare import Job, Prepared, init_worker, prepare_entry, prepare_in_worker
from .resume import Checkpoint
from .sources import count_source, iter_source
from .tiles import COLD_START_TILES

__all__ = ["ImportReport", "import_path"]

FeatureFn = Callable[[Any], np.ndarray]


@dataclass
class ImportReport:
    """What an import did: items added, duplicates merged, and every refused file with why."""

    added: int = 0
    duplicates: int = 0
    problems: list[Rejection] = field(default_factory=list)
    #: files skipped because an earlier, interrupted run of the same import wrote them
    resumed: int = 0

    @property
    def rejected(self) -> int:
        """Return the number of refused files."""
        return len(self.problems)

    def lines(self) -> list[str]:
        """Return one human-readable line per refused file: ``file: message [reason]``."""
        return [f"{p.name}: {p.message} [{p.reason}]" for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "resumed": self.resumed,
            "problems": [
                {"file": p.name, "reason": p.reason, "message": p.message} for p in self.problems
            ],
        }


def import_path(
    store: Store,
    project: Project,
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    progress: Any = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
    workers: int | None = None,
    processes: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    clock: Clock = system_clock,
) -> ImportReport:
    """Normalize every file of a folder, zip or manifest and add it to ``project``.

    Parameters
    ----------
    store, project
        Where the items go. A manifest label not in ``project.labels`` refuses that file.
    path
        A folder, ``.zip``, ``.csv``/``.jsonl`` manifest or single image.
    settings
        Supplies ``max_image_pixels``, ``max_file_bytes``, ``max_side_px``, ``thumb_px`` and
        ``tile_variants``.
    progress
        ``None``, a callable called with ``1`` per file, or a tqdm-like object (``update(1)``
        per file; its ``total`` is filled in when it is ``None``).
    embeddings
        Feature vectors keyed by file name (the name inside the source, else its basename);
        when given, every file must have one of the same length, shape ``(d,)``. Otherwise
        ``crowdgate.features.extract_features`` is used if it is installed.
    workers
        Threads preparing files when ``processes`` is 1 (Pillow's decoders and resampling
        release the GIL, the rest does not); default: CPU count, at most 4.
    processes
        Worker processes preparing files (decode, normalize, variants, features) on every
        core; 1 (the default) prepares them in threads of this process. Items are written in
        source order by this process either way, with at most a few files per worker in
        flight, so memory stays flat at any source size.
    checkpoint
        A file recording how far the import has got. If it exists for this project and
        source, the files an earlier, interrupted run wrote are skipped without being decoded
        again; it is removed when the import completes. ``None``: no checkpoint.
    clock
        Source of ``created_at``.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportRejected
        If the source as a whole is unreadable (missing path, bad manifest, zip bomb) or
        changed since the checkpoint; items written before that stay, each complete.
    """
    extract = None if embeddings is not None else _feature_extractor()
    _check_dimension(store, project, embeddings, extract)
    tick = _progress_ticker(progress, path)
    vectors = _EmbeddingTable(embeddings) if embeddings is not None else None
    deferred = store.tiles_deferred(project.id)
    if not deferred and not any(store.count_items(project.id).values()):
        # a project's first import: tiles are made when first needed from now on (tiles.py)
        store.incr_stats(project.id, **{TILES_KEY: 1})
        deferred = True
    job = Job(
        project=project,
        settings=settings,
        extract=extract,
        clock=clock,
        tile_format=tile_format_of(store, project.id),
        thumb_format="jpeg" if deferred else "webp",
    )
    # the open items whose tiles are made now (tiles.py): the first of a new project's
    tile_budget = [COLD_START_TILES - store.count_items(project.id)["unlabeled"]]
    state = Checkpoint.open(Path(checkpoint), project.id, path) if checkpoint else None
    skip = state.done if state is not None else 0
    source = iter_source(path, max_file_bytes=settings.max_file_bytes, skip=skip)
    report = ImportReport()
    if state is not None and state.done:
        _skip(source, state, tick)
        report.resumed = state.done

    def with_features(
        entry: Entry | Rejection,
    ) -> tuple[Entry | Rejection, np.ndarray | None, bool]:
        if isinstance(entry, Rejection):
            return entry, None, False
        tiles = not deferred or entry.label is not None or tile_budget[0] > 0
        if deferred and entry.label is None:
            tile_budget[0] -= 1
        if vectors is None:
            return entry, None, tiles
        try:
            return entry, vectors.lookup(entry.name), tiles
        except ImportRejected as exc:
            return Rejection(entry.name, exc.reason, exc.message), None, False

    pool, fn, window = _executor(job, processes, workers)
    finished = False
    pending: list[Prepared | Rejection] = []

    def flush() -> None:
        # one put_batch per batch: its packs are packed, hashed and written once, their fsyncs
        # overlapping (one by one they would cap an import at ~100 files/s on this disk), then
        # its items go in one transaction (SQLite) or pipeline (Redis)
        prepared = [o for o in pending if not isinstance(o, Rejection)]
        new = iter(store.put_batch([(o.item, o.blobs, o.features) for o in prepared]))
        done: list[tuple[str, str]] = []
        for outcome in pending:
            if isinstance(outcome, Rejection):
                report.problems.append(outcome)
                done.append((outcome.name, "rejected"))
            elif next(new):
                report.added += 1
                done.append((outcome.item.filename, "added"))
            else:
                report.duplicates += 1
                done.append((outcome.item.filename, "duplicates"))
        # the checkpoint covers the whole written batch before any progress is shown, so an
        # interruption (Ctrl-C lands in the progress bar as often as anywhere) resumes after it
        if state is not None:
            for name, kind in done:
                state.advance(name, kind)
        for _ in done:
            tick()
        pending.clear()

    try:
        with pool:
            for outcome in _ordered_map(pool, fn, map(with_features, source), window=window):
                pending.append(outcome)
                if len(pending) >= WRITE_BATCH:
                    flush()
            flush()
        finished = True
    finally:
        if state is not None:
            state.finish() if finished else state.save()
    return report


def tile_format_of(store: Store, project_id: str) -> str:
    """Return the format new tile variants of a project are made in: its items' own, else JPEG.

    JPEG tiles cost a tenth of WebP's encoding (docs/operations.md); projects imported before
    keep WebP, so a tile's format never tells an older item (say, the gold) from a newer one.
    Projects whose tiles are deferred were created after JPEG tiles came: always JPEG (their
    first item may have no tile yet).
    """
    if store.tiles_deferred(project_id):
        return "jpeg"
    first = store.page_items(project_id, limit=1).items
    if not first:
        return "jpeg"
    tile = store.get_blob(project_id, first[0].id, variant_kind(0)) or b""
    return "jpeg" if tile[:3] == b"\xff\xd8\xff" else "webp"


#: files whose packs are written together before their items are stored one by one
WRITE_BATCH = 32


def _executor(
    job: Job, processes: int, workers: int | None
) -> tuple[Executor, Callable[..., Prepared | Rejection], int]:
    """Return the pool preparing files, the function it runs and how many may be in flight."""
    if processes > 1:
        # forkserver: workers start from a clean process (no copied threads or store
        # connections) with the imaging modules already loaded.
        context = multiprocessing.get_context("forkserver")
        preload = ["crowdgate.ingestion.prepare"]
        if job.extract is not None:  # its module, and whatever that imports, once for all
            preload.append(job.extract.__module__)
        context.set_forkserver_preload(preload)
        pool = ProcessPoolExecutor(
            processes, mp_context=context, initializer=init_worker, initargs=(job,)
        )
        return pool, prepare_in_worker, 4 * processes
    n_workers = workers or min(4, os.cpu_count() or 1)
    return ThreadPoolExecutor(max_workers=n_workers), partial(prepare_entry, job), 4 * n_workers


def _skip(
    source: Iterator[Entry | Rejection | Skipped], state: Checkpoint, tick: Callable[[], None]
) -> None:
    """Consume the files an earlier run already wrote, checking the source is the same one.

    A folder's or manifest's come as :class:`Skipped` (their bytes are not read again).
    """
    last = None
    for entry in islice(source, state.done):
        last = entry
        tick()
    if last is None or last.name != state.last:
        raise ImportRejected(
            "import-source-changed",
            f"The source changed since the interrupted import (file {state.done} was "
            f"{state.last!r}, now {getattr(last, 'name', None)!r}); run the import again with "
            "--restart (files already imported are then reported as duplicates).",
        )


class _EmbeddingTable:
    """User embeddings looked up by file name, all of one length."""

    def __init__(self, embeddings: Mapping[str, np.ndarray]):
        self._vectors = embeddings
        self._by_base = {os.path.basename(k): k for k in embeddings}
        first = next(iter(embeddings.values()), None)
        self._shape = None if first is None else np.shape(first)

    def lookup(self, name: str) -> np.ndarray:
        key = name if name in self._vectors else self._by_base.get(os.path.basename(name))
        if key is None:
            raise ImportRejected(
                "missing-embedding",
                "No embedding is given for this file while others have one; add a vector for "
                "it or import it into a project without embeddings.",
            )
        vec = np.asarray(self._vectors[key], dtype=np.float32)
        if vec.ndim != 1 or vec.shape != self._shape or not np.all(np.isfinite(vec)):
            raise ImportRejected(
                "bad-embedding",
                f"The embedding has shape {vec.shape} or non-finite values, where every vector "
                f"must be finite with shape {self._shape}; fix the embeddings file.",
            )
        return vec


def project_feature_dim(store: Store, project_id: str) -> int | None:
    """Return the length of the feature vectors a project's items already have, if any."""
    first = store.list_items(project_id, limit=1)
    if not first:
        return None
    vec = store.get_features(project_id, [first[0].id]).get(first[0].id)
    return None if vec is None else len(vec)


def _check_dimension(
    store: Store,
    project: Project,
    embeddings: Mapping[str, np.ndarray] | None,
    extract: FeatureFn | None,
) -> None:
    """Refuse an import whose vectors would not match the ones the project already has.

    The committee needs one feature space per project: imported embeddings must match the
    stored vectors' length, and a project built on embeddings cannot take built-in features.
    """
    have = project_feature_dim(store, project.id)
    if have is None:
        return
    if embeddings is not None:
        first = next(iter(embeddings.values()), None)
        new = None if first is None else int(np.shape(first)[-1])
        source = "the embeddings file's vectors"
    elif extract is not None:
        from ..features import FEATURE_DIM

        new, source = FEATURE_DIM, "the built-in features"
    else:
        return
    if new is not None and new != have:
        raise ImportRejected(
            "embedding-dimension",
            f"Project {project.id!r} already has {have}-dimensional feature vectors but "
            f"{source} have {new}; import with embeddings of dimension {have} "
            "(or into a new project).",
        )


def _feature_extractor() -> FeatureFn | None:
    try:
        from ..features import extract_features
    except ModuleNotFoundError as exc:
        if exc.name == "crowdgate.features":
            return None
        raise
    except ImportError:
        return None
    return extract_features


def _progress_ticker(progress: Any, path: str | os.PathLike[str]) -> Callable[[], None]:
    if progress is None:
        return lambda: None
    if hasattr(progress, "update"):
        if getattr(progress, "total", 0) is None:
            progress.total = count_source(path)
            if hasattr(progress, "refresh"):
                progress.refresh()
        return lambda: progress.update(1)
    return lambda: progress(1)


def _ordered_map(
    pool: Executor, fn: Callable[..., Any], items: Iterator[tuple[Any, ...]], *, window: int
) -> Iterator[Any]:
    """Yield ``fn(*args)`` in input order with at most ``window`` calls in flight (flat RAM)."""
    pending = deque(pool.submit(fn, *args) for args in islice(items, window))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, *args) for args in islice(items, 1))
        yield result
