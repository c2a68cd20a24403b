"""The simulator's attackers, and what a grid's questions give away about its gold."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from crowdgate.simulate.attackers import (
    ATTACKS,
    BYTES,
    PHASH,
    RANDOM_CLICKER,
    RECOGNIZER,
    RECOGNIZER_BLIND,
    make_attacker,
    phash,
)
from crowdgate.store import Store
from seed import numbered_item

NOW = 1_800_000_000.0


def _png(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "L").save(out, fmt)
    return out.getvalue()


def test_phash_survives_a_reencode_but_tells_different_pictures_apart() -> None:
    rng = np.random.default_rng(0)
    a = np.kron(rng.integers(0, 256, (8, 8)), np.ones((12, 12)))
    b = np.kron(rng.integers(0, 256, (8, 8)), np.ones((12, 12)))
    assert (
        phash(_png(a)) == phash(_png(a, "WEBP"))
        or bin(phash(_png(a)) ^ phash(_png(a, "WEBP"))).count("1") <= 4
    )
    assert bin(phash(_png(a)) ^ phash(_png(b))).count("1") > 10


def test_memorizer_with_feedback_answers_a_tile_by_what_passed() -> None:
    bot = make_attacker(RECOGNIZER)
    keys = bot.keys([b"x", b"y"], ["item-a", "item-b"])
    bot.learn("3", keys, [0], passed=True)
    assert bot.choose("3", keys) == [0]
    assert bot.choose("5", keys) == [] or bot.choose("5", keys) == [1]
    assert 0 not in bot.choose("5", keys)


def test_blind_memorizer_reads_answers_from_the_labels_tiles_are_asked_under() -> None:
    bot = make_attacker(RECOGNIZER_BLIND)
    keys = bot.keys([b"x"], ["item-a"])
    for label in ("7", "7", "7", "2"):
        bot.learn(label, keys, [], passed=False)
    bot.learn("4", keys, [0], passed=True)  # no feedback: a pass teaches it nothing
    assert bot.choose("7", keys) == [0]
    assert bot.choose("2", keys) == []
    assert bot.choose("4", keys) == []


@pytest.mark.parametrize("kind", ATTACKS)
def test_every_attack_answers_a_grid(kind: str) -> None:
    bot = make_attacker(kind, seed=1)
    tiles = [_png(np.full((16, 16), 40 * i)) for i in range(4)]
    keys = bot.keys(tiles, [f"i{i}" for i in range(4)])
    picks = bot.choose("1", keys)
    assert set(picks) <= set(range(4))
    bot.learn("1", keys, picks, passed=True)
    if kind in (BYTES, PHASH, RECOGNIZER):
        assert bot.choose("1", keys) == picks
    if kind == RANDOM_CLICKER:
        assert len({tuple(bot.choose("1", keys)) for _ in range(30)}) > 1


def _item(store: Store, n: int, label: str | None) -> None:
    item = numbered_item(n, label, created_at=NOW)
    store.put_item(item, {"image": b"I", "thumb": b"T"}, None)


@pytest.fixture
def served(tmp_path):
    from live import Served

    uri = f"sqlite:///{tmp_path / 'crowdgate.db'}"
    server = Served(tmp_path, uri, workers=1, CROWDGATE_TRUSTED_PROXIES="1")
    yield server, uri
    server.stop()


def test_simulate_plays_attacks_from_a_fresh_address_per_grid(served) -> None:
    import json

    from click.testing import CliRunner

    from crowdgate.cli import main
    from crowdgate.store import open_store
    from seed import seed_project

    server, uri = served
    store = open_store(uri)
    seeded = seed_project(store, gold_per_label=4, open_items=30)
    store.close()
    for kind in (RANDOM_CLICKER, RECOGNIZER):
        args = ["simulate", "--url", server.base, "--sitekey", seeded.sitekey, "--json"]
        args += ["--challenges", "40", "--attack", kind, "--origin", "https://shop.example"]
        if kind == RECOGNIZER:
            args += ["--oracle-store", uri]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        # every grid is answered, each from its own address and user agent
        assert (report["attack"], report["grids"], report["errors"]) == (kind, 40, {})
        assert len(report["windows_250"]) == 1


def test_simulate_refuses_a_recognizer_without_an_oracle() -> None:
    from click.testing import CliRunner

    from crowdgate.cli import main

    args = ["simulate", "--url", "http://127.0.0.1:9", "--sitekey", "k", "--attack", RECOGNIZER]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--oracle-store" in result.output


def test_a_served_tile_never_repeats_its_bytes_but_keeps_its_pixels() -> None:
    from crowdgate.challenge.rand import BatchedSystemRandom
    from crowdgate.challenge.tiles import fresh_bytes
    from crowdgate.ingestion.images import make_variants

    rng = BatchedSystemRandom()
    rows = np.random.default_rng(0).integers(0, 256, (8, 8))
    picture = Image.fromarray(np.kron(rows, np.ones((12, 12))).astype(np.uint8), "L")
    lossy = make_variants(picture, 1, 0)[0]
    out = io.BytesIO()
    picture.save(out, "WEBP", lossless=True)
    for stored in (lossy, out.getvalue()):
        served = [fresh_bytes(stored, rng) for _ in range(50)]
        assert len(set(served)) == 50 and len({len(b) for b in served}) > 5
        original = Image.open(io.BytesIO(stored))
        want = np.asarray(original.convert("RGB"))
        for data in served[:5]:
            got = Image.open(io.BytesIO(data))
            assert got.format == "WEBP" and got.size == original.size
            assert np.array_equal(np.asarray(got.convert("RGB")), want)
    assert fresh_bytes(b"not a webp", rng) == b"not a webp"


def test_memorizer_knows_a_tile_seen_under_two_labels_once_one_is_ruled_out() -> None:
    bot = make_attacker(RECOGNIZER)
    both = bot.keys([b"x", b"y"], ["gold", "other"])
    bot.learn("7", both, [0, 1], passed=False)  # two unsure tiles: a failure says little
    keys = both[:1]
    bot.learn("2", keys, [], passed=True)  # a pass with the tile unselected: it is no "2"
    assert bot.choose("7", keys) == [0]
    assert bot.choose("2", keys) == []


def test_memorizer_learns_from_a_failure_when_only_one_tile_was_unsure() -> None:
    bot = make_attacker(RECOGNIZER)
    keys = bot.keys([b"x", b"y"], ["known", "unsure"])
    bot.learn("4", keys[:1], [0], passed=True)
    picks = bot.choose("4", keys)
    assert 0 in picks
    bot.learn("4", keys, picks, passed=False)
    assert (1 in bot.choose("4", keys)) != (1 in picks)
