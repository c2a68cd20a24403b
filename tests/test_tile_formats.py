"""JPEG tile variants (a tenth of WebP's encoding) keep every property the defences rely on."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images

from crowdgate.challenge.rand import BatchedSystemRandom
from crowdgate.challenge.tiles import fresh_bytes
from crowdgate.config import Settings
from crowdgate.ingestion import import_path, make_variants, normalize_image
from crowdgate.ingestion.importer import tile_format_of
from crowdgate.models import Project
from crowdgate.simulate.attackers import phash
from crowdgate.store import Store, variant_kind
from fixtures_images import LIMITS, encode


def _photo(k: int = 0) -> Image.Image:
    pixels = load_sample_images().images[k % 2]
    return Image.fromarray(pixels[40 * k : 40 * k + 240, 50 * k : 50 * k + 320])


def test_a_served_jpeg_tile_never_repeats_its_bytes_but_keeps_its_pixels() -> None:
    rng = BatchedSystemRandom()
    image = normalize_image(encode(_photo(), "JPEG"), **LIMITS).image
    stored = make_variants(image, 1, 0, fmt="jpeg")[0]
    assert stored[:3] == b"\xff\xd8\xff"
    served = [fresh_bytes(stored, rng) for _ in range(50)]
    assert len(set(served)) == 50 and len({len(b) for b in served}) > 5
    want = np.asarray(Image.open(io.BytesIO(stored)).convert("RGB"))
    for data in served[:5]:
        got = Image.open(io.BytesIO(data))
        assert got.format == "JPEG" and got.info.get("jfif") is not None
        assert np.array_equal(np.asarray(got.convert("RGB")), want)


def test_jpeg_variants_are_as_distinct_to_a_perceptual_hash_as_webp_ones() -> None:
    for k in range(3):
        image = normalize_image(encode(_photo(k), "JPEG"), **LIMITS).image
        counts = {}
        for fmt in ("webp", "jpeg"):
            tiles = make_variants(image, 16, seed=k, fmt=fmt)
            assert len(set(tiles)) == 16
            assert tiles == make_variants(image, 16, seed=k, fmt=fmt)
            counts[fmt] = len({phash(t) for t in tiles})
        # the perturbation (crop, tone, noise), not the encoder, makes the copies differ
        assert counts["jpeg"] >= counts["webp"] - 1 and counts["jpeg"] >= 12, counts


def _folder(tmp_path: Path, n: int, start: int = 0) -> Path:
    folder = tmp_path / f"photos{start}"
    folder.mkdir()
    for k in range(start, start + n):
        _photo(k).save(folder / f"p{k}.jpg", quality=90)
    return folder


def test_a_new_project_gets_jpeg_tiles_and_one_with_webp_tiles_keeps_webp(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k", tile_variants=2)
    for pid in ("fresh", "older"):
        store.create_project(Project(id=pid, name=pid, labels=["a", "b"]))
    assert tile_format_of(store, "fresh") == "jpeg"
    import_path(store, store.get_project("fresh"), _folder(tmp_path, 2), settings)
    assert tile_format_of(store, "fresh") == "jpeg"
    # an item imported before JPEG tiles existed (as WebP), then a new import into its project
    image = normalize_image(encode(_photo(5), "JPEG"), **LIMITS)
    old = make_variants(image.image, 2, 1, fmt="webp")
    from crowdgate.models import Item

    store.put_item(
        Item(project="older", id=image.sha256, filename="old.jpg", variants=2),
        {"image": image.data, "thumb": image.thumb, "v0": old[0], "v1": old[1]},
        None,
    )
    import_path(store, store.get_project("older"), _folder(tmp_path, 2, start=2), settings)
    for item in store.list_items("older"):
        assert store.get_blob("older", item.id, variant_kind(1))[:4] == b"RIFF"
    for item in store.list_items("fresh"):
        assert store.get_blob("fresh", item.id, variant_kind(1))[:3] == b"\xff\xd8\xff"
