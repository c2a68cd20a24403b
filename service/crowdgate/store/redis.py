"""Redis backend: the production store. Works unchanged on Redis Cluster.

Key schema (every key of one project shares the hash tag ``{p:<project>}``, so each Lua script
and pipeline touches one slot; admin records share the tag ``{cg}``):

- ``cg:{cg}:projects`` set of project ids
- ``cg:{cg}:site:<sitekey>`` site JSON; ``cg:{cg}:sitesecret:<hash>`` the same site JSON
  (so siteverify finds a site in one read);
  ``cg:{cg}:sites`` zset of sitekeys by creation
- ``cg:{cg}:apikey:<id>`` key JSON; ``cg:{cg}:apikeyhash:<hash>`` id; ``cg:{cg}:apikeys`` zset
- ``cg:{p:P}:project`` project JSON
- ``cg:{p:P}:item:<id>`` hash: ``data`` (item JSON), ``state``, ``votes``
- ``cg:{p:P}:blob:<id>`` hash of blob kind to bytes; ``cg:{p:P}:feat`` hash of id to float32 bytes
- ``cg:{p:P}:seq`` insertion counter; ``cg:{p:P}:all`` zset of ids by insertion;
  ``cg:{p:P}:state:<state>`` and ``cg:{p:P}:gold:<label>`` zsets of ids (same scores)
- ``cg:{p:P}:voters:<id>`` set of voter keys; ``cg:{p:P}:ivotes:<id>`` list of vote JSON;
  ``cg:{p:P}:votes`` list of every vote JSON in order
- ``cg:{p:P}:ch:<challenge id>`` challenge JSON, TTL until expiry
- ``cg:{p:P}:tok:<sha256 of token>`` token JSON, TTL one more lifetime past expiry;
  ``cg:{p:P}:gone:<sha256 of token>`` its tombstone once redeemed, for the same time
- ``cg:{p:P}:stats`` hash of counters
- ``cg:{p:P}:secrets`` hash of sitekey to current secret hash (siteverify's one-step redeem)
- ``cg:{p:P}:ll:<id>`` hash of label to summed live log-odds; ``cg:{p:P}:nets:<id>`` hash of
  voter network to votes
- ``cg:{p:P}:queue:<label>`` zset of open items to ask about a label, by disagreement
- ``cg:{p:P}:modelseq`` model version counter; ``cg:{p:P}:models`` list of model JSON
- ``cg:{cg}:lock:<name>`` lock owner, with a TTL
- ``cg:spent:<kind>:<digest>`` a spent single-use proof, with a TTL; no hash tag, so these
  keys spread over a cluster's slots (each command touches one key)

Challenge ids and tokens are ``<project>.<random>``, so the project (and so the slot) of a
challenge or token is known without a lookup.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import redis
import redis.cluster

from ..errors import Conflict, StoreError
from ..models import (
    GOLD,
    ITEM_STATES,
    UNLABELED,
    ApiKey,
    Challenge,
    Evidence,
    Item,
    Project,
    Site,
    TokenRecord,
    Vote,
)
from . import limit_charge
from .base import (
    EXPIRED,
    REDEEMED,
    SPENT,
    UNKNOWN,
    GridDraw,
    Redemption,
    Store,
    token_digest,
    token_keep_until,
)
from .limit_charge import Charge, LimitRefused
from .redis_pool import thread_client
from .redis_scripts import (
    ACQUIRE,
    DRAW_GRID,
    PUT_CHALLENGE,
    PUT_ITEM,
    PUT_MODEL,
    RECORD_PASS,
    REDEEM,
    RELEASE,
    SAVE_SITE,
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


class RedisStore(Store):
    """Store on Redis or Redis Cluster (``redis+cluster://host:port``)."""

    scheme = "redis"

    def __init__(self, uri: str, **_: object):
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
        self._rng = random.SystemRandom()
        self._put_item = self.r.register_script(PUT_ITEM)
        self._update_item = self.r.register_script(UPDATE_ITEM)
        self._record_pass = self.r.register_script(RECORD_PASS)
        self._draw_grid = self.r.register_script(DRAW_GRID)
        self._redeem = self.r.register_script(REDEEM)
        self._put_challenge = self.r.register_script(PUT_CHALLENGE)
        self._take_challenge = self.r.register_script(TAKE_CHALLENGE)
        self._put_model = self.r.register_script(PUT_MODEL)
        self._acquire = self.r.register_script(ACQUIRE)
        self._save_site = self.r.register_script(SAVE_SITE)
        self._release = self.r.register_script(RELEASE)
        # the hot writes again, checking the request's rate-limit counters first (one call)
        self._put_challenge_limited = self.r.register_script(limited(PUT_CHALLENGE))
        self._take_challenge_limited = self.r.register_script(limited(TAKE_CHALLENGE))
        self._redeem_limited = self.r.register_script(limited(REDEEM))
        #: where a request's rate-limit charge can be folded in: this very Redis (not a cluster,
        #: whose limit keys live in other slots than a project's)
        self.limits_place = "" if uri.startswith("redis+cluster://") else uri

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

    # -- challenges, tokens, votes ---------------------------------------------------------
    def put_challenge(self, challenge: Challenge) -> None:
        ttl_ms = max(1, math.ceil((challenge.expires_at - challenge.issued_at) * 1000))
        p = _p(challenge.project)
        self._charged(
            self._put_challenge,
            self._put_challenge_limited,
            [p + "ch:" + challenge.id, p + "stats"],
            [json.dumps(challenge.to_dict()), ttl_ms, "0" if challenge.test else "1"],
        )

    def _challenge(self, challenge_id: str, now: float, take: bool) -> Challenge | None:
        project = _route(challenge_id)
        if project is None:
            return None
        key = _p(project) + "ch:" + challenge_id
        if take:
            raw = self._charged(self._take_challenge, self._take_challenge_limited, [key], [])
        else:
            raw = self._call(self.r.get, key)
        if raw is None:
            return None
        challenge = Challenge.from_dict(json.loads(raw))
        return challenge if challenge.expires_at > now else None

    def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        return self._challenge(challenge_id, now, take=False)

    def take_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        return self._challenge(challenge_id, now, take=True)

    def record_pass(
        self,
        project_id: str,
        votes: list[Vote],
        token: TokenRecord,
        vote_cap: int,
        network_cap: int | None = None,
    ) -> list[Evidence]:
        p = _p(project_id)
        data = token.to_dict()
        data.pop("token")
        # the key outlives the token: an expired token is still told from a forged one
        ttl_ms = max(1, math.ceil((token_keep_until(token) - token.challenge_ts) * 1000))
        label = votes[0].label if votes else ""
        keys = [
            p + "stats",
            p + "tok:" + token_digest(token.token),
            p + "votes",
            p + "queue:" + label,
        ]
        args: list[Any] = [
            json.dumps(data),
            ttl_ms,
            vote_cap,
            "0" if token.test else "1",
            vote_cap if network_cap is None else network_cap,
        ]
        for vote in votes:
            i = vote.item
            keys += [
                p + "item:" + i,
                p + "voters:" + i,
                p + "ivotes:" + i,
                p + "ll:" + i,
                p + "nets:" + i,
            ]
            args += [
                vote.voter,
                json.dumps(vote.to_dict()),
                vote.label,
                repr(vote.weight),
                vote.network,
                i,
            ]
        out = []
        for entry in self._call(self._record_pass, keys=keys, args=args):
            flat = entry[3:]
            loglik = {flat[j].decode(): float(flat[j + 1]) for j in range(0, len(flat), 2)}
            out.append(
                Evidence(votes[int(entry[0]) - 1].item, loglik, int(entry[1]), int(entry[2]))
            )
        return out

    def get_evidence(self, project_id: str, item_id: str) -> Evidence:
        p = _p(project_id)
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(p + "ll:" + item_id)
        pipe.hget(p + "item:" + item_id, "votes")
        pipe.hlen(p + "nets:" + item_id)
        ll, votes, nets = self._call(pipe.execute)
        loglik = {k.decode(): float(v) for k, v in ll.items()}
        return Evidence(item_id, loglik, int(votes or 0), int(nets))

    def redeem(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> Redemption:
        project = _route(token)
        if project is None:
            return Redemption(UNKNOWN)
        p = _p(project)
        digest = token_digest(token)
        keys = [p + "tok:" + digest, p + "secrets", p + "gone:" + digest]
        args = [sitekey or "", secret_hash or "", repr(now)]
        raw = self._charged(self._redeem, self._redeem_limited, keys, args)
        if raw is None:
            return Redemption(UNKNOWN)
        if raw == b"spent":
            return Redemption(SPENT)
        if raw == b"expired":
            return Redemption(EXPIRED)
        return Redemption(REDEEMED, TokenRecord(token=token, **json.loads(raw)))

    def peek_token(self, token: str, now: float) -> TokenRecord | None:
        project = _route(token)
        if project is None:
            return None
        raw = self._call(self.r.get, _p(project) + "tok:" + token_digest(token))
        record = TokenRecord(token=token, **json.loads(raw)) if raw else None
        return record if record is not None and record.expires_at > now else None

    def spend_once(self, kind: str, digest: str, now: float, ttl_s: float) -> bool:
        ttl_ms = max(1, int(ttl_s * 1000))
        key = f"cg:spent:{kind}:{digest}"
        return bool(self._call(self.r.set, key, b"1", nx=True, px=ttl_ms))

    def list_votes(self, project_id: str, item_id: str | None = None) -> list[Vote]:
        key = _p(project_id) + ("votes" if item_id is None else "ivotes:" + item_id)
        return [Vote.from_dict(json.loads(v)) for v in self._call(self.r.lrange, key, 0, -1)]

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

    def incr_stats(self, project_id: str, **counts: int) -> None:
        pipe = self.r.pipeline(transaction=False)
        for name, value in counts.items():
            pipe.hincrby(_p(project_id) + "stats", name, value)
        self._call(pipe.execute)

    def get_stats(self, project_id: str) -> dict[str, int]:
        raw = self._call(self.r.hgetall, _p(project_id) + "stats")
        return {k.decode(): int(v) for k, v in raw.items()}


def _gold_label(item: Item) -> str:
    return item.known_label or "" if item.state == GOLD else ""
