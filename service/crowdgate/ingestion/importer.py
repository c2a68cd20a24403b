"""Import a folder, zip or manifest into a project through the store interface."""

from __future__ import annotations

import hmac
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from ..clock import Clock, system_clock
from ..config import Settings
from ..errors import ImportRejected
from ..models import GOLD, UNLABELED, Item, Project
from ..store.base import IMAGE, THUMB, Store, variant_kind
from ._files import Entry, Rejection
from .images import make_variants, normalize_image
from .sources import count_source, iter_source

__all__ = ["ImportReport", "import_path"]

FeatureFn = Callable[[Any], np.ndarray]


@dataclass
class ImportReport:
    """What an import did: items added, duplicates merged, and every refused file with why."""

    added: int = 0
    duplicates: int = 0
    problems: list[Rejection] = field(default_factory=list)

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
            "problems": [
                {"file": p.name, "reason": p.reason, "message": p.message} for p in self.problems
            ],
        }


@dataclass
class _Prepared:
    item: Item
    blobs: dict[str, bytes]
    features: np.ndarray | None


def import_path(
    store: Store,
    project: Project,
    path: str | os.PathLike[str],
    settings: Settings,
    *,
    progress: Any = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
    workers: int | None = None,
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
        ``crowdgate.committee.features.extract_features`` is used if it is installed.
    workers
        Threads preparing files in parallel (Pillow's decoders and resampling release the
        GIL); default: CPU count, at most 4. Items are written in source order either way.
    clock
        Source of ``created_at``.

    Returns
    -------
    ImportReport

    Raises
    ------
    ImportRejected
        If the source as a whole is unreadable (missing path, bad manifest, zip bomb); items
        written before that stay, each complete.
    """
    extract = None if embeddings is not None else _feature_extractor()
    _check_dimension(store, project, embeddings, extract)
    source = iter_source(path, max_file_bytes=settings.max_file_bytes)
    tick = _progress_ticker(progress, path)
    labels = set(project.labels)
    vectors = _EmbeddingTable(embeddings) if embeddings is not None else None

    def prepare(entry: Entry | Rejection) -> _Prepared | Rejection:
        if isinstance(entry, Rejection):
            return entry
        try:
            return _prepare(entry, project, labels, settings, vectors, extract, clock)
        except ImportRejected as exc:
            return Rejection(entry.name, exc.reason, exc.message)

    report = ImportReport()
    n_workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for outcome in _ordered_map(pool, prepare, source, window=4 * n_workers):
            if isinstance(outcome, Rejection):
                report.problems.append(outcome)
            elif store.put_item(outcome.item, outcome.blobs, outcome.features):
                report.added += 1
            else:
                report.duplicates += 1
            tick()
    return report


def _prepare(
    entry: Entry,
    project: Project,
    labels: set[str],
    settings: Settings,
    vectors: _EmbeddingTable | None,
    extract: FeatureFn | None,
    clock: Clock,
) -> _Prepared:
    if entry.label is not None and entry.label not in labels:
        raise ImportRejected(
            "unknown-label",
            f"The label {entry.label!r} is not one of the project's labels "
            f"({', '.join(project.labels)}); fix the manifest or add the label to the project.",
        )
    features = vectors.lookup(entry.name) if vectors is not None else None
    norm = normalize_image(
        entry.data,
        max_pixels=settings.max_image_pixels,
        max_side_px=settings.max_side_px,
        thumb_px=settings.thumb_px,
        max_file_bytes=settings.max_file_bytes,
    )
    if features is None and extract is not None:
        features = np.asarray(extract(norm.image), dtype=np.float32)
    gold = entry.label is not None
    blobs = {IMAGE: norm.data, THUMB: norm.thumb}
    # Every item gets variants, not only gold: if only gold tiles were perturbed, a bot could
    # tell gold from unlabeled tiles by their bytes and answer only the gold ones truthfully.
    n_variants = settings.tile_variants
    if n_variants:
        # Keyed by the deployment secret: reproducible here, but someone holding the original
        # (say, a public dataset image) cannot precompute the served variant bytes.
        mac = hmac.new(settings.secret_key.encode(), norm.sha256.encode(), "sha256")
        seed = int.from_bytes(mac.digest()[:8], "big")
        for i, data in enumerate(
            make_variants(norm.image, n_variants, seed, size=settings.thumb_px)
        ):
            blobs[variant_kind(i)] = data
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
        created_at=clock(),
    )
    return _Prepared(item, blobs, features)


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
        from ..committee.features import FEATURE_DIM

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
        from ..committee.features import extract_features
    except ModuleNotFoundError as exc:
        if exc.name in ("crowdgate.committee", "crowdgate.committee.features"):
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
    pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: Iterator[Any], *, window: int
) -> Iterator[Any]:
    """Yield ``fn(item)`` in input order with at most ``window`` items in flight (bounded RAM)."""
    pending = deque(pool.submit(fn, item) for item in islice(items, window))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(fn, item) for item in islice(items, 1))
        yield result
