"""SQLite backend: the ref of each item's pack (the ``br`` column) and the legacy blobs table."""

from __future__ import annotations

from collections.abc import Iterator

from .item_blobs import Legacy
from .sqlite_conn import SqliteBase
from .sqlite_schema import TILED_POOL

#: the ``meta`` row naming this store's blob folder
BLOB_URI = "blob_uri"


class SqliteBlobs(SqliteBase):
    """The blob primitives of :class:`.item_blobs.ItemBlobs` on one SQLite file."""

    def _recorded_blob_uri(self) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE name=?", (BLOB_URI,))
        return rows[0][0] if rows else None

    def _record_blob_uri(self, uri: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (BLOB_URI, uri))

    def _blob_refs(self, project_id: str, item_ids: list[str]) -> dict[str, str]:
        marks = ",".join("?" * len(item_ids))
        rows = self._q(
            f"SELECT id, br FROM items WHERE project=? AND id IN ({marks}) AND br IS NOT NULL",
            (project_id, *item_ids),
        )
        return dict(rows)

    def _legacy_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        pairs = ",".join("(?,?)" for _ in wanted)
        # a join on the wanted pairs looks each one up by primary key; "(item, kind) IN
        # (VALUES ...)" read every blob of the project (SQLite 3.4x's plan)
        rows = self._q(
            f"WITH w(item, kind) AS (VALUES {pairs}) SELECT w.item, w.kind, b.data FROM w "
            "JOIN blobs b ON b.project=? AND b.item=w.item AND b.kind=w.kind",
            (*(v for pair in wanted for v in pair), project_id),
        )
        found = {(item, kind): bytes(data) for item, kind, data in rows}
        return [found.get(pair) for pair in wanted]

    def _all_refs(self) -> Iterator[str]:
        last = 0
        while True:
            rows = self._q(
                "SELECT seq, br FROM items WHERE seq>? AND br IS NOT NULL ORDER BY seq LIMIT 5000",
                (last,),
            )
            if not rows:
                return
            yield from (br for _, br in rows)
            last = rows[-1][0]

    def _legacy_batches(self, batch: int) -> Iterator[list[Legacy]]:
        # keyset over (project, item), so each item is visited once per run, even one skipped
        after = ("", "")
        while True:
            keys = self._q(
                "SELECT DISTINCT project, item FROM blobs WHERE (project, item) > (?, ?) "
                "ORDER BY project, item LIMIT ?",
                (*after, batch),
            )
            if not keys:
                return
            chunk: list[Legacy] = []
            for project_id, item_id in keys:
                rows = self._q(
                    "SELECT kind, data FROM blobs WHERE project=? AND item=? ORDER BY rowid",
                    (project_id, item_id),
                )
                chunk.append((project_id, item_id, {k: bytes(d) for k, d in rows}))
            yield chunk
            after = keys[-1]

    def _tile_record(self, project_id: str, item_id: str) -> tuple[str, str] | None:
        rows = self._q(
            "SELECT coalesce(br, ''), data FROM items WHERE project=? AND id=?",
            (project_id, item_id),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def _swap_tiles(
        self,
        project_id: str,
        item_id: str,
        old: tuple[str, str],
        ref: str,
        data: str,
        is_open: bool,
    ) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE items SET br=?, data=? WHERE project=? AND id=? AND br=? AND data=?",
                (ref, data, project_id, item_id, *old),
            )
            if cur.rowcount == 0:
                return False
            if is_open:
                self._pool_add(db, project_id, TILED_POOL, item_id)
            return True

    def _adopt(self, project_id: str, item_id: str, ref: str) -> bool:
        with self._tx() as db:
            db.execute(
                "UPDATE items SET br=? WHERE project=? AND id=? AND br IS NULL",
                (ref, project_id, item_id),
            )
            row = db.execute(
                "SELECT br FROM items WHERE project=? AND id=?", (project_id, item_id)
            ).fetchone()
            if row is None or row[0] != ref:
                return False
            db.execute("DELETE FROM blobs WHERE project=? AND item=?", (project_id, item_id))
            return True

    def blob_file_bytes(self) -> int:
        """Return the bytes the legacy blobs table still takes in the file (0 once migrated)."""
        rows = self._q("SELECT coalesce(sum(length(data)), 0) FROM blobs")
        return int(rows[0][0])

    def vacuum(self) -> None:
        """Rewrite the file without its free pages (after a blob migration emptied a table)."""
        self._q("VACUUM")
        # in WAL mode the rewritten pages sit in the log until a checkpoint copies them back
        self._q("PRAGMA wal_checkpoint(TRUNCATE)")
