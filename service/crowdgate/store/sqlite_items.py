"""SQLite backend: projects, items, their blob refs and features, and the sampling pools."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from ..errors import Conflict
from ..models import GOLD, UNLABELED, Item, Project
from . import counters
from . import decoys as _decoys
from .base import ItemEntry, ItemPage
from .sqlite_blobs import SqliteBlobs
from .sqlite_conn import ITEM_COLS
from .sqlite_schema import OPEN_POOL, TILED_POOL, pool_of


class SqliteItems(SqliteBlobs):
    """Projects and items, kept with their pool membership and state counters in one write."""

    # -- projects --------------------------------------------------------------------------
    def create_project(self, project: Project) -> None:
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO projects (id, data) VALUES (?, ?)",
                (project.id, json.dumps(project.to_dict())),
            )
            if cur.rowcount == 0:
                raise Conflict(
                    f"Project {project.id!r} already exists; choose another id.",
                    code="project-exists",
                )
            # a new project's counters are complete from its first item on
            self._incr(db, project.id, {counters.VERSION_KEY: counters.VERSION})

    def save_project(self, project: Project) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE projects SET data=? WHERE id=?", (json.dumps(project.to_dict()), project.id)
            )

    def get_project(self, project_id: str) -> Project | None:
        rows = self._q("SELECT data FROM projects WHERE id=?", (project_id,))
        return Project.from_dict(json.loads(rows[0][0])) if rows else None

    def list_projects(self) -> list[Project]:
        return [
            Project.from_dict(json.loads(r[0]))
            for r in self._q("SELECT data FROM projects ORDER BY id")
        ]

    # -- items -----------------------------------------------------------------------------
    def put_item(self, item: Item, blobs: dict[str, bytes], features: np.ndarray | None) -> bool:
        return self.put_batch([(item, blobs, features)])[0]

    def put_batch(self, entries: list[ItemEntry]) -> list[bool]:
        if not entries:
            return []
        refs = self._write_packs(blobs for _, blobs, _ in entries)
        with self._tx() as db:
            new = self._new_flags(db, [item for item, _, _ in entries])
            # its gold's decoys are chosen on counters that count the batch so far
            decoys = _decoys.BatchDecoys(self._decoy_context)
            rows: list[tuple] = []
            vectors: list[tuple[str, str, bytes]] = []
            pools: dict[tuple[str, str], list[str]] = {}
            total: dict[tuple[str, str], int] = Counter()
            for (item, _, features), ref, is_new in zip(entries, refs, new, strict=True):
                if not is_new:
                    continue
                decoys.give(item)
                decoys.added(item)
                rows.append(_item_row(item, ref))
                if features is not None:
                    vec = np.ascontiguousarray(features, dtype=np.float32).tobytes()
                    vectors.append((item.project, item.id, vec))
                for pool in _pools_of(item):
                    pools.setdefault((item.project, pool), []).append(item.id)
                total.update({(item.project, k): v for k, v in _counts_of(item).items()})
            # one statement per table for the whole batch: the per-row execute calls were
            # most of a batch's SQLite time
            db.executemany(
                "INSERT INTO items (project, id, state, known_label, votes, data, br) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.executemany("INSERT INTO features (project, item, vec) VALUES (?, ?, ?)", vectors)
            for (project_id, pool), ids in pools.items():
                self._pool_extend(db, project_id, pool, ids)
            for project_id in {p for p, _ in total}:
                mine = {k: v for (p, k), v in total.items() if p == project_id}
                self._incr(db, project_id, mine)
        return new

    @staticmethod
    def _new_flags(db: sqlite3.Connection, items: list[Item]) -> list[bool]:
        """Return for each item whether it is new: not stored yet, nor earlier in ``items``.

        Read inside the write transaction, so no other writer can add one meanwhile.
        """
        stored: set[tuple[str, str]] = set()
        by_project: dict[str, list[str]] = {}
        for item in items:
            by_project.setdefault(item.project, []).append(item.id)
        for project_id, ids in by_project.items():
            # SQLite allows 32,766 variables a statement; stay well under it
            for k in range(0, len(ids), 500):
                chunk = ids[k : k + 500]
                marks = ",".join("?" * len(chunk))
                found = db.execute(
                    f"SELECT id FROM items WHERE project=? AND id IN ({marks})",
                    (project_id, *chunk),
                ).fetchall()
                stored.update((project_id, row[0]) for row in found)
        new = []
        for item in items:
            key = (item.project, item.id)
            new.append(key not in stored)
            stored.add(key)
        return new

    def get_item(self, project_id: str, item_id: str) -> Item | None:
        rows = self._q(
            f"SELECT {ITEM_COLS} FROM items WHERE project=? AND id=?", (project_id, item_id)
        )
        return self._item(rows[0]) if rows else None

    def get_items(self, project_id: str, item_ids: Iterable[str]) -> dict[str, Item]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, Item] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._q(
                f"SELECT {ITEM_COLS} FROM items WHERE project=? AND id IN ({marks})",
                (project_id, *chunk),
            ):
                item = self._item(row)
                out[item.id] = item
        return out

    @staticmethod
    def _item(row: tuple) -> Item:
        item = Item.from_dict(json.loads(row[0]))
        item.votes = row[1]
        if row[2] is not None:
            item.committee_label, item.committee_confidence, item.model_version = row[2:5]
        return item

    def get_features(self, project_id: str, item_ids: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(item_ids), 500):
            chunk = item_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for item, vec in self._q(
                f"SELECT item, vec FROM features WHERE project=? AND item IN ({marks})",
                (project_id, *chunk),
            ):
                out[item] = np.frombuffer(vec, dtype=np.float32)
        return out

    def list_items(
        self, project_id: str, *, state: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Item]:
        if state is None:
            rows = self._q(
                f"SELECT {ITEM_COLS} FROM items WHERE project=? ORDER BY seq LIMIT ? OFFSET ?",
                (project_id, limit, offset),
            )
        else:
            rows = self._q(
                f"SELECT {ITEM_COLS} FROM items WHERE project=? AND state=? "
                "ORDER BY seq LIMIT ? OFFSET ?",
                (project_id, state, limit, offset),
            )
        return [self._item(r) for r in rows]

    def page_items(
        self, project_id: str, *, state: str | None = None, after: int = 0, limit: int = 100
    ) -> ItemPage:
        where = "project=? AND seq>?" + ("" if state is None else " AND state=?")
        args = (project_id, after) + (() if state is None else (state,))
        rows = self._q(
            f"SELECT seq, {ITEM_COLS} FROM items WHERE {where} ORDER BY seq LIMIT ?",
            (*args, limit),
        )
        items = [self._item(row[1:]) for row in rows]
        keys = [row[0] for row in rows]
        return ItemPage(items, keys[-1] if len(rows) == limit else None, keys)

    def iter_items(self, project_id: str, *, batch: int = 1000) -> Iterator[Item]:
        last = -1
        while True:
            rows = self._q(
                f"SELECT seq, {ITEM_COLS} FROM items WHERE project=? AND seq>? "
                "ORDER BY seq LIMIT ?",
                (project_id, last, batch),
            )
            if not rows:
                return
            for row in rows:
                yield self._item(row[1:])
            last = rows[-1][0]

    @staticmethod
    def _pool_add(db: sqlite3.Connection, project_id: str, pool: str | None, item: str) -> None:
        """Append ``item`` to a sampling pool at the next free position."""
        if pool is None:
            return
        db.execute(
            "INSERT OR IGNORE INTO pools (project, pool, pos, item) SELECT ?, ?, "
            "coalesce(max(pos) + 1, 0), ? FROM pools WHERE project=? AND pool=?",
            (project_id, pool, item, project_id, pool),
        )

    @staticmethod
    def _pool_extend(db: sqlite3.Connection, project_id: str, pool: str, ids: list[str]) -> None:
        """Append new items (in none of the pool yet) at the pool's next free positions."""
        (top,) = db.execute(
            "SELECT coalesce(max(pos), -1) FROM pools WHERE project=? AND pool=?",
            (project_id, pool),
        ).fetchone()
        db.executemany(
            "INSERT INTO pools (project, pool, pos, item) VALUES (?, ?, ?, ?)",
            [(project_id, pool, top + 1 + k, item) for k, item in enumerate(ids)],
        )

    @staticmethod
    def _pool_remove(db: sqlite3.Connection, project_id: str, pool: str | None, item: str) -> None:
        """Remove ``item`` from a pool, moving the last item into its place (no gaps)."""
        if pool is None:
            return
        key = (project_id, pool)
        hole = db.execute(
            "SELECT pos FROM pools WHERE project=? AND pool=? AND item=?", (*key, item)
        ).fetchone()
        if hole is None:
            return
        db.execute("DELETE FROM pools WHERE project=? AND pool=? AND pos=?", (*key, hole[0]))
        db.execute(
            "UPDATE pools SET pos=? WHERE project=? AND pool=? AND pos=(SELECT max(pos) FROM "
            "pools WHERE project=? AND pool=?) AND pos>?",
            (hole[0], *key, *key, hole[0]),
        )

    def _sample(self, project_id: str, pool: str, n: int) -> list[str]:
        """Return up to ``n`` distinct items of ``pool``, each equally likely (dense positions)."""
        if n <= 0:
            return []
        top = self._q("SELECT max(pos) FROM pools WHERE project=? AND pool=?", (project_id, pool))[
            0
        ][0]
        if top is None:
            return []
        positions = self._rng.sample(range(top + 1), min(n, top + 1))
        marks = ",".join("?" * len(positions))
        rows = self._q(
            f"SELECT pos, item FROM pools WHERE project=? AND pool=? AND pos IN ({marks})",
            (project_id, pool, *positions),
        )
        found = dict(rows)
        return [found[p] for p in positions if p in found]

    def sample_gold(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        return {lab: self._sample(project_id, "gold:" + lab, n) for lab, n in wants.items()}

    def sample_decoys(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        return {
            lab: self._sample(project_id, _decoys.POOL_PREFIX + lab, n) for lab, n in wants.items()
        }

    def sample_open(self, project_id: str, n: int) -> list[str]:
        if n <= 0 or not self.tiles_deferred(project_id):
            return self._sample(project_id, OPEN_POOL, n)
        # twice as many as asked: the tiled pool keeps items that have left the open state
        # until a draw finds them (dropped here), rather than every state change tracking it
        drawn = self._sample(project_id, TILED_POOL, 2 * n)
        if not drawn:
            return []
        marks = ",".join("?" * len(drawn))
        still = {
            r[0]
            for r in self._q(
                f"SELECT id FROM items WHERE project=? AND state=? AND id IN ({marks})",
                (project_id, UNLABELED, *drawn),
            )
        }
        if gone := [i for i in drawn if i not in still]:
            with self._tx() as db:
                for item_id in gone:
                    self._pool_remove(db, project_id, TILED_POOL, item_id)
        return [i for i in drawn if i in still][:n]

    def tiles_deferred(self, project_id: str) -> bool:
        # asked on every challenge that draws open items at random: once the flag is seen it
        # is remembered (nothing clears it); an unset one is read again, an import may set it
        if project_id in self._tiles_deferred:
            return True
        rows = self._q(
            "SELECT 1 FROM stats WHERE project=? AND name=?", (project_id, counters.TILES_KEY)
        )
        if rows:
            self._tiles_deferred.add(project_id)
        return bool(rows)

    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {ITEM_COLS} FROM items WHERE project=? AND id=?", (project_id, item_id)
            ).fetchall()
            if not rows:
                return
            item = self._item(rows[0])
            old_state, old_known = item.state, item.known_label
            old_settled, old_voted = counters.settled_counts(item), counters.is_open_voted(item)
            stored_votes = item.votes  # the votes column: a votes field here does not change it
            old_pair = (old_known, _decoys.decoy_of(item))
            for key, value in fields.items():
                setattr(item, key, value)
            self._give_decoy(item)
            db.execute(
                "UPDATE items SET state=?, known_label=?, data=? WHERE project=? AND id=?",
                (item.state, item.known_label, json.dumps(item.to_dict()), project_id, item_id),
            )
            before, after = pool_of(old_state, old_known), pool_of(item.state, item.known_label)
            if before != after:
                self._pool_remove(db, project_id, before, item_id)
                self._pool_add(db, project_id, after, item_id)
            counts: dict[str, int] = {}
            if old_state != item.state:
                counts[f"state:{old_state}"] = -1
                counts[f"state:{item.state}"] = 1
            if old_state == GOLD and old_known is not None:
                counts[f"gold:{old_known}"] = counts.get(f"gold:{old_known}", 0) - 1
            if item.state == GOLD and item.known_label is not None:
                counts[f"gold:{item.known_label}"] = counts.get(f"gold:{item.known_label}", 0) + 1
            counts.update(counters.change(old_settled, counters.settled_counts(item)))
            counts[counters.OPEN_VOTED] = (item.state == UNLABELED and stored_votes > 0) - old_voted
            new_pair = (item.known_label, _decoys.decoy_of(item))
            if old_pair != new_pair:
                if old_pair[1]:
                    self._pool_remove(db, project_id, _decoys.POOL_PREFIX + old_pair[1], item_id)
                    key = _decoys.pair_key(str(old_pair[0]), old_pair[1])
                    counts[key] = counts.get(key, 0) - 1
                if new_pair[1]:
                    self._pool_add(db, project_id, _decoys.POOL_PREFIX + new_pair[1], item_id)
                    key = _decoys.pair_key(str(new_pair[0]), new_pair[1])
                    counts[key] = counts.get(key, 0) + 1
            self._incr(db, project_id, {k: v for k, v in counts.items() if v})


def _item_row(item: Item, ref: str) -> tuple:
    """Return the ``items`` row of a new item whose blobs' pack has the ref ``ref``."""
    data = json.dumps(item.to_dict())
    return (item.project, item.id, item.state, item.known_label, item.votes, data, ref or None)


def _pools_of(item: Item) -> list[str]:
    """Return the sampling pools a new item joins (its state's, and its decoy's if gold).

    A gold item's decoy is given beforehand (``BatchDecoys``).
    """
    pools = [pool] if (pool := pool_of(item.state, item.known_label)) else []
    if item.state == UNLABELED and item.variants:
        pools.append(TILED_POOL)  # its tiles are made: it may be drawn at random
    if decoy := _decoys.decoy_of(item):
        pools.append(_decoys.POOL_PREFIX + decoy)
    return pools


def _counts_of(item: Item) -> dict[str, int]:
    """Return the counters a new item adds."""
    counts = {f"state:{item.state}": 1, **counters.settled_counts(item)}
    if item.state == GOLD and item.known_label is not None:
        counts[f"gold:{item.known_label}"] = 1
    if counters.is_open_voted(item):
        counts[counters.OPEN_VOTED] = 1
    if decoy := _decoys.decoy_of(item):
        counts[_decoys.pair_key(str(item.known_label), decoy)] = 1
    return counts
