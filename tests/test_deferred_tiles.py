"""Grid tiles made when first needed: a fresh import serves at once, queued items get theirs.

A new project's import makes tiles for its gold and a cold-start batch of open items only;
random draws take only open items that have tiles (an item shown as its plain thumbnail, where
gold is perturbed, would tell a bot which tiles are not gold); the trainer makes the tiles of
the items it queues.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image

from crowdgate import manage, trainer
from crowdgate.challenge import ChallengeService, Client
from crowdgate.config import Settings
from crowdgate.ingestion import import_path
from crowdgate.models import SETTLED
from crowdgate.store import IMAGE, THUMB, Store, variant_kind
from seed import LABELS, shape_png

N_OPEN = 40
COLD = 6  # the cold-start batch, small here so most open items are imported without tiles


def _import(store: Store, tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    with (folder / "manifest.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "label"])
        n = 0
        for label in LABELS:
            for _ in range(4):
                (folder / f"g{n}.png").write_bytes(shape_png(label, n))
                out.writerow([f"g{n}.png", label])
                n += 1
        for k in range(N_OPEN):
            (folder / f"o{k}.png").write_bytes(shape_png(LABELS[k % 3], n))
            out.writerow([f"o{k}.png", ""])
            n += 1
    manage.create_project(store, "shapes", labels=LABELS)
    import_path(store, store.get_project("shapes"), folder / "manifest.csv", settings)


@pytest.fixture
def project(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr("crowdgate.ingestion.importer.COLD_START_TILES", COLD)
    settings = Settings(data_dir=tmp_path, secret_key="k", cache_ttl_s=0, tile_variants=4)
    _import(store, tmp_path, settings)
    return settings


def _open_ids(store: Store) -> list[str]:
    return [i.id for i in store.list_items("shapes", state="unlabeled", limit=1000)]


def test_a_fresh_import_tiles_its_gold_and_a_cold_start_batch_only(store, project):
    assert store.tiles_deferred("shapes")
    open_ids = _open_ids(store)
    untiled = store.untiled("shapes", open_ids)
    assert len(open_ids) == N_OPEN and len(untiled) == N_OPEN - COLD
    gold = [i.id for i in store.list_items("shapes", state="gold", limit=100)]
    assert store.untiled("shapes", gold) == []
    for item_id in untiled[:3]:
        # the untiled item still has its image and thumbnail, the thumbnail now JPEG
        assert store.get_blob("shapes", item_id, IMAGE)[:4] == b"RIFF"
        assert store.get_blob("shapes", item_id, THUMB)[:3] == b"\xff\xd8\xff"
        assert store.get_blob("shapes", item_id, variant_kind(0)) is None


def test_a_freshly_imported_project_serves_grids_of_tiled_items_only(store, project):
    service = ChallengeService(store, project)
    tiled = set(_open_ids(store)) - set(store.untiled("shapes", _open_ids(store)))
    site, _ = manage.create_site(store, name="s", hostnames=["shop.example"], project="shapes")
    client = Client(address="10.0.0.1", user_agent="ua", origin_host="shop.example")
    seen = set()
    for _ in range(15):
        challenge = service.issue(site.sitekey, None, client)
        body = service.describe(challenge)
        open_slots = [s.item for s in challenge.slots if not s.gold]
        assert open_slots and set(open_slots) <= tiled
        seen.update(open_slots)
        assert len(body["tiles"]) == len(challenge.slots)
        store.take_challenge(challenge.id, service.clock())
    assert len(seen) > 1


def test_queued_items_get_their_tiles_when_the_trainer_queues_them(store, project):
    open_ids = _open_ids(store)
    before = set(store.untiled("shapes", open_ids))
    thumbs = {i: store.get_blob("shapes", i, THUMB) for i in before}
    record = trainer.retrain(store, store.get_project("shapes"), random_state=0, settings=project)
    queued = {i for label in LABELS for i in store.pick_queue("shapes", label, 200, 200, 100)}
    assert queued & before, "the cold start queued no untiled item"
    assert record["metrics"]["tiles_made"] == len(queued & before)
    assert store.untiled("shapes", sorted(queued)) == []
    for item_id in sorted(queued & before)[:3]:
        item = store.get_item("shapes", item_id)
        assert item.variants == 4
        tiles = [store.get_blob("shapes", item_id, variant_kind(k)) for k in range(4)]
        assert len(set(tiles)) == 4
        for tile in tiles:
            with Image.open(io.BytesIO(tile)) as im:
                assert im.format == "JPEG" and im.size == (project.thumb_px, project.thumb_px)
        assert store.get_blob("shapes", item_id, THUMB) == thumbs[item_id]
    # made once: a second retrain makes none for items already tiled
    again = trainer.retrain(store, store.get_project("shapes"), random_state=0, settings=project)
    assert again["metrics"]["tiles_made"] <= len(before - queued)
    # and a newly tiled open item is drawn at random from then on
    drawn = set()
    for _ in range(60):
        drawn.update(store.sample_open("shapes", 6))
    assert drawn & (queued & before)


def test_an_item_that_left_the_open_state_is_no_longer_drawn(store, project):
    tiled = sorted(set(_open_ids(store)) - set(store.untiled("shapes", _open_ids(store))))
    gone = tiled[0]
    store.update_item("shapes", gone, state=SETTLED, label=LABELS[0], confidence=0.99)
    for _ in range(40):
        got = store.sample_open("shapes", COLD)
        assert gone not in got and set(got) <= set(tiled)
    assert not store.add_tiles("shapes", tiled[1], {variant_kind(0): b"x"})  # has tiles


def test_a_project_with_items_before_deferral_keeps_drawing_all_its_open_items(store, tmp_path):
    # items stored before (here put directly, as earlier versions' imports did) mean the
    # project is not deferred: every open item is drawn, and an import tiles every item
    from seed import seed_project

    seeded = seed_project(store, open_items=5)
    assert not store.tiles_deferred(seeded.project)
    drawn = set()
    for _ in range(40):
        drawn.update(store.sample_open(seeded.project, 5))
    assert drawn == set(seeded.open)
