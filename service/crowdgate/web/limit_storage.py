"""Rate-limit counters in a SQLite file, shared by every worker process on the host.

With the embedded SQLite store there is no Redis to count in, and Flask-Limiter's
``memory://`` storage counts per process: under ``crowdgate serve --workers 2`` every limit
was in effect twice as loose. This storage implements the ``limits`` fixed-window interface on
a small file of its own beside the store (``<store>-limits.db``), so one client's requests
count once whichever worker answers them. Each increment is one UPSERT in autocommit mode,
atomic under SQLite's write lock. The file runs in WAL with ``synchronous=NORMAL``: no fsync per
increment, and a power cut may forget the last counts but cannot corrupt the file (with
``OFF`` it could, and Flask-Limiter would then silently stop limiting).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from limits.storage import Storage

from ..store.limit_charge import COUNTER_INCR
from ..store.sqlite import limits_file, own_connection

SCHEME = "crowdgate+sqlite"
#: one increment in this many also deletes the counters whose window has ended
SWEEP_EVERY = 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
"""

#: the same statement the SQLite store runs when it folds a request's limits into its write
INCR = COUNTER_INCR.format(table="counters")


def limits_uri(store_file: Path) -> str:
    """Return the limits storage URI for the SQLite store in ``store_file``."""
    return f"{SCHEME}://{limits_file(store_file)}"


class SqliteLimitStorage(Storage):
    """Fixed-window counters for ``limits`` (and so Flask-Limiter) in one SQLite file."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(urlsplit(uri).path)
        self._local = threading.local()
        self._rng = random.Random()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # on a connection of its own, closed at once: none is left open to be inherited by
        # gunicorn's forked workers
        setup = self._connect()
        try:
            setup.executescript(SCHEMA)
        finally:
            setup.close()

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _db(self) -> sqlite3.Connection:
        conn = own_connection(self._local)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.pid = os.getpid()
        return conn

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter (a new window if the last one ended); return it."""
        now = time.time()
        db = self._db()
        (count,) = db.execute(INCR, (key, amount, now, expiry)).fetchone()
        if self._rng.randrange(SWEEP_EVERY) == 0:
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return int(count)

    def get(self, key: str) -> int:
        """Return ``key``'s count in its current window (0 once the window ended)."""
        row = (
            self._db()
            .execute("SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """Return when ``key``'s window ends (now, if it has none)."""
        now = time.time()
        row = (
            self._db()
            .execute("SELECT expires FROM counters WHERE key = ? AND expires > ?", (key, now))
            .fetchone()
        )
        return float(row[0]) if row else now

    def check(self) -> bool:
        """Return True if the file answers."""
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter; return how many there were."""
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))
