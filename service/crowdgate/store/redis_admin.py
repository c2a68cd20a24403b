"""Redis backend: sites and API keys, the committee's queues and models, and locks."""

from __future__ import annotations

import json

from ..errors import Conflict, StoreError
from ..models import ApiKey, Site
from .redis_base import G, RedisBase, _p


class RedisAdmin(RedisBase):
    """Sites, API keys, committee queues and model records, and named locks."""

    # -- sites and keys --------------------------------------------------------------------
    def create_site(self, site: Site) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(G + "site:" + site.sitekey, json.dumps(site.to_dict()), nx=True)
        pipe.set(G + "sitesecret:" + site.secret_hash, json.dumps(site.to_dict()))
        pipe.zadd(G + "sites", {site.sitekey: site.created_at}, nx=True)
        if not self._call(pipe.execute)[0]:
            raise Conflict(f"Site {site.sitekey!r} already exists.", code="site-exists")
        self._call(self.r.hset, _p(site.project) + "secrets", site.sitekey, site.secret_hash)

    def get_site(self, sitekey: str) -> Site | None:
        raw = self._call(self.r.get, G + "site:" + sitekey)
        return Site.from_dict(json.loads(raw)) if raw else None

    def get_site_by_secret(self, secret_hash: str) -> Site | None:
        raw = self._call(self.r.get, G + "sitesecret:" + secret_hash)
        site = Site.from_dict(json.loads(raw)) if raw else None
        return site if site is not None and site.secret_hash == secret_hash else None

    def list_sites(self) -> list[Site]:
        keys = self._call(self.r.zrange, G + "sites", 0, -1)
        return [s for s in (self.get_site(k.decode()) for k in keys) if s is not None]

    def save_site(self, site: Site) -> None:
        for _ in range(5):
            current = self.get_site(site.sitekey)
            if current is None:
                return
            data = json.dumps({**site.to_dict(), "secret_hash": current.secret_hash})
            keys = [G + "site:" + site.sitekey, G + "sitesecret:" + current.secret_hash]
            if self._call(self._save_site, keys=keys, args=[current.secret_hash, data]):
                return
        raise StoreError(f"Site {site.sitekey!r} kept changing while it was saved; retry.")

    def set_site_secret(self, sitekey: str, secret_hash: str) -> None:
        site = self.get_site(sitekey)
        if site is None:
            return
        old = site.secret_hash
        site.secret_hash = secret_hash
        pipe = self.r.pipeline(transaction=True)
        pipe.set(G + "site:" + sitekey, json.dumps(site.to_dict()))
        pipe.set(G + "sitesecret:" + secret_hash, json.dumps(site.to_dict()))
        pipe.delete(G + "sitesecret:" + old)
        self._call(pipe.execute)
        self._call(self.r.hset, _p(site.project) + "secrets", sitekey, secret_hash)

    def create_apikey(self, key: ApiKey) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.set(G + "apikey:" + key.id, json.dumps(key.to_dict()))
        pipe.set(G + "apikeyhash:" + key.key_hash, key.id)
        pipe.zadd(G + "apikeys", {key.id: key.created_at})
        self._call(pipe.execute)

    def _apikey(self, key_id: str) -> ApiKey | None:
        raw = self._call(self.r.get, G + "apikey:" + key_id)
        return ApiKey.from_dict(json.loads(raw)) if raw else None

    def get_apikey_by_hash(self, key_hash: str) -> ApiKey | None:
        key_id = self._call(self.r.get, G + "apikeyhash:" + key_hash)
        return self._apikey(key_id.decode()) if key_id else None

    def list_apikeys(self) -> list[ApiKey]:
        ids = self._call(self.r.zrange, G + "apikeys", 0, -1)
        return [k for k in (self._apikey(i.decode()) for i in ids) if k is not None]

    def revoke_apikey(self, key_id: str) -> bool:
        key = self._apikey(key_id)
        if key is None:
            return False
        key.revoked = True
        self._call(self.r.set, G + "apikey:" + key_id, json.dumps(key.to_dict()))
        return True

    # -- committee ---------------------------------------------------------------------------
    def set_queue(self, project_id: str, label: str, ranked: list[tuple[str, float]]) -> None:
        key = _p(project_id) + "queue:" + label
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(key)
        for start in range(0, len(ranked), 5000):
            chunk = ranked[start : start + 5000]
            pipe.zadd(key, {item: float(score) for item, score in chunk})
        self._call(pipe.execute)

    def rank_queue(self, project_id: str, scores: dict[str, dict[str, float]]) -> None:
        todo = {label: items for label, items in scores.items() if items}
        if not todo:
            return
        if len(todo) == 1:
            # one label, as an answer's scores mostly are: one command, no pipeline to build
            ((label, items),) = todo.items()
            key = _p(project_id) + "queue:" + label
            self._call(self.r.zadd, key, {i: float(s) for i, s in items.items()})
            return
        pipe = self.r.pipeline(transaction=False)
        for label, items in todo.items():
            pipe.zadd(_p(project_id) + "queue:" + label, {i: float(s) for i, s in items.items()})
        self._call(pipe.execute)

    def pick_queue(
        self, project_id: str, label: str, n: int, top_k: int, vote_cap: int
    ) -> list[str]:
        p = _p(project_id)
        key = p + "queue:" + label
        ids = [i.decode() for i in self._call(self.r.zrevrange, key, 0, 2 * top_k - 1)]
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        for item in ids:
            pipe.hmget(p + "item:" + item, "state", "votes")
        status = self._call(pipe.execute)
        ok = [st == b"unlabeled" and int(v or 0) < vote_cap for st, v in status]
        stale = [i for i, good in zip(ids, ok, strict=True) if not good]
        if stale:
            self._call(self.r.zrem, key, *stale)
        eligible = [i for i, good in zip(ids, ok, strict=True) if good][:top_k]
        return self._rng.sample(eligible, min(n, len(eligible)))

    def set_committee_labels(
        self, project_id: str, version: int, rows: list[tuple[str, str, float]]
    ) -> None:
        p = _p(project_id)
        for start in range(0, len(rows), 2000):
            pipe = self.r.pipeline(transaction=False)
            for item, label, conf in rows[start : start + 2000]:
                pipe.hset(
                    p + "item:" + item,
                    mapping={"cl": label, "cc": repr(float(conf)), "mv": version},
                )
            self._call(pipe.execute)

    def put_model(self, project_id: str, record: dict) -> int:
        p = _p(project_id)
        return int(
            self._call(
                self._put_model, keys=[p + "modelseq", p + "models"], args=[json.dumps(record)]
            )
        )

    def list_models(self, project_id: str) -> list[dict]:
        raw = self._call(self.r.lrange, _p(project_id) + "models", 0, -1)
        return [json.loads(r) for r in raw]

    def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        return bool(self._call(self._acquire, keys=[G + "lock:" + name], args=[owner, ttl_ms]))

    def release_lock(self, name: str, owner: str) -> None:
        self._call(self._release, keys=[G + "lock:" + name], args=[owner])
