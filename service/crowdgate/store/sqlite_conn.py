"""SQLite backend, the connection layer: one WAL-mode file per store, a connection per thread.

Every concern module (items, votes, admin) subclasses :class:`SqliteBase` and writes through
its ``_tx`` and reads through its ``_q``.
"""

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

from ..errors import StoreError
from ..models import Item
from . import counters, limit_charge
from .base import Store
from .item_blobs import ItemBlobs, beside
from .limit_charge import COUNTER_INCR, Charge, Counter
from .sqlite_schema import SCHEMA, migrate

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


class SqliteBase(ItemBlobs, Store):
    """Connections, transactions, the rate-limit charge and the stats counters of a SQLite store."""

    def __init__(
        self,
        uri: str,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 10_000,
        blobs: str = "",
        blob_cache_bytes: int = 64 << 20,
        **_: object,
    ):
        self.path = file_of(uri)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        #: projects known to make their tiles when first needed (the flag is never unset)
        self._tiles_deferred: set[str] = set()
        # The OS's randomness as SystemRandom's, read in batches: a grid's draws (gold, decoys,
        # open items, queue) made a system call each. Imported here, as crowdgate.challenge
        # imports the store.
        from ..challenge.rand import BatchedSystemRandom

        self._rng: random.Random = BatchedSystemRandom()
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
        self._backfill_counters()
        self._open_blobs(blobs, beside(self.path), blob_cache_bytes)

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

    @staticmethod
    def _write_ranks(
        db: sqlite3.Connection, project_id: str, scores: dict[str, dict[str, float]]
    ) -> None:
        """Set ``{label: {item: score}}`` in the queue inside the open transaction."""
        rows = [
            (project_id, label, item, float(score))
            for label, items in scores.items()
            for item, score in items.items()
        ]
        if rows:
            db.executemany(
                "INSERT INTO queue (project, label, item, score) VALUES (?,?,?,?) "
                "ON CONFLICT (project, label, item) DO UPDATE SET score = excluded.score",
                rows,
            )

    # -- stats -----------------------------------------------------------------------------
    @staticmethod
    def _incr(db: sqlite3.Connection, project_id: str, counts: dict[str, int]) -> None:
        db.executemany(
            "INSERT INTO stats (project, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (project, name) DO UPDATE SET value = value + excluded.value",
            [(project_id, name, value) for name, value in counts.items()],
        )

    def _backfill_counters(self) -> None:
        """Count the items and votes of projects made before the counters were kept, once.

        Runs in one write transaction per project, so no vote or settle lands mid-count.
        """
        todo = self._q(
            "SELECT id FROM projects WHERE id NOT IN (SELECT project FROM stats WHERE name=?)",
            (counters.VERSION_KEY,),
        )
        for (project_id,) in todo:
            with self._tx() as db:
                done = db.execute(
                    "SELECT 1 FROM stats WHERE project=? AND name=?",
                    (project_id, counters.VERSION_KEY),
                ).fetchall()
                if done:
                    continue
                items = (
                    Item.from_dict({**json.loads(data), "votes": votes})
                    for data, votes in db.execute(
                        "SELECT data, votes FROM items WHERE project=?", (project_id,)
                    )
                )
                times = (
                    ts
                    for (ts,) in db.execute(
                        "SELECT json_extract(data, '$.ts') FROM votes WHERE project=?",
                        (project_id,),
                    )
                )
                fresh = counters.backfill(items, times)
                for prefix in counters.DERIVED:
                    db.execute(
                        "DELETE FROM stats WHERE project=? AND substr(name, 1, ?) = ?",
                        (project_id, len(prefix), prefix),
                    )
                self._incr(db, project_id, {**fresh, counters.VERSION_KEY: counters.VERSION})

    def incr_stats(self, project_id: str, **counts: int) -> None:
        with self._tx() as db:
            self._incr(db, project_id, counts)

    def get_stats(self, project_id: str) -> dict[str, int]:
        return dict(
            self._q(
                "SELECT name, value FROM stats WHERE project=? AND name NOT IN (?, ?)",
                (project_id, counters.VERSION_KEY, counters.TILES_KEY),
            )
        )
