"""The trainer's pool reads features into one array: the same rows as the old list-then-stack."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from crowdgate import manage
from crowdgate.models import GOLD, UNLABELED, Item
from crowdgate.trainer_pool import (
    MIN_PER_CLASS,
    _features,
    _mixed_features,
    load_pool,
    rotating_slice,
    stratified_sample,
)


def _put(store, widths: list[int | None]) -> list[str]:
    """Store one item per entry of ``widths`` (None: no features); return their ids."""
    manage.create_project(store, "p", labels=["a", "b"])
    rng = np.random.default_rng(3)
    entries, ids = [], []
    for k, width in enumerate(widths):
        tile = b"tile" + k.to_bytes(4, "big")
        item_id = hashlib.sha256(tile).hexdigest()
        gold = k % 3 == 0
        item = Item(
            project="p",
            id=item_id,
            filename=f"{k}.png",
            state=GOLD if gold else UNLABELED,
            known_label="ab"[k % 2] if gold else None,
            label="ab"[k % 2] if gold else None,
            width=8,
            height=8,
            created_at=1.0,
        )
        vec = None if width is None else rng.random(width, dtype=np.float32)
        entries.append((item, {"image": tile, "thumb": tile}, vec))
        ids.append(item_id)
    store.put_items(iter(entries))
    return ids


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def test_features_match_the_list_then_stack_read_with_missing_rows_across_chunks(store):
    ids = _put(store, [6, None, 6, 6, None, 6, 6])
    got = _features(store, "p", ids, chunk=3)
    assert _same(got, _mixed_features(store, "p", ids, chunk=3))
    assert np.isnan(got[[1, 4]]).all() and not np.isnan(got[[0, 2, 3, 5, 6]]).any()


def test_features_of_several_widths_keep_only_the_last_width(store):
    ids = _put(store, [6, 4, None, 6, 4])
    got = _features(store, "p", ids, chunk=2)
    assert got.shape == (5, 4)
    assert _same(got, _mixed_features(store, "p", ids, chunk=2))
    assert np.isnan(got[[0, 2, 3]]).all() and not np.isnan(got[[1, 4]]).any()


def test_features_of_items_without_any_are_one_nan_column(store):
    ids = _put(store, [None, None])
    assert _same(_features(store, "p", ids), np.full((2, 1), np.nan, np.float32))
    assert _same(_features(store, "p", []), np.zeros((0, 1), np.float32))


def test_load_pool_drops_items_without_features_and_keeps_the_rest_in_order(store):
    ids = _put(store, [6, 6, None, 6, 6, None, 6])
    pool = load_pool(store, store.get_project("p"))
    gold_rows, open_rows = [0, 3, 6], [1, 4]  # rows 2 and 5 have no features
    assert pool.labeled_ids == [ids[k] for k in gold_rows]
    assert pool.open_ids == [ids[k] for k in open_rows]
    assert list(pool.y_labeled) == ["a", "b", "a"] and pool.gold_mask.all()
    assert pool.X_labeled.shape == (3, 6) and pool.X_open.shape == (2, 6)
    assert not np.isnan(pool.X_labeled).any() and not np.isnan(pool.X_open).any()


def test_a_capped_sample_keeps_each_class_in_proportion_and_a_floor_of_rare_ones():
    y = np.asarray(["a"] * 6000 + ["b"] * 3000 + ["c"] * 200 + ["d"] * 10, dtype=object)
    rows = stratified_sample(y, 1000, np.random.default_rng(0))
    assert len(rows) == 1000 and len(set(rows)) == 1000 and np.all(np.diff(rows) > 0)
    got = dict(zip(*np.unique(y[rows], return_counts=True), strict=True))
    # "d" keeps all its 10 rows (under the floor), "c" the floor (over its share of 22), and
    # the large classes near their shares (651 and 326), the largest paying for the floors
    assert got["d"] == 10 and got["c"] == MIN_PER_CLASS
    assert abs(got["a"] - 651) <= 15 and abs(got["b"] - 326) <= 5
    again = stratified_sample(y, 1000, np.random.default_rng(0))
    assert np.array_equal(rows, again)


@pytest.mark.parametrize("cap", [0, 50, 80])
def test_no_sample_is_drawn_under_the_cap_or_without_one(cap):
    y = np.asarray(["a", "b"] * 25, dtype=object)
    assert np.array_equal(stratified_sample(y, cap, np.random.default_rng(0)), np.arange(50))


def test_rotating_slices_cover_the_pool_in_turn_and_always_keep_voted_rows():
    keep = np.asarray([3, 95], np.intp)
    seen: set[int] = set()
    for run in range(1, 5):
        rows = rotating_slice(100, 30, run, keep)
        assert {3, 95} <= set(rows) and len(rows) <= 32 and np.all(np.diff(rows) > 0)
        seen |= set(rows.tolist())
    assert seen == set(range(100))
    assert np.array_equal(rotating_slice(100, 0, 3), np.arange(100))


def test_load_pool_with_caps_reads_a_sample_and_a_slice_and_counts_the_whole_project(store):
    ids = _put(store, [6] * 90)
    project = store.get_project("p")
    gold = {ids[k] for k in range(90) if k % 3 == 0}
    voted = {ids[1], ids[89]}  # two open items with votes are scored whatever the slice
    pool = load_pool(store, project, train_cap=12, score_cap=20, run=2, seed=1, voted=voted)
    assert pool.totals() == (30, 30, 60)
    assert len(pool.labeled_ids) == 12 and set(pool.labeled_ids) <= gold
    assert sorted(pool.y_labeled) == ["a"] * 6 + ["b"] * 6
    assert voted <= set(pool.open_ids) and 20 <= len(pool.open_ids) <= 22
    assert not set(pool.open_ids) & gold
    assert pool.X_labeled.shape == (12, 6) and pool.X_open.shape == (len(pool.open_ids), 6)
    full = load_pool(store, project)
    assert full.totals() == (30, 30, 60) and len(full.open_ids) == 60
