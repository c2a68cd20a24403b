"""``crowdgate blobs``: move image bytes out of an older store, and sweep unreferenced packs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import data_dir_option, emit, json_option, load_settings, store_for


@click.group("blobs")
def blobs() -> None:
    """Move image bytes out of the store into the blob folder, and remove unreferenced ones."""


@blobs.command("migrate")
@click.option("--vacuum", is_flag=True, help="Then shrink the SQLite file (rewrites it).")
@data_dir_option
@json_option
def blobs_migrate(vacuum: bool, data_dir: Path | None, as_json: bool) -> None:
    """Move blobs an earlier version kept inside the store to the blob folder.

    Safe to interrupt and run again: an item's blobs leave the store only once its pack is
    durably in the blob folder, and a run picks up the items still left.
    """
    from tqdm import tqdm

    settings = load_settings(data_dir)
    store = store_for(settings)
    with tqdm(unit="item", desc="migrate", disable=as_json or None, file=sys.stderr) as bar:
        moved = store.migrate_blobs(progress=bar.update)
    if vacuum and hasattr(store, "vacuum"):
        store.vacuum()
    document = {"moved": moved, "blob_store": store.blobs.uri}
    emit(as_json, document, lambda: click.echo(f"moved {moved} items' blobs to {store.blobs.uri}"))


@blobs.command("gc")
@click.option(
    "--grace-s",
    type=click.FloatRange(0),
    default=86_400.0,
    show_default=True,
    help="Keep unreferenced packs younger than this (an import may still be writing).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@data_dir_option
@json_option
def blobs_gc(grace_s: float, dry_run: bool, data_dir: Path | None, as_json: bool) -> None:
    """Remove packs no item refers to (deleted items, interrupted imports).

    The blob folder must belong to this store alone (all hosts of one deployment may share
    it): another store's packs would look unreferenced.
    """
    settings = load_settings(data_dir)
    store = store_for(settings)
    removed, freed = store.gc_blobs(grace_s, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    document = {"removed": removed, "bytes": freed, "dry_run": dry_run}
    emit(as_json, document, lambda: click.echo(f"{verb} {removed} packs ({freed} bytes)"))
