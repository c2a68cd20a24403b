"""The blob half of every store: packs written before their items, read by ref, migrated, swept.

A backend keeps per item only a ref (:mod:`.blobs`) and implements the few primitives below
(``_blob_refs``, ``_legacy_blobs``, ...); reads, writes, the migration of blobs that earlier
versions kept in the store itself, and the garbage collection are written once here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .base import IMAGE, variant_kind
from .blobs import BlobStore, locate, open_blobs, pack, parse_ref, ref_text

log = logging.getLogger(__name__)

#: one legacy item's blobs, as a migration batch reads them: (project, item, {kind: bytes})
Legacy = tuple[str, str, dict[str, bytes]]


class ItemBlobs:
    """Blob reads, writes, migration and gc over a backend's ref primitives."""

    _blob_store: BlobStore | None = None
    _blob_args: tuple[str, str, int] = ("", "", 64 << 20)

    # -- opening -----------------------------------------------------------------------------
    def _open_blobs(self, explicit: str, default: str, cache_bytes: int) -> None:
        """Name the blob store, opened on first use: ``explicit`` if given, else the one this
        store recorded, else ``default`` (then recorded, so every later opener of this store
        finds the same one). Opening later keeps a store's constructor free of round trips."""
        self._blob_args = (explicit, default, cache_bytes)
        self._blob_store = None

    @property
    def blobs(self) -> BlobStore:
        """The blob store this store's items' packs are in."""
        if self._blob_store is not None:
            return self._blob_store
        explicit, default, cache_bytes = self._blob_args
        recorded = self._recorded_blob_uri()
        store = open_blobs(explicit or recorded or default, cache_bytes=cache_bytes)
        if not recorded:
            self._record_blob_uri(store.uri)
        elif store.uri != recorded:
            log.warning(
                "Blob store %s is configured; this store recorded %s. Items imported through "
                "the other one are served only if both are the same folder.",
                store.uri,
                recorded,
            )
        self._blob_store = store
        return store

    def _recorded_blob_uri(self) -> str | None:
        """Return the blob store URI this store recorded, if any."""
        raise NotImplementedError

    def _record_blob_uri(self, uri: str) -> None:
        """Record ``uri`` as this store's blob store (kept if one is recorded meanwhile)."""
        raise NotImplementedError

    # -- primitives each backend implements --------------------------------------------------
    def _blob_refs(self, project_id: str, item_ids: list[str]) -> dict[str, str]:
        """Return the ref text of each given item that has one (one round trip)."""
        raise NotImplementedError

    def _legacy_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        """Return blobs an earlier version kept inside the store (``None`` where missing)."""
        raise NotImplementedError

    def _all_refs(self) -> Iterator[str]:
        """Yield the ref text of every item of every project."""
        raise NotImplementedError

    def _legacy_batches(self, batch: int) -> Iterator[list[Legacy]]:
        """Yield the items whose blobs are still inside the store, ``batch`` at a time."""
        raise NotImplementedError

    def _adopt(self, project_id: str, item_id: str, ref: str) -> bool:
        """Atomically give a legacy item ``ref`` and drop its in-store blobs; False if skipped
        (the item is gone, or has another ref: then its in-store blobs stay)."""
        raise NotImplementedError

    # -- writes ------------------------------------------------------------------------------
    def write_packs(self, blob_sets: Iterable[dict[str, bytes]]) -> list[str]:
        """Write each item's pack durably (fsyncs overlapping); return their refs ('' if none).

        Called before the items are stored: a crash in between leaves unreferenced packs,
        which :meth:`gc_blobs` removes, never an item without its blobs.
        """
        packs, layouts = [], []
        for blobs in blob_sets:
            data, layout = pack(blobs) if blobs else (b"", "")
            packs.append(data)
            layouts.append(layout)
        todo = [i for i, layout in enumerate(layouts) if layout]
        digests = self.blobs.put_many([packs[i] for i in todo])
        refs = [""] * len(layouts)
        for i, digest in zip(todo, digests, strict=True):
            refs[i] = ref_text(digest, layouts[i])
        return refs

    _write_packs = write_packs

    # -- reads -------------------------------------------------------------------------------
    def get_blob(self, project_id: str, item_id: str, kind: str) -> bytes | None:
        """Return one stored blob (``image``, ``thumb``, ``v0``...) or ``None``."""
        return self.get_blobs(project_id, [(item_id, kind)])[0]

    def get_blobs(self, project_id: str, wanted: list[tuple[str, str]]) -> list[bytes | None]:
        """Return the blobs of ``(item_id, kind)`` pairs in order (``None`` where missing).

        One store round trip for the refs, then each blob from the tile cache or one read of
        its pack; items not migrated yet are read where an earlier version kept them.
        """
        if not wanted:
            return []
        refs = self._blob_refs(project_id, list(dict.fromkeys(item for item, _ in wanted)))
        out: list[bytes | None] = []
        legacy: list[int] = []
        for n, (item, kind) in enumerate(wanted):
            text = refs.get(item)
            if not text:
                legacy.append(n)
                out.append(None)
                continue
            part = locate(text, kind)
            # tiles repeat on the hot path; a full image (exports, training) would evict them
            data = self.blobs.read(*part, cache=kind != IMAGE) if part else None
            if part and data is None:
                log.warning("Pack %s of item %s is missing from %s.", part[0], item, self.blobs.uri)
            out.append(data)
        if legacy:
            found = self._legacy_blobs(project_id, [wanted[n] for n in legacy])
            for n, data in zip(legacy, found, strict=True):
                out[n] = data
        return out

    # -- tiles made after import -----------------------------------------------------------
    def _tile_record(self, project_id: str, item_id: str) -> tuple[str, str] | None:
        """Return an item's ref text and item JSON as stored, or ``None`` if it is gone."""
        raise NotImplementedError

    def _swap_tiles(
        self,
        project_id: str,
        item_id: str,
        old: tuple[str, str],
        ref: str,
        data: str,
        is_open: bool,
    ) -> bool:
        """Atomically set an item's ref and JSON if both are still ``old``; an open item joins
        the pool of tiled open items. False if the item changed meanwhile."""
        raise NotImplementedError

    def untiled(self, project_id: str, item_ids: list[str]) -> list[str]:
        """Return the given items whose grid tiles are not made yet (in one round trip).

        Items whose blobs an earlier version kept inside the store all have their tiles.
        """
        if not item_ids:
            return []
        refs = self._blob_refs(project_id, item_ids)
        first = variant_kind(0) + ":"
        return [i for i in item_ids if i in refs and f" {first}" not in refs[i]]

    def add_tiles(self, project_id: str, item_id: str, tiles: dict[str, bytes]) -> bool:
        """Give an item its grid tiles (``v0``...): a new pack of its blobs and these, then
        its ref and ``variants`` swapped in atomically; False if it is gone or has tiles.

        The old pack stays until :meth:`gc_blobs` finds it unreferenced.
        """
        return bool(self.add_tiles_batch(project_id, {item_id: tiles}))

    def add_tiles_batch(self, project_id: str, tiles: dict[str, dict[str, bytes]]) -> int:
        """:meth:`add_tiles` for several items, their packs written together (the fsyncs
        overlapping, as an import's); return how many got their tiles."""
        import json

        done, todo = 0, dict(tiles)
        for _ in range(3):  # an item that changed between the read and the swap is tried again
            ready = []
            for item_id, extra in todo.items():
                record = self._tile_record(project_id, item_id)
                blobs = self._untiled_blobs(record)
                if record is not None and blobs is not None:
                    ready.append((item_id, record, {**blobs, **extra}))
            refs = self._write_packs(blobs for _, _, blobs in ready)
            todo = {}
            for (item_id, record, _), new_ref in zip(ready, refs, strict=True):
                data = json.loads(record[1])
                data["variants"] = len(tiles[item_id])
                is_open = data.get("state") == "unlabeled"
                if self._swap_tiles(
                    project_id, item_id, record, new_ref, json.dumps(data), is_open
                ):
                    done += 1
                else:
                    todo[item_id] = tiles[item_id]
            if not todo:
                break
        return done

    def _untiled_blobs(self, record: tuple[str, str] | None) -> dict[str, bytes] | None:
        """Return the blobs of an item's pack if it has one without tiles, else ``None``."""
        if record is None or not record[0]:
            return None
        ref = parse_ref(record[0])
        if variant_kind(0) in ref.parts:
            return None
        blobs = {}
        for kind, (offset, length) in ref.parts.items():
            blob = self.blobs.read(ref.digest, offset, length, cache=False)
            if blob is None:
                return None
            blobs[kind] = blob
        return blobs

    # -- migration and gc --------------------------------------------------------------------
    def migrate_blobs(
        self, *, batch: int = 200, progress: Callable[[int], None] | None = None
    ) -> int:
        """Move blobs an earlier version kept inside the store to the blob store; return how
        many items moved.

        Idempotent and resumable: each item's pack is written (fsynced) before, in one atomic
        step, the item gets its ref and its in-store blobs are dropped, so an interruption at
        any point loses nothing and the next run picks up the items still left.
        """
        moved = 0
        for chunk in self._legacy_batches(batch):
            refs = self._write_packs(blobs for _, _, blobs in chunk)
            for (project_id, item_id, _), ref in zip(chunk, refs, strict=True):
                if ref and self._adopt(project_id, item_id, ref):
                    moved += 1
            if progress is not None:
                progress(len(chunk))
        return moved

    def referenced_packs(self) -> set[str]:
        """Return the digest of every pack some item refers to."""
        return {text.split(" ", 1)[0] for text in self._all_refs() if text}

    def gc_blobs(self, grace_s: float = 86_400.0, *, dry_run: bool = False) -> tuple[int, int]:
        """Delete packs no item refers to and older than ``grace_s``; return (packs, bytes).

        The grace period spares packs of an import still writing its items. A blob folder
        must belong to one store (several hosts of one deployment, not several deployments):
        packs of another store sharing it would look unreferenced.
        """
        return self.blobs.sweep(self.referenced_packs(), grace_s, dry_run=dry_run)


def beside(db_file: Path) -> str:
    """Return the default blob folder URI of a SQLite store: ``<name>-blobs`` beside its file."""
    path = db_file.resolve()
    return path.with_name(path.stem + "-blobs").as_uri()
