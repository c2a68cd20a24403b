"""The store contract for items: insert, read, page, sample, update."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np

from ..models import GOLD, ITEM_STATES, Item
from . import decoys as _decoys
from .base_core import StoreCore
from .records import ItemEntry, ItemPage


class ItemStore(StoreCore):
    """Items of a project with their blobs and features, and the gold and open pools."""

    # -- items -----------------------------------------------------------------------------
    @abc.abstractmethod
    def put_item(self, item: Item, blobs: dict[str, bytes], features: np.ndarray | None) -> bool:
        """Insert an item with its blobs and feature vector in one step.

        Returns ``False`` (and writes nothing) when an item with the same id already exists in
        the project, which is how duplicates are merged.
        """

    @abc.abstractmethod
    def get_item(self, project_id: str, item_id: str) -> Item | None:
        """Return one item or ``None``."""

    def get_items(self, project_id: str, item_ids: Iterable[str]) -> dict[str, Item]:
        """Return the given items by id (missing ones omitted), read in batches.

        Backends read a batch per round trip: the trainer and the full consensus run read
        thousands of items, and one read each was a round trip per item.
        """
        found = (self.get_item(project_id, i) for i in dict.fromkeys(item_ids))
        return {item.id: item for item in found if item is not None}

    @abc.abstractmethod
    def get_blob(self, project_id: str, item_id: str, kind: str) -> bytes | None:
        """Return one stored blob (``image``, ``thumb``, ``v0``...) or ``None``."""

    def get_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        """Return the blobs of ``(item_id, kind)`` pairs in order (``None`` where missing).

        Backends fetch them in one round trip: a grid's tiles are read on every challenge.
        """
        return [self.get_blob(project_id, item, kind) for item, kind in wanted]

    @abc.abstractmethod
    def list_items(
        self, project_id: str, *, state: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Item]:
        """Return items in insertion order, optionally only those in ``state``."""

    @abc.abstractmethod
    def page_items(
        self, project_id: str, *, state: str | None = None, after: int = 0, limit: int = 100
    ) -> ItemPage:
        """Return up to ``limit`` items inserted after the cursor ``after`` (0: from the start).

        Pages by key, so a page deep into a million items costs what the first one does.
        """

    def put_items(self, entries: Iterable[ItemEntry], *, batch: int = 500) -> int:
        """Add new items (as :meth:`put_item`), ``batch`` per write; return how many were new."""
        added, rows = 0, iter(entries)
        while chunk := list(islice(rows, batch)):
            added += sum(self.put_batch(chunk))
        return added

    def put_batch(self, entries: list[ItemEntry]) -> list[bool]:
        """Add new items as :meth:`put_item` does, in one write where the backend can (their
        packs written together first); return for each entry whether it was new."""
        return [self.put_item(item, blobs, features) for item, blobs, features in entries]

    @abc.abstractmethod
    def iter_items(self, project_id: str, *, batch: int = 1000) -> Iterator[Item]:
        """Yield every item of a project in insertion order, ``batch`` at a time."""

    def count_items(self, project_id: str) -> dict[str, int]:
        """Return item counts by state (every state present, zero if none)."""
        stats = self.get_stats(project_id)
        return {s: stats.get(f"state:{s}", 0) for s in ITEM_STATES}

    def gold_labels(self, project_id: str) -> dict[str, int]:
        """Return the number of gold items per known label (kept as counters, not counted)."""
        stats = self.get_stats(project_id)
        return {k[5:]: v for k, v in stats.items() if k.startswith("gold:") and v > 0}

    @abc.abstractmethod
    def sample_gold(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        """Return, per label, up to ``wants[label]`` distinct random gold item ids of it.

        One round trip for all labels: this is on the challenge hot path.
        """

    @abc.abstractmethod
    def sample_decoys(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        """Return, per label, up to ``wants[label]`` distinct random gold ids with that decoy."""

    def gold_sets(self, project_id: str) -> dict[str, tuple[int, int]]:
        """Return per label (its gold items, gold items with it as their decoy)."""
        return _decoys.gold_sets(self.get_stats(project_id))

    def _give_decoy(self, item: Item) -> None:
        """Give a gold ``item`` that lacks one its secret decoy label (at import, promotion)."""
        if item.state != GOLD or not item.known_label:
            return  # not gold: no project read on the settle path
        project = self.get_project(item.project)
        labels = project.labels if project else []
        if _decoys.needs_decoy(item, labels):
            stats = self.get_stats(item.project)
            item.decoy = _decoys.choose_decoy(item.known_label, labels, stats)

    def _decoy_context(self, project_id: str) -> tuple[list[str], dict[str, int]]:
        """Return a project's labels (none if it is unknown) and counters, to choose decoys."""
        project = self.get_project(project_id)
        return (list(project.labels) if project else []), self.get_stats(project_id)

    @abc.abstractmethod
    def sample_open(self, project_id: str, n: int) -> list[str]:
        """Return up to ``n`` random unlabeled item ids, at a cost independent of pool size.

        In a project whose tiles are made when first needed (:meth:`tiles_deferred`), only
        items whose tiles are made are drawn: an item shown as its plain thumbnail, where
        gold is shown perturbed, would tell a bot which tiles are not gold.
        """

    def tiles_deferred(self, project_id: str) -> bool:
        """Return whether the project makes an open item's grid tiles when it is first
        queued rather than at import: set by the first import into an empty project since
        (``counters.TILES_KEY``, via :meth:`incr_stats`); earlier projects make them all."""
        return False

    def untiled(self, project_id: str, item_ids: list[str]) -> list[str]:
        """Return the given items whose grid tiles (``v0``...) are not made yet."""
        return []

    def add_tiles(self, project_id: str, item_id: str, tiles: dict[str, bytes]) -> bool:
        """Give an item without tiles its ``v0``... blobs (an open one then may be drawn at
        random); return False if it is gone or has them already."""
        return False

    def add_tiles_batch(self, project_id: str, tiles: dict[str, dict[str, bytes]]) -> int:
        """:meth:`add_tiles` for several items at once; return how many got their tiles."""
        return sum(self.add_tiles(project_id, i, t) for i, t in tiles.items())

    @abc.abstractmethod
    def get_features(self, project_id: str, item_ids: list[str]) -> dict[str, np.ndarray]:
        """Return stored float32 feature vectors of the given items (missing ones omitted)."""

    @abc.abstractmethod
    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        """Set fields of an item (state, label, confidence, committee label, ...)."""
