"""Redis backend: projects, items, their blob refs and features, grids and sampling."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import Conflict, StoreError
from ..models import GOLD, UNLABELED, Item, Project
from . import counters
from . import decoys as _decoys
from .base import GridDraw, ItemEntry, ItemPage
from .redis_base import G, _p
from .redis_blobs import TILED, RedisBlobs

#: items per PUT_ITEMS call (a batch of 1,000 is four calls, sent in one pipeline)
PUT_CHUNK = 250


class RedisItems(RedisBlobs):
    """Projects and items, kept with their state and gold sets and counters in one script."""

    # -- projects --------------------------------------------------------------------------
    def create_project(self, project: Project) -> None:
        if not self._call(
            self.r.set, _p(project.id) + "project", json.dumps(project.to_dict()), nx=True
        ):
            raise Conflict(
                f"Project {project.id!r} already exists; choose another id.", code="project-exists"
            )
        # a new project's counters are complete from its first item on
        self._call(self.r.hset, _p(project.id) + "stats", counters.VERSION_KEY, counters.VERSION)
        self._call(self.r.sadd, G + "projects", project.id)

    def save_project(self, project: Project) -> None:
        self._call(self.r.set, _p(project.id) + "project", json.dumps(project.to_dict()), xx=True)

    def get_project(self, project_id: str) -> Project | None:
        raw = self._call(self.r.get, _p(project_id) + "project")
        return Project.from_dict(json.loads(raw)) if raw else None

    def list_projects(self) -> list[Project]:
        ids = sorted(x.decode() for x in self._call(self.r.smembers, G + "projects"))
        return [p for p in (self.get_project(i) for i in ids) if p is not None]

    # -- items -----------------------------------------------------------------------------
    def put_item(self, item: Item, blobs: dict[str, bytes], features: np.ndarray | None) -> bool:
        (ref,) = self._write_packs([blobs])
        self._give_decoy(item)
        added = bool(self._call(self._put_item, **self._put_call(item, ref, features)))
        if added and item.state == UNLABELED and item.variants:
            self._call(self.r.zadd, _p(item.project) + TILED, {item.id: 0})
        return added

    def put_batch(self, entries: list[ItemEntry]) -> list[bool]:
        if not entries:
            return []
        refs = self._write_packs(blobs for _, blobs, _ in entries)
        self._give_decoys([item for item, _, _ in entries])
        # one PUT_ITEMS call per project and chunk (its keys share the project's hash tag,
        # so it runs on Redis Cluster too); a chunk is short enough that the script holds
        # the server for a few milliseconds, not a whole batch's worth
        calls: list[tuple[list[int], dict[str, list[Any]]]] = []
        by_project: dict[str, list[int]] = {}
        for k, (item, _, _) in enumerate(entries):
            by_project.setdefault(item.project, []).append(k)
        for project_id, where in by_project.items():
            for c in range(0, len(where), PUT_CHUNK):
                part = where[c : c + PUT_CHUNK]
                rows = [(entries[k][0], refs[k], entries[k][2]) for k in part]
                calls.append((part, self._put_items_call(project_id, rows)))
        if self.uri.startswith("redis+cluster://"):
            # redis-py's cluster pipelines refuse scripts: one call after another
            replies = [self._call(self._put_items, **call) for _, call in calls]
        else:
            pipe = self.r.pipeline(transaction=False)
            for _, call in calls:
                self._put_items(**call, client=pipe)
            replies = self._call(pipe.execute)
        new = [False] * len(entries)
        for (part, _), reply in zip(calls, replies, strict=True):
            for k, added in zip(part, reply, strict=True):
                new[k] = bool(added)
        tiled: dict[str, dict[str, int]] = {}
        for (item, _, _), added in zip(entries, new, strict=True):
            if added and item.state == UNLABELED and item.variants:
                tiled.setdefault(item.project, {})[item.id] = 0
        for project_id, members in tiled.items():
            # its tiles are made: it may be drawn at random (one call per project and batch)
            self._call(self.r.zadd, _p(project_id) + TILED, members)
        return new

    @classmethod
    def _put_items_call(
        cls, project_id: str, rows: list[tuple[Item, str, np.ndarray | None]]
    ) -> dict[str, list[Any]]:
        """Return the keys and arguments of one PUT_ITEMS call: PUT_ITEM's for each
        ``(item, ref, features)`` of project ``project_id``, the shared keys given once."""
        p = _p(project_id)
        keys: list[Any] = [p + "feat", p + "seq", p + "all", p + "stats"]
        args: list[Any] = []
        for item, ref, features in rows:
            one = cls._put_call(item, ref, features)
            item_key, _, _, _, state, gold, _, decoy = one["keys"]
            keys += [item_key, state, gold, decoy]
            args += one["args"]
        return {"keys": keys, "args": args}

    def _give_decoys(self, items: list[Item]) -> None:
        """Give a batch's new gold its decoys before the batch's pipeline adds it.

        The batch is not in the counters until its pipeline runs, so each decoy is chosen on
        counters that count the batch's earlier gold. Gold already stored (an import run
        again) is left out, as PUT_ITEM will skip it.
        """
        gold = [i for i in items if i.state == GOLD and i.known_label]
        if not gold:
            return
        pipe = self.r.pipeline(transaction=False)
        for item in gold:
            pipe.exists(_p(item.project) + "item:" + item.id)
        stored = self._call(pipe.execute)
        decoys, seen = _decoys.BatchDecoys(self._decoy_context), set()
        for item, exists in zip(gold, stored, strict=True):
            if exists or (item.project, item.id) in seen:
                continue
            seen.add((item.project, item.id))
            decoys.give(item)
            decoys.added(item)

    @staticmethod
    def _put_call(item: Item, ref: str, features: np.ndarray | None) -> dict[str, list[Any]]:
        """Return the keys and arguments of the PUT_ITEM script for one new item, whose blobs'
        pack is written already (``ref``: see store/blobs.py).

        A gold item's decoy is given beforehand (``_give_decoy``, ``_give_decoys``).
        """
        p = _p(item.project)
        gold_key = p + "gold:" + (item.known_label or "")
        decoy = _decoys.decoy_of(item)
        keys = [
            p + "item:" + item.id,
            p + "feat",
            p + "seq",
            p + "all",
            p + "state:" + item.state,
            gold_key,
            p + "stats",
            p + _decoys.POOL_PREFIX + decoy,
        ]
        feat = b"" if features is None else np.ascontiguousarray(features, np.float32).tobytes()
        args: list[Any] = [
            item.id,
            json.dumps(item.to_dict()),
            item.state,
            item.known_label or "",
            feat,
            json.dumps(counters.settled_counts(item)),
            decoy,
            _decoys.pair_key(item.known_label or "", decoy) if decoy else "",
            ref,
        ]
        return {"keys": keys, "args": args}

    def _items(self, project_id: str, ids: list[str]) -> list[Item]:
        p = _p(project_id)
        pipe = self.r.pipeline(transaction=False)
        for item_id in ids:
            pipe.hmget(p + "item:" + item_id, "data", "votes", "cl", "cc", "mv")
        out = []
        for data, votes, cl, cc, mv in self._call(pipe.execute):
            if data is not None:
                item = Item.from_dict(json.loads(data))
                item.votes = int(votes or 0)
                if cl is not None:
                    item.committee_label = cl.decode()
                    item.committee_confidence = float(cc)
                    item.model_version = int(mv)
                out.append(item)
        return out

    def get_item(self, project_id: str, item_id: str) -> Item | None:
        items = self._items(project_id, [item_id])
        return items[0] if items else None

    def get_items(self, project_id: str, item_ids: Iterable[str]) -> dict[str, Item]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, Item] = {}
        for start in range(0, len(ids), 1000):
            out.update((i.id, i) for i in self._items(project_id, ids[start : start + 1000]))
        return out

    def get_features(self, project_id: str, item_ids: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(item_ids), 1000):
            chunk = item_ids[start : start + 1000]
            vecs = self._call(self.r.hmget, _p(project_id) + "feat", chunk)
            pairs = zip(chunk, vecs, strict=True)
            out.update({i: np.frombuffer(v, np.float32) for i, v in pairs if v})
        return out

    def list_items(
        self, project_id: str, *, state: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[Item]:
        key = _p(project_id) + ("all" if state is None else "state:" + state)
        ids = self._call(self.r.zrange, key, offset, offset + limit - 1)
        return self._items(project_id, [i.decode() for i in ids])

    def page_items(
        self, project_id: str, *, state: str | None = None, after: int = 0, limit: int = 100
    ) -> ItemPage:
        key = _p(project_id) + ("all" if state is None else "state:" + state)
        # scores are the insertion counter, the same in every state set
        rows = self._call(
            self.r.zrangebyscore, key, f"({after}", "+inf", start=0, num=limit, withscores=True
        )
        items = self._items(project_id, [i.decode() for i, _ in rows])
        seq = {i.decode(): int(score) for i, score in rows}
        keys = [seq[item.id] for item in items]
        return ItemPage(items, int(rows[-1][1]) if len(rows) == limit else None, keys)

    def iter_items(self, project_id: str, *, batch: int = 1000) -> Iterator[Item]:
        start = 0
        while True:
            ids = self._call(self.r.zrange, _p(project_id) + "all", start, start + batch - 1)
            if not ids:
                return
            yield from self._items(project_id, [i.decode() for i in ids])
            start += batch

    def sample_gold(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        pipe = self.r.pipeline(transaction=False)
        for label, n in wants.items():
            pipe.zrandmember(_p(project_id) + "gold:" + label, n)
        replies = self._call(pipe.execute)
        return {
            label: [i.decode() for i in ids or []]
            for label, ids in zip(wants, replies, strict=True)
        }

    def sample_decoys(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        pipe = self.r.pipeline(transaction=False)
        for label, n in wants.items():
            pipe.zrandmember(_p(project_id) + _decoys.POOL_PREFIX + label, n)
        replies = self._call(pipe.execute)
        return {
            label: [i.decode() for i in ids or []]
            for label, ids in zip(wants, replies, strict=True)
        }

    def draw_grid(
        self,
        project_id: str,
        label: str,
        n_open: int,
        gold: dict[str, int],
        top_k: int = 0,
        vote_cap: int = 0,
        decoys: dict[str, int] | None = None,
    ) -> GridDraw:
        p = _p(project_id)
        labels, decoy_labels = list(gold), list(decoys or {})
        keys = [p + "queue:" + label, p + "state:" + UNLABELED, p + TILED, p + "stats"]
        keys += [p + "gold:" + lab for lab in labels]
        keys += [p + _decoys.POOL_PREFIX + lab for lab in decoy_labels]
        args = [2 * top_k, top_k, n_open, *gold.values(), *(decoys or {}).values()]
        # a challenge's rate limits are checked here, its first store call, so a request past
        # them is refused before its grid is composed (put_challenge then finds none pending)
        reply = self._charged(self._draw_grid, self._draw_grid_limited, keys, args)
        ids = [[i.decode() for i in part or []] for part in reply]
        cut = 2 + len(labels)
        return GridDraw(
            queue=ids[0],
            open=ids[1],
            gold=dict(zip(labels, ids[2:cut], strict=True)),
            decoy=dict(zip(decoy_labels, ids[cut:], strict=True)),
        )

    def sample_open(self, project_id: str, n: int) -> list[str]:
        if n <= 0:
            return []
        p = _p(project_id)
        keys = [p + "queue:", p + "state:" + UNLABELED, p + TILED, p + "stats"]
        reply = self._call(self._draw_grid, keys=keys, args=[0, 0, n])
        return [i.decode() for i in reply[1] or []]

    def tiles_deferred(self, project_id: str) -> bool:
        return bool(self._call(self.r.hexists, _p(project_id) + "stats", counters.TILES_KEY))

    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        p = _p(project_id)
        for _ in range(20):
            old = self._call(self.r.hget, p + "item:" + item_id, "data")
            if old is None:
                return
            item = Item.from_dict(json.loads(old))
            before_state, before_gold = item.state, _gold_label(item)
            before = counters.settled_counts(item)
            before_decoy = _decoys.decoy_of(item)
            before_pair = _decoys.pair_key(before_gold, before_decoy) if before_decoy else ""
            for key, value in fields.items():
                setattr(item, key, value)
            self._give_decoy(item)
            new = item.to_dict()
            new["votes"] = 0
            after_gold = _gold_label(item)
            after_decoy = _decoys.decoy_of(item)
            after_pair = _decoys.pair_key(after_gold, after_decoy) if after_decoy else ""
            keys = [
                p + "item:" + item_id,
                p + "all",
                p + "state:" + before_state,
                p + "state:" + item.state,
                p + "gold:" + before_gold,
                p + "gold:" + after_gold,
                p + "stats",
                p + _decoys.POOL_PREFIX + before_decoy,
                p + _decoys.POOL_PREFIX + after_decoy,
            ]
            args = [
                item_id,
                old,
                json.dumps(new),
                before_state,
                item.state,
                before_gold,
                after_gold,
                json.dumps(counters.change(before, counters.settled_counts(item))),
                before_pair,
                after_pair,
            ]
            if self._call(self._update_item, keys=keys, args=args):
                return
        raise StoreError(f"Item {item_id} kept changing while being updated; retry.")


def _gold_label(item: Item) -> str:
    return item.known_label or "" if item.state == GOLD else ""
