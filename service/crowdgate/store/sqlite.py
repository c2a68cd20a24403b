"""SQLite backend: the embedded default. One WAL-mode file, safe for several processes.

The store is split by concern: the connection layer (:mod:`.sqlite_conn`), items and pools
(:mod:`.sqlite_items`), blob refs (:mod:`.sqlite_blobs`), challenges, tokens and votes
(:mod:`.sqlite_votes`), sites, keys, the committee and locks (:mod:`.sqlite_admin`); the
schema and its migrations are in :mod:`.sqlite_schema`.
"""

from __future__ import annotations

from .sqlite_admin import SqliteAdmin
from .sqlite_conn import (
    ITEM_COLS,
    LIMITS_DB,
    LIMITS_SWEEP_EVERY,
    SWEEP_EVERY,
    file_of,
    limits_file,
    own_connection,
)
from .sqlite_items import SqliteItems
from .sqlite_votes import SqliteVotes

__all__ = [
    "ITEM_COLS",
    "LIMITS_DB",
    "LIMITS_SWEEP_EVERY",
    "SWEEP_EVERY",
    "SqliteStore",
    "file_of",
    "limits_file",
    "own_connection",
]


class SqliteStore(SqliteItems, SqliteVotes, SqliteAdmin):
    """Store on one SQLite file in WAL mode; each thread and process has its own connection."""

    scheme = "sqlite"
