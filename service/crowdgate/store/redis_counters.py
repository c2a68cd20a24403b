"""Redis backend: the per-project counters hash, and its backfill for projects made before it."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator

import redis

from . import counters
from .redis_base import RedisBase, _p

log = logging.getLogger(__name__)

#: votes read per round trip while a backfill counts a project's vote log
VOTE_CHUNK = 10_000
#: times a backfill recounts when a write changed the counters while it counted
BACKFILL_TRIES = 3
#: seconds one backfill may hold its lock
BACKFILL_LOCK_S = 600.0


class RedisCounters(RedisBase):
    """The ``stats`` hash each write script adds to, read in one command."""

    def incr_stats(self, project_id: str, **counts: int) -> None:
        pipe = self.r.pipeline(transaction=False)
        for name, value in counts.items():
            pipe.hincrby(_p(project_id) + "stats", name, value)
        self._call(pipe.execute)

    def get_stats(self, project_id: str) -> dict[str, int]:
        raw = self._call(self.r.hgetall, _p(project_id) + "stats")
        stats = {k.decode(): int(v) for k, v in raw.items()}
        if counters.VERSION_KEY not in stats and self.get_project(project_id) is not None:
            self._backfill(project_id)
            raw = self._call(self.r.hgetall, _p(project_id) + "stats")
            stats = {k.decode(): int(v) for k, v in raw.items()}
        stats.pop(counters.VERSION_KEY, None)
        stats.pop(counters.TILES_KEY, None)
        return stats

    def _vote_times(self, project_id: str) -> Iterator[float]:
        key = _p(project_id) + "votes"
        start = 0
        while chunk := self._call(self.r.lrange, key, start, start + VOTE_CHUNK - 1):
            yield from (float(json.loads(v)["ts"]) for v in chunk)
            start += VOTE_CHUNK

    def _backfill(self, project_id: str) -> None:
        """Count a project made before the counters were kept, once, under a lock.

        The count is written only if no write touched the counters while it ran (``WATCH``);
        after ``BACKFILL_TRIES`` such races (or on a cluster, whose client has no ``WATCH``)
        it is written anyway and a warning says the counts may miss those writes.
        """
        lock, owner = "counters:" + project_id, secrets.token_hex(8)
        if not self.acquire_lock(lock, owner, BACKFILL_LOCK_S):
            return
        key = _p(project_id) + "stats"
        try:
            for attempt in range(BACKFILL_TRIES):
                guarded = attempt < BACKFILL_TRIES - 1 and not self.uri.startswith("redis+cluster")
                pipe = self.r.pipeline(transaction=True)
                try:
                    if guarded:
                        self._call(pipe.watch, key)
                    if self._call(self.r.hexists, key, counters.VERSION_KEY):
                        return
                    times = self._vote_times(project_id)
                    fresh = counters.backfill(self.iter_items(project_id), times)
                    names = [k.decode() for k in self._call(self.r.hkeys, key)]
                    stale = [n for n in names if n.startswith(counters.DERIVED)]
                    pipe.multi()
                    if stale:
                        pipe.hdel(key, *stale)
                    pipe.hset(key, mapping={**fresh, counters.VERSION_KEY: counters.VERSION})
                    self._call(pipe.execute)
                except redis.WatchError:
                    continue
                finally:
                    pipe.reset()
                if not guarded:
                    log.warning(
                        "Counted project %r while it kept changing; its dashboard counts may "
                        "miss the votes or settles of those seconds.",
                        project_id,
                    )
                return
        finally:
            self.release_lock(lock, owner)
