"""The trainer's pool reads features into one array: the same rows as the old list-then-stack."""

from __future__ import annotations

import hashlib

import numpy as np

from crowdgate import manage
from crowdgate.models import GOLD, UNLABELED, Item
from crowdgate.trainer_pool import _features, _mixed_features, load_pool


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
