"""The challenge hot path: one store call composes a grid, on every backend."""

from __future__ import annotations

import random

import numpy as np
import pytest

from crowdgate.challenge import RandomSelector
from crowdgate.challenge.grid import compose_grid
from crowdgate.challenge.selection import QueueSelector
from crowdgate.models import GOLD, SETTLED, Item, Project, TokenRecord, Vote
from crowdgate.store import Store
from seed import numbered_item

NOW = 1_800_000_000.0


def make_project(store: Store) -> Project:
    project = Project(id="digits", name="Digits", labels=["0", "1", "2"], created_at=NOW)
    store.create_project(project)
    return project


def add_item(store: Store, n: int, label: str | None = None) -> Item:
    item = numbered_item(n, label, created_at=NOW)
    store.put_item(item, {"thumb": b"T%d" % n}, np.zeros(4, dtype=np.float32))
    return item


def vote(item: Item, voter: str) -> Vote:
    return Vote(
        project="digits",
        item=item.id,
        label="1",
        answer=True,
        voter=voter,
        network=voter,
        challenge="digits.c",
        gold_score=1.0,
        ts=NOW,
    )


def token(n: int) -> TokenRecord:
    return TokenRecord(f"digits.t{n}", "sk", "example.com", "digits", NOW, NOW + 120)


def test_draw_grid_reads_queue_open_items_and_gold_of_each_label(store: Store) -> None:
    make_project(store)
    items = [add_item(store, n) for n in range(8)]
    gold = {
        lab: [add_item(store, 100 + 10 * k + j, lab) for j in range(3)]
        for k, lab in enumerate(["0", "1", "2"])
    }
    store.set_queue("digits", "1", [(item.id, 10.0 - n) for n, item in enumerate(items[:6])])
    store.update_item("digits", items[0].id, state=SETTLED, label="1")
    got = store.draw_grid("digits", "1", 6, {"0": 2, "1": 5, "2": 0}, top_k=4, vote_cap=5)
    assert set(got.queue) == {i.id for i in items[1:5]}
    assert set(got.open) <= {i.id for i in items[1:]} and len(set(got.open)) == len(got.open)
    assert len(got.gold["0"]) == 2 and set(got.gold["0"]) <= {i.id for i in gold["0"]}
    assert sorted(got.gold["1"]) == sorted(i.id for i in gold["1"])
    assert got.gold["2"] == []
    again = store.draw_grid("digits", "1", 0, {}, top_k=10, vote_cap=5)
    assert items[0].id not in again.queue and len(again.queue) == 5


def test_an_item_at_the_vote_cap_leaves_the_grid_queue(store: Store) -> None:
    make_project(store)
    capped, other = add_item(store, 1), add_item(store, 2)
    store.set_queue("digits", "1", [(capped.id, 2.0), (other.id, 1.0)])
    for n in range(2):
        store.record_pass("digits", [vote(capped, f"v{n}")], token(n), vote_cap=2)
    got = store.draw_grid("digits", "1", 2, {}, top_k=5, vote_cap=2)
    assert got.queue == [other.id]


@pytest.mark.parametrize("selector", [QueueSelector(), RandomSelector()], ids=["queue", "random"])
@pytest.mark.parametrize("n_open", [0, 2, 6], ids=["no-open", "few-open", "enough-open"])
def test_a_composed_grid_is_full_from_the_asked_labels_gold_set(
    store: Store, selector: object, n_open: int
) -> None:
    project = make_project(store)
    opened = [add_item(store, n) for n in range(n_open)]
    for k, lab in enumerate(["0", "1", "2"]):
        for j in range(9):
            add_item(store, 100 + 10 * k + j, lab)
    store.set_queue("digits", "1", [(i.id, 1.0) for i in opened])
    rng = random.Random(7)
    known = {i.id: i.known_label for i in store.list_items("digits", state=GOLD, limit=100)}
    for _ in range(20):
        grid = compose_grid(store, project, selector, rng, 0, store.gold_sets("digits"))
        gold = [s for s in grid.slots if s.gold]
        # short of open items, a grid is completed from the asked label's gold set only
        full = min(12, len(opened) + sum(store.gold_sets("digits")[grid.label]))
        assert len({s.item for s in grid.slots}) == len(grid.slots) == full
        # gold of the asked label's set, split as drawn (a forced positive and negative
        # would tell a bot how many of its gold tiles to select)
        assert all(bool(s.truth) == (known[s.item] == grid.label) for s in gold)
        assert {s.item for s in grid.slots if not s.gold} <= {i.id for i in opened}
        assert len(gold) >= 5


def test_gold_of_a_small_pool_is_drawn_at_random_not_in_stored_order(store: Store) -> None:
    project = make_project(store)
    pool = {
        lab: [add_item(store, 100 + 10 * k + j, lab).id for j in range(3)]
        for k, lab in enumerate(["0", "1", "2"])
    }
    rng = random.Random(3)
    seen: set[str] = set()
    for _ in range(60):
        grid = compose_grid(store, project, QueueSelector(), rng, 0, store.gold_sets("digits"))
        seen.update(s.item for s in grid.slots)
    assert seen == {i for ids in pool.values() for i in ids}
