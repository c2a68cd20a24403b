"""Redis backend: projects, items, their blobs and features, grids and sampling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import Conflict, StoreError
from ..models import GOLD, ITEM_STATES, UNLABELED, Item, Project
from .base import GridDraw
from .redis_base import G, RedisBase, _p


class RedisItems(RedisBase):
    """Projects and items, kept with their state and gold sets and counters in one script."""

    # -- projects --------------------------------------------------------------------------
    def create_project(self, project: Project) -> None:
        if not self._call(
            self.r.set, _p(project.id) + "project", json.dumps(project.to_dict()), nx=True
        ):
            raise Conflict(
                f"Project {project.id!r} already exists; choose another id.", code="project-exists"
            )
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
        p = _p(item.project)
        gold_key = p + "gold:" + (item.known_label or "")
        keys = [
            p + "item:" + item.id,
            p + "blob:" + item.id,
            p + "feat",
            p + "seq",
            p + "all",
            p + "state:" + item.state,
            gold_key,
            p + "stats",
        ]
        feat = b"" if features is None else np.ascontiguousarray(features, np.float32).tobytes()
        args: list[Any] = [
            item.id,
            json.dumps(item.to_dict()),
            item.state,
            item.known_label or "",
            feat,
        ]
        for kind, data in blobs.items():
            args += [kind, data]
        return bool(self._call(self._put_item, keys=keys, args=args))

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

    def get_blob(self, project_id: str, item_id: str, kind: str) -> bytes | None:
        return self._call(self.r.hget, _p(project_id) + "blob:" + item_id, kind)

    def get_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        pipe = self.r.pipeline(transaction=False)
        for item_id, kind in wanted:
            pipe.hget(_p(project_id) + "blob:" + item_id, kind)
        return self._call(pipe.execute)

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

    def iter_items(self, project_id: str, *, batch: int = 1000) -> Iterator[Item]:
        start = 0
        while True:
            ids = self._call(self.r.zrange, _p(project_id) + "all", start, start + batch - 1)
            if not ids:
                return
            yield from self._items(project_id, [i.decode() for i in ids])
            start += batch

    def count_items(self, project_id: str) -> dict[str, int]:
        stats = self.get_stats(project_id)
        return {s: stats.get(f"state:{s}", 0) for s in ITEM_STATES}

    def gold_labels(self, project_id: str) -> dict[str, int]:
        stats = self.get_stats(project_id)
        return {k[5:]: v for k, v in stats.items() if k.startswith("gold:") and v > 0}

    def sample_gold(self, project_id: str, wants: dict[str, int]) -> dict[str, list[str]]:
        pipe = self.r.pipeline(transaction=False)
        for label, n in wants.items():
            pipe.zrandmember(_p(project_id) + "gold:" + label, n)
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
    ) -> GridDraw:
        p = _p(project_id)
        labels = list(gold)
        keys = [p + "queue:" + label, p + "state:" + UNLABELED]
        keys += [p + "gold:" + lab for lab in labels]
        args = [2 * top_k, top_k, n_open, *(gold[lab] for lab in labels)]
        reply = self._call(self._draw_grid, keys=keys, args=args)
        ids = [[i.decode() for i in part or []] for part in reply]
        return GridDraw(queue=ids[0], open=ids[1], gold=dict(zip(labels, ids[2:], strict=True)))

    def sample_open(self, project_id: str, n: int) -> list[str]:
        ids = self._call(self.r.zrandmember, _p(project_id) + "state:" + UNLABELED, n)
        return [i.decode() for i in ids or []]

    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        p = _p(project_id)
        for _ in range(20):
            old = self._call(self.r.hget, p + "item:" + item_id, "data")
            if old is None:
                return
            item = Item.from_dict(json.loads(old))
            before_state, before_gold = item.state, _gold_label(item)
            for key, value in fields.items():
                setattr(item, key, value)
            new = item.to_dict()
            new["votes"] = 0
            after_gold = _gold_label(item)
            keys = [
                p + "item:" + item_id,
                p + "all",
                p + "state:" + before_state,
                p + "state:" + item.state,
                p + "gold:" + before_gold,
                p + "gold:" + after_gold,
                p + "stats",
            ]
            args = [
                item_id,
                old,
                json.dumps(new),
                before_state,
                item.state,
                before_gold,
                after_gold,
            ]
            if self._call(self._update_item, keys=keys, args=args):
                return
        raise StoreError(f"Item {item_id} kept changing while being updated; retry.")


def _gold_label(item: Item) -> str:
    return item.known_label or "" if item.state == GOLD else ""
