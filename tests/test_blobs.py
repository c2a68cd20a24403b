"""Image bytes live in the content-addressed blob folder; the stores keep only refs."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import redis

from crowdgate.models import UNLABELED, Item, Project
from crowdgate.store import Store, open_store
from crowdgate.store.blobs import (
    TMP_DIR,
    BlobStore,
    TileCache,
    locate,
    open_blobs,
    pack,
    parse_ref,
    ref_text,
)
from crowdgate.store.sqlite import SqliteStore
from legacy_store import FIXTURE, fill_redis, fixture_blobs
from redis_server import RedisProcess

NOW = 1_800_000_000.0


def _item(project: str, n: int) -> Item:
    return Item(project=project, id=f"i{n}", filename=f"f{n}.jpg", state=UNLABELED)


def _blobs(n: int) -> dict[str, bytes]:
    return {"image": os.urandom(3000 + n), "thumb": os.urandom(900), "v0": os.urandom(700)}


def _project(store: Store) -> None:
    store.create_project(Project(id="p", name="P", labels=["a", "b"], created_at=NOW))


def test_locate_finds_each_kind_where_parse_ref_does() -> None:
    """The hot path's one-kind lookup agrees with the full parse, kinds sharing a prefix too."""
    blobs = {"image": b"x" * 30, "v1": b"y" * 7, "v10": b"z" * 11, "a:b": b"w" * 3, "a": b"q"}
    _, layout = pack(blobs)
    text = ref_text("d" * 64, layout)
    ref = parse_ref(text)
    for kind in [*blobs, "v2", "b", "v", ""]:
        part = ref.parts.get(kind)
        assert locate(text, kind) == ((ref.digest, *part) if part else None)
    assert locate("d" * 64, "v1") is None  # a ref without a layout names no kind


def test_locate_agrees_with_parse_ref_on_random_layouts() -> None:
    rng = random.Random(5)
    names = ["image", "thumb", "a", "a:b", "a:1", "b", "", *(f"v{n}" for n in range(17))]
    for _ in range(2000):
        kinds = rng.sample(names, rng.randint(1, len(names)))
        blobs = {kind: b"x" * rng.randint(0, 40) for kind in kinds}
        _, layout = pack(blobs)
        text = ref_text(f"{rng.getrandbits(256):064x}", layout)
        ref = parse_ref(text)
        for kind in names:
            part = ref.parts.get(kind)
            assert locate(text, kind) == ((ref.digest, *part) if part else None), (text, kind)


def _store_bytes(store: Store) -> list[bytes]:
    """Return everything the store itself holds: its files' bytes, or every key's DUMP."""
    if isinstance(store, SqliteStore):
        store.close()
        return [p.read_bytes() for p in store.path.parent.glob(store.path.name + "*")]
    client = store.r  # type: ignore[attr-defined]
    return [client.dump(key) for key in client.scan_iter(count=1000)]


def test_image_bytes_live_in_the_blob_folder_and_the_store_keeps_a_ref(store: Store) -> None:
    _project(store)
    blobs = {n: _blobs(n) for n in range(3)}
    assert store.put_item(_item("p", 0), blobs[0], None)
    assert store.put_items([(_item("p", n), blobs[n], None) for n in (1, 2)]) == 2
    for n, kinds in blobs.items():
        for kind, data in kinds.items():
            assert store.get_blob("p", f"i{n}", kind) == data
    assert store.get_blobs("p", [("i2", "thumb"), ("i0", "v9"), ("nope", "image")]) == [
        blobs[2]["thumb"],
        None,
        None,
    ]
    packs = list(store.blobs.packs())
    assert len(packs) == 3  # one pack per item, each named by its content
    held = _store_bytes(store)
    for kinds in blobs.values():
        for data in kinds.values():
            assert not any(data[:200] in chunk for chunk in held)


def test_a_store_opened_again_without_blob_settings_finds_its_recorded_folder(
    store: Store,
) -> None:
    _project(store)
    blobs = _blobs(0)
    store.put_item(_item("p", 0), blobs, None)
    uri = store.path.as_uri() if isinstance(store, SqliteStore) else store.uri  # type: ignore[attr-defined]
    again = open_store(f"sqlite:///{store.path}" if isinstance(store, SqliteStore) else uri)
    assert again.blobs.uri == store.blobs.uri
    assert again.get_blob("p", "i0", "image") == blobs["image"]
    again.close()


def test_a_pack_is_written_whole_named_by_its_content_and_once(tmp_path: Path) -> None:
    blobs = open_blobs((tmp_path / "b").as_uri())
    data = os.urandom(10_000)
    digest = blobs.put(data)
    assert blobs.put(data) == digest
    assert blobs.path(digest).read_bytes() == data
    assert blobs.path(digest).parent.parent.parent == tmp_path / "b"
    assert list((tmp_path / "b" / TMP_DIR).iterdir()) == []
    assert blobs.read(digest, 100, 50) == data[100:150]
    assert blobs.read("0" * 64) is None
    assert blobs.put_many([b"x", b"y", b"x"])[0] == blobs.put(b"x")


def test_a_pack_shorter_than_its_ref_is_not_served(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path, cache_bytes=0)
    digest = blobs.put(b"0123456789")
    blobs.path(digest).write_bytes(b"01234")  # truncated by some accident
    assert blobs.read(digest, 2, 6) is None


def test_tile_cache_stays_under_its_bound_and_serves_hits_without_the_file(
    tmp_path: Path,
) -> None:
    cache = TileCache(10_000)
    for n in range(100):
        cache.put(("d", n), bytes(1000))
        assert cache.size <= 10_000
    assert cache.get(("d", 0)) is None and cache.get(("d", 99)) == bytes(1000)
    blobs = BlobStore(tmp_path, cache_bytes=1 << 20)
    digest = blobs.put(b"tile-bytes")
    assert blobs.read(digest, 0, 4) == b"tile"
    blobs.path(digest).unlink()
    assert blobs.read(digest, 0, 4) == b"tile"  # immutable content: a hit needs no syscall


def test_gc_removes_only_unreferenced_packs_past_the_grace_period(store: Store) -> None:
    _project(store)
    store.put_item(_item("p", 0), _blobs(0), None)
    (kept,) = [d for d, _ in store.blobs.packs()]
    orphan, young = store.blobs.put(b"orphan"), store.blobs.put(b"young")
    old = time.time() - 7200
    for digest in (kept, orphan):
        os.utime(store.blobs.path(digest), (old, old))
    assert store.gc_blobs(3600, dry_run=True) == (1, len(b"orphan"))
    assert store.gc_blobs(3600) == (1, len(b"orphan"))
    assert {d for d, _ in store.blobs.packs()} == {kept, young}
    assert store.get_blob("p", "i0", "thumb") is not None


def test_gc_spares_an_old_pack_written_again_by_a_new_import(store: Store) -> None:
    digest = store.blobs.put(b"same bytes")
    old = time.time() - 7200
    os.utime(store.blobs.path(digest), (old, old))
    store.blobs.put(b"same bytes")  # a new item with the same bytes: its time is refreshed
    assert store.gc_blobs(3600) == (0, 0)


def _check_all(store: Store, blobs: dict[tuple[str, str, str], bytes]) -> None:
    for (project, item, kind), data in blobs.items():
        assert store.get_blob(project, item, kind) == data


def test_an_old_sqlite_file_is_served_then_migrated_without_losing_a_byte(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crowdgate.db"
    shutil.copy(FIXTURE, path)
    blobs = fixture_blobs(path)
    assert len(blobs) > 50
    store = SqliteStore(f"sqlite:///{path}", blobs=(tmp_path / "blobs").as_uri())
    _check_all(store, blobs)  # before the migration: read from the old table
    calls = []

    def interrupt(n: int) -> None:
        calls.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.migrate_blobs(batch=2, progress=interrupt)
    _check_all(store, blobs)  # half moved: both places serve
    assert store.migrate_blobs(batch=2) == 4
    assert store.migrate_blobs() == 0
    assert store.blob_file_bytes() == 0
    _check_all(store, blobs)
    before = path.stat().st_size
    store.vacuum()
    store.close()
    # the file gives back (at least) the pages its blobs filled
    assert path.stat().st_size <= before - 0.9 * sum(map(len, blobs.values()))
    again = open_store(f"sqlite:///{path}")
    _check_all(again, blobs)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM blobs").fetchone() == (0,)


def test_a_redis_holding_old_blobs_is_served_then_migrated_without_losing_a_byte(
    redis_proc: RedisProcess, tmp_path: Path
) -> None:
    redis_proc.flush()
    blobs = fill_redis(redis_proc.url)
    client = redis.Redis.from_url(redis_proc.url)
    assert len(list(client.scan_iter("*:blob:*"))) == 6
    store = open_store(redis_proc.url, blobs=(tmp_path / "blobs").as_uri())
    _check_all(store, blobs)

    def held() -> int:  # the keys' own sizes (used_memory also moves with the allocator)
        return sum(client.memory_usage(key) or 0 for key in client.scan_iter(count=1000))

    used = held()
    assert store.migrate_blobs(batch=4) == 6
    assert store.migrate_blobs() == 0
    assert list(client.scan_iter("*:blob:*")) == []
    assert store.blob_hash_keys() == 0  # type: ignore[attr-defined]
    _check_all(store, blobs)
    assert held() < used - 0.9 * sum(map(len, blobs.values()))
    client.close()
    store.close()


def test_blobs_commands_migrate_an_old_data_directory_and_sweep_it(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from crowdgate.cli import main

    shutil.copy(FIXTURE, tmp_path / "crowdgate.db")
    blobs = fixture_blobs(tmp_path / "crowdgate.db")
    env = {"CROWDGATE_SECRET_KEY": "k"}
    args = ["--data-dir", str(tmp_path), "--json"]
    done = CliRunner().invoke(main, ["blobs", "migrate", "--vacuum", *args], env=env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["moved"] == 6
    assert (tmp_path / "crowdgate-blobs").is_dir()
    swept = CliRunner().invoke(main, ["blobs", "gc", "--grace-s", "0", *args], env=env)
    assert swept.exit_code == 0, swept.output
    assert json.loads(swept.output)["removed"] == 0
    _check_all(open_store(f"sqlite:///{tmp_path / 'crowdgate.db'}"), blobs)


def test_full_images_read_by_exports_do_not_push_tiles_out_of_the_cache(store: Store) -> None:
    _project(store)
    blobs = _blobs(0)
    store.put_item(_item("p", 0), blobs, None)
    store.blobs.cache = TileCache(1 << 20)
    assert store.get_blob("p", "i0", "image") == blobs["image"]
    assert store.blobs.cache.size == 0
    assert store.get_blob("p", "i0", "v0") == blobs["v0"]
    assert store.blobs.cache.size == len(blobs["v0"])
