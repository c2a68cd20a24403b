"""Redis backend: the ref of each item's pack (the item hash's ``blobs`` field) and the legacy
``blob:<id>`` hashes of versions that kept image bytes in Redis."""

from __future__ import annotations

from collections.abc import Iterator

from .item_blobs import Legacy
from .redis_base import G, RedisBase, _p

#: the key naming this store's blob folder
BLOB_URI = G + "blob_uri"
#: a project's set of open items whose grid tiles are made (``counters.TILES_KEY``); it may
#: hold items no longer open, which a draw drops
TILED = "open"


class RedisBlobs(RedisBase):
    """The blob primitives of :class:`.item_blobs.ItemBlobs` on Redis or Redis Cluster."""

    def _recorded_blob_uri(self) -> str | None:
        raw = self._call(self.r.get, BLOB_URI)
        return raw.decode() if raw else None

    def _record_blob_uri(self, uri: str) -> None:
        self._call(self.r.set, BLOB_URI, uri, nx=True)

    def _blob_refs(self, project_id: str, item_ids: list[str]) -> dict[str, str]:
        p = _p(project_id)
        if len(item_ids) == 1:  # one tile (a fallback, an export): a plain HGET
            refs = [self._call(self.r.hget, p + "item:" + item_ids[0], "blobs")]
        else:
            refs = self._call(self._blob_refs_script, keys=[p + "item:" + i for i in item_ids])
        return {i: r.decode() for i, r in zip(item_ids, refs, strict=True) if r}

    def _legacy_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        pipe = self.r.pipeline(transaction=False)
        for item_id, kind in wanted:
            pipe.hget(_p(project_id) + "blob:" + item_id, kind)
        return self._call(pipe.execute)

    def _project_ids(self, project_id: str, batch: int) -> Iterator[list[str]]:
        """Yield a project's item ids in insertion order, ``batch`` at a time."""
        start = 0
        while ids := self._call(self.r.zrange, _p(project_id) + "all", start, start + batch - 1):
            yield [i.decode() for i in ids]
            start += batch

    def _all_refs(self) -> Iterator[str]:
        for project_id in sorted(x.decode() for x in self._call(self.r.smembers, G + "projects")):
            p = _p(project_id)
            for ids in self._project_ids(project_id, 2000):
                pipe = self.r.pipeline(transaction=False)
                for item_id in ids:
                    pipe.hget(p + "item:" + item_id, "blobs")
                yield from (r.decode() for r in self._call(pipe.execute) if r)

    def _legacy_batches(self, batch: int) -> Iterator[list[Legacy]]:
        for project_id in sorted(x.decode() for x in self._call(self.r.smembers, G + "projects")):
            p = _p(project_id)
            for ids in self._project_ids(project_id, batch):
                pipe = self.r.pipeline(transaction=False)
                for item_id in ids:
                    pipe.hgetall(p + "blob:" + item_id)
                found = self._call(pipe.execute)
                chunk = [
                    (project_id, item_id, {k.decode(): bytes(v) for k, v in blobs.items()})
                    for item_id, blobs in zip(ids, found, strict=True)
                    if blobs
                ]
                if chunk:
                    yield chunk

    def _tile_record(self, project_id: str, item_id: str) -> tuple[str, str] | None:
        ref, data = self._call(self.r.hmget, _p(project_id) + "item:" + item_id, "blobs", "data")
        return None if data is None else ((ref or b"").decode(), data.decode())

    def _swap_tiles(
        self,
        project_id: str,
        item_id: str,
        old: tuple[str, str],
        ref: str,
        data: str,
        is_open: bool,
    ) -> bool:
        p = _p(project_id)
        keys = [p + "item:" + item_id, p + TILED]
        args = [*old, ref, data, item_id, "1" if is_open else "0"]
        return bool(self._call(self._swap_tiles_script, keys=keys, args=args))

    def _adopt(self, project_id: str, item_id: str, ref: str) -> bool:
        p = _p(project_id)
        keys = [p + "item:" + item_id, p + "blob:" + item_id]
        return bool(self._call(self._adopt_blobs, keys=keys, args=[ref]))

    def blob_hash_keys(self) -> int:
        """Return how many legacy ``blob:<id>`` hashes are left (0 once migrated)."""
        left = 0
        for project_id in sorted(x.decode() for x in self._call(self.r.smembers, G + "projects")):
            p = _p(project_id)
            for ids in self._project_ids(project_id, 2000):
                pipe = self.r.pipeline(transaction=False)
                for item_id in ids:
                    pipe.exists(p + "blob:" + item_id)
                left += sum(self._call(pipe.execute))
        return left
