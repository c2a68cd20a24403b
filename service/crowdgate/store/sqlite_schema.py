"""The SQLite store's tables, and the additive migrations for files made by earlier versions."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, id TEXT NOT NULL,
  state TEXT NOT NULL, known_label TEXT, votes INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL,
  cl TEXT, cc REAL, mv INTEGER, br TEXT, UNIQUE (project, id));
CREATE INDEX IF NOT EXISTS items_state ON items (project, state, seq);
CREATE INDEX IF NOT EXISTS items_seq ON items (project, seq);
CREATE INDEX IF NOT EXISTS items_gold ON items (project, state, known_label, seq);
-- blobs: where versions before the blob store kept image bytes (read until migrated); an
-- item's ``br`` column is now the ref of its pack in the blob store (store/blobs.py)
CREATE TABLE IF NOT EXISTS blobs (
  project TEXT NOT NULL, item TEXT NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (project, item, kind));
CREATE TABLE IF NOT EXISTS features (
  project TEXT NOT NULL, item TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (project, item));
CREATE TABLE IF NOT EXISTS sites (
  sitekey TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE, seq INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apikeys (
  id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, seq INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS challenges (
  id TEXT PRIMARY KEY, expires_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS challenges_exp ON challenges (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
  digest TEXT PRIMARY KEY, expires_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_exp ON tokens (expires_at);
CREATE TABLE IF NOT EXISTS votes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, item TEXT NOT NULL,
  voter TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (project, item, voter));
CREATE TABLE IF NOT EXISTS evidence (
  project TEXT NOT NULL, item TEXT NOT NULL, label TEXT NOT NULL, ll REAL NOT NULL,
  PRIMARY KEY (project, item, label));
CREATE TABLE IF NOT EXISTS item_networks (
  project TEXT NOT NULL, item TEXT NOT NULL, network TEXT NOT NULL,
  votes INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (project, item, network));
CREATE TABLE IF NOT EXISTS queue (
  project TEXT NOT NULL, label TEXT NOT NULL, item TEXT NOT NULL, score REAL NOT NULL,
  PRIMARY KEY (project, label, item));
CREATE INDEX IF NOT EXISTS queue_rank ON queue (project, label, score DESC);
CREATE TABLE IF NOT EXISTS models (
  project TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (project, version));
CREATE TABLE IF NOT EXISTS spent (
  kind TEXT NOT NULL, digest TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (kind, digest));
CREATE INDEX IF NOT EXISTS spent_exp ON spent (expires_at);
CREATE TABLE IF NOT EXISTS pools (
  project TEXT NOT NULL, pool TEXT NOT NULL, pos INTEGER NOT NULL, item TEXT NOT NULL,
  PRIMARY KEY (project, pool, pos), UNIQUE (project, pool, item));
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stats (
  project TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
  PRIMARY KEY (project, name));
"""


#: the sampling pool of unlabeled items; gold pools are ``gold:<label>``, and the gold whose
#: secret decoy is a label is in ``decoy:<label>`` (store/decoys.py)
OPEN_POOL = "open"
#: the open items whose grid tiles are made, in projects that make them when first needed
#: (``counters.TILES_KEY``); may hold items no longer open, which a draw drops
TILED_POOL = "tiled"


def pool_of(state: str, known_label: str | None) -> str | None:
    """Return the sampling pool an item in ``state`` belongs to (None: sampled from no pool)."""
    if state == "unlabeled":
        return OPEN_POOL
    if state == "gold" and known_label is not None:
        return "gold:" + known_label
    return None


def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns and tables that files made by earlier versions lack (additive only)."""
    if (
        conn.execute("SELECT 1 FROM items LIMIT 1").fetchall()
        and not conn.execute("SELECT 1 FROM pools LIMIT 1").fetchall()
    ):
        # A file from before the sampling pools: number each pool's items densely, once.
        conn.execute(
            "INSERT OR IGNORE INTO pools (project, pool, pos, item) SELECT project, "
            "CASE state WHEN 'unlabeled' THEN 'open' ELSE 'gold:' || known_label END, "
            "ROW_NUMBER() OVER (PARTITION BY project, state, known_label ORDER BY seq) - 1, id "
            "FROM items WHERE state = 'unlabeled' OR (state = 'gold' AND known_label IS NOT NULL)"
        )
    have = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    for column, kind in (("cl", "TEXT"), ("cc", "REAL"), ("mv", "INTEGER"), ("br", "TEXT")):
        if column not in have:
            conn.execute(f"ALTER TABLE items ADD COLUMN {column} {kind}")
    nets = {row[1] for row in conn.execute("PRAGMA table_info(item_networks)")}
    if "votes" not in nets:
        conn.execute("ALTER TABLE item_networks ADD COLUMN votes INTEGER NOT NULL DEFAULT 1")
