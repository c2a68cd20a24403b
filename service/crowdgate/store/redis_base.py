"""Redis backend, the connection layer: the client, its scripts, key prefixes, the stats hash.

The key schema is listed in :mod:`crowdgate.store.redis`; keys are built from the prefixes
here (``G`` for admin records, :func:`_p` for a project's keys).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import redis
import redis.cluster

from ..config import DEFAULT_DATA_DIR
from ..errors import StoreError
from . import limit_charge
from .base import Store
from .item_blobs import ItemBlobs
from .limit_charge import Charge, LimitRefused
from .redis_pool import thread_client
from .redis_scripts import (
    ACQUIRE,
    ADOPT_BLOBS,
    BLOB_REFS,
    DRAW_GRID,
    PUT_CHALLENGE,
    PUT_ITEM,
    PUT_ITEMS,
    PUT_MODEL,
    RECORD_PASS,
    REDEEM,
    RELEASE,
    SAVE_SITE,
    SWAP_TILES,
    TAKE_CHALLENGE,
    UPDATE_ITEM,
    limited,
)

G = "cg:{cg}:"


def _p(project_id: str) -> str:
    return f"cg:{{p:{project_id}}}:"


def _route(ref: str) -> str | None:
    """Return the project of a ``<project>.<random>`` challenge id or token, else ``None``."""
    project, dot, rest = ref.partition(".")
    return project if dot and project and rest else None


class RedisBase(ItemBlobs, Store):
    """The client, registered Lua scripts, error mapping and stats counters of a Redis store."""

    def __init__(
        self,
        uri: str,
        blobs: str = "",
        blobs_default: str = "",
        blob_cache_bytes: int = 64 << 20,
        **_: object,
    ):
        self.uri = uri
        try:
            if uri.startswith("redis+cluster://"):
                self.r: Any = redis.cluster.RedisCluster.from_url(
                    "redis://" + uri[len("redis+cluster://") :]
                )
            else:
                self.r = thread_client(uri, health_check_interval=30)
        except (redis.RedisError, ValueError) as exc:
            raise StoreError(f"Cannot connect to the Redis store {uri!r}: {exc}.") from exc
        # The OS's randomness as SystemRandom's, read in batches: a grid's draws (gold, decoys,
        # open items, queue) made a system call each. Imported here, as crowdgate.challenge
        # imports the store.
        from ..challenge.rand import BatchedSystemRandom

        self._rng: random.Random = BatchedSystemRandom()
        self._put_item = self.r.register_script(PUT_ITEM)
        self._put_items = self.r.register_script(PUT_ITEMS)
        self._adopt_blobs = self.r.register_script(ADOPT_BLOBS)
        self._blob_refs_script = self.r.register_script(BLOB_REFS)
        self._update_item = self.r.register_script(UPDATE_ITEM)
        self._record_pass = self.r.register_script(RECORD_PASS)
        self._draw_grid = self.r.register_script(DRAW_GRID)
        self._swap_tiles_script = self.r.register_script(SWAP_TILES)
        self._redeem = self.r.register_script(REDEEM)
        self._put_challenge = self.r.register_script(PUT_CHALLENGE)
        self._take_challenge = self.r.register_script(TAKE_CHALLENGE)
        self._put_model = self.r.register_script(PUT_MODEL)
        self._acquire = self.r.register_script(ACQUIRE)
        self._save_site = self.r.register_script(SAVE_SITE)
        self._release = self.r.register_script(RELEASE)
        # the hot writes again, checking the request's rate-limit counters first (one call)
        self._draw_grid_limited = self.r.register_script(limited(DRAW_GRID))
        self._put_challenge_limited = self.r.register_script(limited(PUT_CHALLENGE))
        self._take_challenge_limited = self.r.register_script(limited(TAKE_CHALLENGE))
        self._redeem_limited = self.r.register_script(limited(REDEEM))
        #: where a request's rate-limit charge can be folded in: this very Redis (not a cluster,
        #: whose limit keys live in other slots than a project's)
        self.limits_place = "" if uri.startswith("redis+cluster://") else uri
        default = blobs_default or (Path(DEFAULT_DATA_DIR) / "blobs").resolve().as_uri()
        self._open_blobs(blobs, default, blob_cache_bytes)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"The Redis store is unavailable: {exc}.") from exc

    def _charged(self, plain: Any, charged: Any, keys: list[str], args: list[Any]) -> Any:
        """Run ``plain``, or ``charged`` with the request's pending rate-limit charge first."""
        charge: Charge | None = limit_charge.take(self.limits_place) if self.limits_place else None
        if charge is None:
            return self._call(plain, keys=keys, args=args)
        counters = charge.counters
        head: list[Any] = [len(counters)]
        for counter in counters:
            head += [counter.window_s, counter.amount]
        try:
            return charged(keys=[c.key for c in counters] + keys, args=head + args)
        except redis.ResponseError as exc:
            text = str(exc)
            if text.startswith("CGLIMIT "):
                raise LimitRefused(counters[int(text.split()[1]) - 1]) from None
            raise StoreError(f"The Redis store is unavailable: {exc}.") from exc
        except redis.RedisError as exc:
            raise StoreError(f"The Redis store is unavailable: {exc}.") from exc

    def check(self) -> None:
        self._call(self.r.ping)

    def close(self) -> None:
        self.r.close()
