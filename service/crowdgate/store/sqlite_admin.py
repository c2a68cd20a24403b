"""SQLite backend: sites and API keys, the committee's queues and models, and locks."""

from __future__ import annotations

import json
import sqlite3
import time

from ..errors import Conflict
from ..models import UNLABELED, ApiKey, Site
from .sqlite_conn import SqliteBase


class SqliteAdmin(SqliteBase):
    """Sites, API keys, committee queues and model records, and named locks."""

    # -- sites and keys --------------------------------------------------------------------
    def create_site(self, site: Site) -> None:
        with self._tx() as db:
            try:
                db.execute(
                    "INSERT INTO sites (sitekey, secret_hash, seq, data) "
                    "VALUES (?, ?, (SELECT count(*) FROM sites), ?)",
                    (site.sitekey, site.secret_hash, json.dumps(site.to_dict())),
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"Site {site.sitekey!r} already exists.", code="site-exists"
                ) from exc

    def get_site(self, sitekey: str) -> Site | None:
        rows = self._q("SELECT data FROM sites WHERE sitekey=?", (sitekey,))
        return Site.from_dict(json.loads(rows[0][0])) if rows else None

    def get_site_by_secret(self, secret_hash: str) -> Site | None:
        rows = self._q("SELECT data FROM sites WHERE secret_hash=?", (secret_hash,))
        return Site.from_dict(json.loads(rows[0][0])) if rows else None

    def list_sites(self) -> list[Site]:
        return [
            Site.from_dict(json.loads(r[0])) for r in self._q("SELECT data FROM sites ORDER BY seq")
        ]

    def save_site(self, site: Site) -> None:
        with self._tx() as db:
            rows = db.execute("SELECT data FROM sites WHERE sitekey=?", (site.sitekey,)).fetchall()
            if not rows:
                return
            data = {**site.to_dict(), "secret_hash": json.loads(rows[0][0])["secret_hash"]}
            db.execute("UPDATE sites SET data=? WHERE sitekey=?", (json.dumps(data), site.sitekey))

    def set_site_secret(self, sitekey: str, secret_hash: str) -> None:
        with self._tx() as db:
            rows = db.execute("SELECT data FROM sites WHERE sitekey=?", (sitekey,)).fetchall()
            if not rows:
                return
            site = Site.from_dict(json.loads(rows[0][0]))
            site.secret_hash = secret_hash
            db.execute(
                "UPDATE sites SET secret_hash=?, data=? WHERE sitekey=?",
                (secret_hash, json.dumps(site.to_dict()), sitekey),
            )

    def create_apikey(self, key: ApiKey) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO apikeys (id, key_hash, seq, data) "
                "VALUES (?, ?, (SELECT count(*) FROM apikeys), ?)",
                (key.id, key.key_hash, json.dumps(key.to_dict())),
            )

    def get_apikey_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = self._q("SELECT data FROM apikeys WHERE key_hash=?", (key_hash,))
        return ApiKey.from_dict(json.loads(rows[0][0])) if rows else None

    def list_apikeys(self) -> list[ApiKey]:
        return [
            ApiKey.from_dict(json.loads(r[0]))
            for r in self._q("SELECT data FROM apikeys ORDER BY seq")
        ]

    def revoke_apikey(self, key_id: str) -> bool:
        with self._tx() as db:
            rows = db.execute("SELECT data FROM apikeys WHERE id=?", (key_id,)).fetchall()
            if not rows:
                return False
            key = ApiKey.from_dict(json.loads(rows[0][0]))
            key.revoked = True
            db.execute("UPDATE apikeys SET data=? WHERE id=?", (json.dumps(key.to_dict()), key_id))
        return True

    # -- committee ---------------------------------------------------------------------------
    def set_queue(self, project_id: str, label: str, ranked: list[tuple[str, float]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM queue WHERE project=? AND label=?", (project_id, label))
            db.executemany(
                "INSERT OR REPLACE INTO queue (project, label, item, score) VALUES (?,?,?,?)",
                [(project_id, label, item, float(score)) for item, score in ranked],
            )

    def rank_queue(self, project_id: str, scores: dict[str, dict[str, float]]) -> None:
        if not any(scores.values()):
            return
        with self._tx() as db:
            self._write_ranks(db, project_id, scores)

    def pick_queue(
        self, project_id: str, label: str, n: int, top_k: int, vote_cap: int
    ) -> list[str]:
        rows = self._q(
            "SELECT q.item, i.state = ? AND i.votes < ? FROM queue q JOIN items i "
            "ON i.project = q.project AND i.id = q.item WHERE q.project=? AND q.label=? "
            "ORDER BY q.score DESC LIMIT ?",
            (UNLABELED, vote_cap, project_id, label, 2 * top_k),
        )
        stale = [item for item, ok in rows if not ok]
        if stale:
            with self._tx() as db:
                db.executemany(
                    "DELETE FROM queue WHERE project=? AND label=? AND item=?",
                    [(project_id, label, item) for item in stale],
                )
        eligible = [item for item, ok in rows if ok][:top_k]
        if n >= len(eligible):
            # all of them, best first (as Redis's grid draw returns them): a grid asks for the
            # whole top and its selector samples from it, so a shuffle here is work for nothing
            return eligible
        return self._rng.sample(eligible, n)

    def set_committee_labels(
        self, project_id: str, version: int, rows: list[tuple[str, str, float]]
    ) -> None:
        for start in range(0, len(rows), 5000):
            with self._tx() as db:
                db.executemany(
                    "UPDATE items SET cl=?, cc=?, mv=? WHERE project=? AND id=?",
                    [
                        (lab, float(conf), version, project_id, item)
                        for item, lab, conf in rows[start : start + 5000]
                    ],
                )

    def put_model(self, project_id: str, record: dict) -> int:
        with self._tx() as db:
            version = db.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM models WHERE project=?", (project_id,)
            ).fetchall()[0][0]
            db.execute(
                "INSERT INTO models (project, version, data) VALUES (?,?,?)",
                (project_id, version, json.dumps({**record, "version": version})),
            )
        return version

    def list_models(self, project_id: str) -> list[dict]:
        rows = self._q("SELECT data FROM models WHERE project=? ORDER BY version", (project_id,))
        return [json.loads(r[0]) for r in rows]

    def acquire_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO locks (name, owner, expires_at) VALUES (?,?,?) ON CONFLICT (name) "
                "DO UPDATE SET owner=excluded.owner, expires_at=excluded.expires_at "
                "WHERE locks.owner=excluded.owner OR locks.expires_at < ?",
                (name, owner, now + ttl_s, now),
            )
            return cur.rowcount == 1

    def release_lock(self, name: str, owner: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE name=? AND owner=?", (name, owner))
