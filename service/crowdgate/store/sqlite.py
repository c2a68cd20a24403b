"""SQLite backend: the embedded default. One WAL-mode file, safe for several processes."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

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
    Redemption,
    Store,
    token_digest,
    token_keep_until,
)
from .limit_charge import COUNTER_INCR, Charge, Counter, LimitRefused
from .sqlite_schema import OPEN_POOL, SCHEMA, migrate, pool_of

#: Expired challenges, tokens and spent proofs are swept by a writer on about one call in this
#: many.
SWEEP_EVERY = 200
#: connections opened before a fork, kept (never closed) in the child; see ``own_connection``
_INHERITED: list[sqlite3.Connection] = []
#: Columns read to build an Item: the JSON record plus fields updated in bulk.
ITEM_COLS = "data, votes, cl, cc, mv"
#: the rate-limit counters file, attached to a store connection under this name
LIMITS_DB = "cg_limits"
#: one charged write in this many also deletes the counters whose window has ended
LIMITS_SWEEP_EVERY = 1024
_CHARGE_INCR = COUNTER_INCR.format(table=f"{LIMITS_DB}.counters")


def limits_file(store_file: Path) -> Path:
    """Return the rate-limit counters file kept beside the SQLite store in ``store_file``."""
    path = store_file.resolve()
    return path.with_name(path.stem + "-limits.db")


def own_connection(local: threading.local) -> sqlite3.Connection | None:
    """Return this thread's connection in ``local`` if this process opened it, else ``None``.

    A connection opened before a fork is set aside, never used or closed in the child: closing
    it would drop the child's POSIX locks on the file (SQLite's documented fork hazard).
    """
    conn = getattr(local, "conn", None)
    if conn is not None and getattr(local, "pid", None) != os.getpid():
        _INHERITED.append(conn)
        local.conn = conn = None
    return conn


def file_of(uri: str) -> Path:
    """Return the database file a ``sqlite:///relative`` or ``sqlite:////absolute`` URI names."""
    path = urlsplit(uri).path
    if uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    elif uri.startswith("sqlite:///"):
        path = path[1:] if path.startswith("/") else path
    if not path:
        raise StoreError(f"Store URI {uri!r} names no file; use sqlite:///path/to/file.db.")
    return Path(path)


class SqliteStore(Store):
    """Store on one SQLite file in WAL mode; each thread and process has its own connection."""

    scheme = "sqlite"

    def __init__(self, uri: str, synchronous: str = "NORMAL", busy_timeout_ms: int = 10_000):
        self.path = file_of(uri)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._rng = random.SystemRandom()
        #: where a request's rate-limit charge can be folded in: the counters file beside this
        #: one, attached to each connection, so one transaction checks the limits and writes
        self.limits_place = str(limits_file(self.path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder for {self.path}: {exc}.") from exc
        try:
            self._conn().executescript(SCHEMA)
            migrate(self._conn())
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot create the schema in {self.path}: {exc}.") from exc

    # -- connection handling ---------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = own_connection(self._local)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout_ms / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            except sqlite3.Error as exc:
                raise StoreError(f"Cannot open SQLite store {self.path}: {exc}.") from exc
            self._local.conn, self._local.pid = conn, os.getpid()
            self._local.attached = False
        return conn

    def _charge(self, db: sqlite3.Connection, charge: Charge | None) -> Counter | None:
        """Count ``charge`` inside the open transaction; return the counter it went past."""
        if charge is None:
            return None
        now = time.time()
        for counter in charge.counters:
            (count,) = db.execute(_CHARGE_INCR, (counter.key, 1, now, counter.window_s)).fetchone()
            if count > counter.amount:
                return counter
        if self._rng.randrange(LIMITS_SWEEP_EVERY) == 0:
            db.execute(f"DELETE FROM {LIMITS_DB}.counters WHERE expires <= ?", (now,))
        return None

    def _pending_charge(self) -> Charge | None:
        """Take the request's rate-limit charge, attaching the counters file (outside a write)."""
        charge = limit_charge.take(self.limits_place)
        if charge is not None and not getattr(self._local, "attached", False):
            conn = self._conn()
            try:
                conn.execute(f"ATTACH DATABASE ? AS {LIMITS_DB}", (self.limits_place,))
                # as the limits storage itself writes it (see web/limit_storage.py)
                conn.execute(f"PRAGMA {LIMITS_DB}.synchronous=NORMAL")
            except sqlite3.Error as exc:
                where = self.limits_place
                raise StoreError(f"Cannot open the limits file {where}: {exc}.") from exc
            self._local.attached = True
        return charge

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Run a write transaction taken with BEGIN IMMEDIATE, so writers never deadlock."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} failed: {exc}.") from exc

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} failed: {exc}.") from exc

    def check(self) -> None:
        self._q("SELECT 1")

    def close(self) -> None:
        conn = own_connection(self._local)
        if conn is not None:
            conn.close()
            self._local.conn = None

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
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO items (project, id, state, known_label, votes, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    item.project,
                    item.id,
                    item.state,
                    item.known_label,
                    item.votes,
                    json.dumps(item.to_dict()),
                ),
            )
            if cur.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO blobs (project, item, kind, data) VALUES (?, ?, ?, ?)",
                [(item.project, item.id, kind, data) for kind, data in blobs.items()],
            )
            if features is not None:
                vec = np.ascontiguousarray(features, dtype=np.float32).tobytes()
                db.execute(
                    "INSERT INTO features (project, item, vec) VALUES (?, ?, ?)",
                    (item.project, item.id, vec),
                )
            self._pool_add(db, item.project, pool_of(item.state, item.known_label), item.id)
            counts = {f"state:{item.state}": 1}
            if item.state == GOLD and item.known_label is not None:
                counts[f"gold:{item.known_label}"] = 1
            self._incr(db, item.project, counts)
        return True

    def get_item(self, project_id: str, item_id: str) -> Item | None:
        rows = self._q(
            f"SELECT {ITEM_COLS} FROM items WHERE project=? AND id=?", (project_id, item_id)
        )
        return self._item(rows[0]) if rows else None

    @staticmethod
    def _item(row: tuple) -> Item:
        item = Item.from_dict(json.loads(row[0]))
        item.votes = row[1]
        if row[2] is not None:
            item.committee_label, item.committee_confidence, item.model_version = row[2:5]
        return item

    def get_blob(self, project_id: str, item_id: str, kind: str) -> bytes | None:
        rows = self._q(
            "SELECT data FROM blobs WHERE project=? AND item=? AND kind=?",
            (project_id, item_id, kind),
        )
        return bytes(rows[0][0]) if rows else None

    def get_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        if not wanted:
            return []
        # One primary-key lookup per pair, in one statement: SQLite plans a row-value
        # ``(item, kind) IN (VALUES ...)`` as a scan of every blob of the project (17.6 ms on
        # the demo's 32k blobs, against 0.07 ms for this). Chunked under SQLite's limit of 500
        # terms per compound select.
        one = "SELECT item, kind, data FROM blobs WHERE project=? AND item=? AND kind=?"
        found: dict[tuple[str, str], bytes] = {}
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            rows = self._q(
                " UNION ALL ".join([one] * len(chunk)),
                tuple(v for item, kind in chunk for v in (project_id, item, kind)),
            )
            found.update(((item, kind), bytes(data)) for item, kind, data in rows)
        return [found.get(pair) for pair in wanted]

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

    def count_items(self, project_id: str) -> dict[str, int]:
        stats = self.get_stats(project_id)
        return {s: stats.get(f"state:{s}", 0) for s in ITEM_STATES}

    def gold_labels(self, project_id: str) -> dict[str, int]:
        stats = self.get_stats(project_id)
        return {k[5:]: v for k, v in stats.items() if k.startswith("gold:") and v > 0}

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

    def sample_open(self, project_id: str, n: int) -> list[str]:
        return self._sample(project_id, OPEN_POOL, n)

    def update_item(self, project_id: str, item_id: str, **fields: object) -> None:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {ITEM_COLS} FROM items WHERE project=? AND id=?", (project_id, item_id)
            ).fetchall()
            if not rows:
                return
            item = self._item(rows[0])
            old_state, old_known = item.state, item.known_label
            for key, value in fields.items():
                setattr(item, key, value)
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
            self._incr(db, project_id, {k: v for k, v in counts.items() if v})

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

    # -- challenges, tokens, votes ---------------------------------------------------------
    def put_challenge(self, challenge: Challenge) -> None:
        charge = self._pending_charge()
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is None:
                db.execute(
                    "INSERT INTO challenges (id, expires_at, data) VALUES (?, ?, ?)",
                    (challenge.id, challenge.expires_at, json.dumps(challenge.to_dict())),
                )
                if not challenge.test:
                    self._incr(db, challenge.project, {"challenges_issued": 1})
                if self._rng.randrange(SWEEP_EVERY) == 0:
                    self._sweep(db, challenge.issued_at)
        if refused is not None:
            raise LimitRefused(refused)

    @staticmethod
    def _sweep(db: sqlite3.Connection, now: float) -> None:
        for table, key in (("challenges", "id"), ("tokens", "digest"), ("spent", "rowid")):
            db.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                "WHERE expires_at < ? LIMIT 1000)",
                (now,),
            )

    def get_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        rows = self._q(
            "SELECT data FROM challenges WHERE id=? AND expires_at>?", (challenge_id, now)
        )
        return Challenge.from_dict(json.loads(rows[0][0])) if rows else None

    def take_challenge(self, challenge_id: str, now: float) -> Challenge | None:
        charge = self._pending_charge()
        rows: list[tuple] = []
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is None:
                rows = db.execute(
                    "DELETE FROM challenges WHERE id=? RETURNING expires_at, data", (challenge_id,)
                ).fetchall()
        if refused is not None:
            raise LimitRefused(refused)
        if not rows or rows[0][0] <= now:
            return None
        return Challenge.from_dict(json.loads(rows[0][1]))

    def record_pass(
        self,
        project_id: str,
        votes: list[Vote],
        token: TokenRecord,
        vote_cap: int,
        network_cap: int | None = None,
    ) -> list[Evidence]:
        net_cap = vote_cap if network_cap is None else network_cap
        touched: list[str] = []
        data = token.to_dict()
        data.pop("token")
        with self._tx() as db:
            for vote in votes:
                cur = db.execute(
                    "UPDATE items SET votes=votes+1 WHERE project=? AND id=? AND state=? "
                    "AND votes<? AND NOT EXISTS (SELECT 1 FROM votes WHERE project=? AND item=? "
                    "AND voter=?) AND NOT EXISTS (SELECT 1 FROM item_networks WHERE project=? "
                    "AND item=? AND network=? AND votes>=?)",
                    (
                        project_id,
                        vote.item,
                        UNLABELED,
                        vote_cap,
                        project_id,
                        vote.item,
                        vote.voter,
                        project_id,
                        vote.item,
                        vote.network,
                        net_cap,
                    ),
                )
                if not cur.rowcount:
                    continue
                db.execute(
                    "INSERT INTO votes (project, item, voter, data) VALUES (?,?,?,?)",
                    (project_id, vote.item, vote.voter, json.dumps(vote.to_dict())),
                )
                db.execute(
                    "INSERT INTO evidence (project, item, label, ll) VALUES (?,?,?,?) "
                    "ON CONFLICT (project, item, label) DO UPDATE SET ll = ll + excluded.ll",
                    (project_id, vote.item, vote.label, vote.weight),
                )
                db.execute(
                    "INSERT INTO item_networks (project, item, network) VALUES (?,?,?) "
                    "ON CONFLICT (project, item, network) DO UPDATE SET votes = votes + 1",
                    (project_id, vote.item, vote.network),
                )
                touched.append(vote.item)
            db.execute(
                "INSERT INTO tokens (digest, expires_at, data) VALUES (?, ?, ?)",
                # the row outlives the token: an expired token is still told from a forged one
                (token_digest(token.token), token_keep_until(token), json.dumps(data)),
            )
            counts = {"challenges_passed": 0 if token.test else 1, "votes": len(touched)}
            self._incr(db, project_id, {k: v for k, v in counts.items() if v})
            return [self._evidence(db, project_id, item) for item in touched]

    @staticmethod
    def _evidence(db: sqlite3.Connection, project_id: str, item_id: str) -> Evidence:
        loglik = dict(
            db.execute(
                "SELECT label, ll FROM evidence WHERE project=? AND item=?", (project_id, item_id)
            ).fetchall()
        )
        votes = db.execute(
            "SELECT votes FROM items WHERE project=? AND id=?", (project_id, item_id)
        ).fetchall()
        nets = db.execute(
            "SELECT count(*) FROM item_networks WHERE project=? AND item=?", (project_id, item_id)
        ).fetchall()
        return Evidence(item_id, loglik, votes[0][0] if votes else 0, nets[0][0])

    def get_evidence(self, project_id: str, item_id: str) -> Evidence:
        return self._evidence(self._conn(), project_id, item_id)

    def redeem(
        self, token: str, now: float, sitekey: str | None = None, secret_hash: str | None = None
    ) -> Redemption:
        owner = "1=1"
        args: list[str] = []
        if sitekey is not None:
            owner += " AND json_extract(data, '$.sitekey') = ?"
            args.append(sitekey)
        if secret_hash is not None:
            owner += (
                " AND json_extract(data, '$.sitekey') IN "
                "(SELECT sitekey FROM sites WHERE secret_hash = ?)"
            )
            args.append(secret_hash)
        digest = token_digest(token)
        charge = self._pending_charge()
        # One transaction counts the request's rate limits, takes the token and leaves its
        # tombstone (the digest alone, in `spent`), or finds the tombstone a concurrent or
        # earlier redeem left.
        with self._tx() as db:
            refused = self._charge(db, charge)
            if refused is not None:
                rows: list[tuple] = []
                gone: list[tuple] = []
            else:
                rows = db.execute(
                    f"DELETE FROM tokens WHERE digest=? AND {owner} RETURNING expires_at, data",
                    (digest, *args),
                ).fetchall()
                gone = []
                if not rows:
                    gone = db.execute(
                        "SELECT 1 FROM spent WHERE kind='token' AND digest=? AND expires_at>?",
                        (digest, now),
                    ).fetchall()
                else:
                    record = TokenRecord(token=token, **json.loads(rows[0][1]))
                    db.execute(
                        "INSERT OR REPLACE INTO spent (kind, digest, expires_at) "
                        "VALUES ('token', ?, ?)",
                        (digest, max(rows[0][0], token_keep_until(record))),
                    )
        if refused is not None:
            raise LimitRefused(refused)
        if not rows:
            return Redemption(SPENT if gone else UNKNOWN)
        if record.expires_at <= now:
            return Redemption(EXPIRED)
        return Redemption(REDEEMED, record)

    def peek_token(self, token: str, now: float) -> TokenRecord | None:
        rows = self._q("SELECT data FROM tokens WHERE digest=?", (token_digest(token),))
        record = TokenRecord(token=token, **json.loads(rows[0][0])) if rows else None
        return record if record is not None and record.expires_at > now else None

    def spend_once(self, kind: str, digest: str, now: float, ttl_s: float) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO spent (kind, digest, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, digest) DO UPDATE SET expires_at=excluded.expires_at "
                "WHERE spent.expires_at <= ?",
                (kind, digest, now + ttl_s, now),
            )
            if self._rng.randrange(SWEEP_EVERY) == 0:
                self._sweep(db, now)
            return cur.rowcount == 1

    def list_votes(self, project_id: str, item_id: str | None = None) -> list[Vote]:
        if item_id is None:
            rows = self._q("SELECT data FROM votes WHERE project=? ORDER BY seq", (project_id,))
        else:
            rows = self._q(
                "SELECT data FROM votes WHERE project=? AND item=? ORDER BY seq",
                (project_id, item_id),
            )
        return [Vote.from_dict(json.loads(r[0])) for r in rows]

    # -- committee ---------------------------------------------------------------------------
    def set_queue(self, project_id: str, label: str, ranked: list[tuple[str, float]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM queue WHERE project=? AND label=?", (project_id, label))
            db.executemany(
                "INSERT OR REPLACE INTO queue (project, label, item, score) VALUES (?,?,?,?)",
                [(project_id, label, item, float(score)) for item, score in ranked],
            )

    def rank_queue(self, project_id: str, scores: dict[str, dict[str, float]]) -> None:
        rows = [
            (project_id, label, item, float(score))
            for label, items in scores.items()
            for item, score in items.items()
        ]
        if not rows:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO queue (project, label, item, score) VALUES (?,?,?,?) "
                "ON CONFLICT (project, label, item) DO UPDATE SET score = excluded.score",
                rows,
            )

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
        return self._rng.sample(eligible, min(n, len(eligible)))

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

    @staticmethod
    def _incr(db: sqlite3.Connection, project_id: str, counts: dict[str, int]) -> None:
        db.executemany(
            "INSERT INTO stats (project, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (project, name) DO UPDATE SET value = value + excluded.value",
            [(project_id, name, value) for name, value in counts.items()],
        )

    def incr_stats(self, project_id: str, **counts: int) -> None:
        with self._tx() as db:
            self._incr(db, project_id, counts)

    def get_stats(self, project_id: str) -> dict[str, int]:
        return dict(self._q("SELECT name, value FROM stats WHERE project=?", (project_id,)))
