"""What a grid's questions give away about its gold: nothing, by the secret decoy labels."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from crowdgate.challenge.grid import choose_label, compose_grid
from crowdgate.challenge.selection import QueueSelector
from crowdgate.models import GOLD, Project
from crowdgate.store import Store, decoys
from seed import numbered_item

NOW = 1_800_000_000.0
DIGITS = [str(d) for d in range(10)]


def _import(order: list[str], seed: int) -> dict[str, int]:
    """Return the stats counters after importing gold of classes ``order`` in that order."""
    rng = random.Random(seed)
    stats: dict[str, int] = {}
    for known in order:
        decoy = decoys.choose_decoy(known, DIGITS, stats, rng)
        assert decoy is not None and decoy != known
        stats["gold:" + known] = stats.get("gold:" + known, 0) + 1
        key = decoys.pair_key(known, decoy)
        stats[key] = stats.get(key, 0) + 1
    return stats


def _pair_guess(stats: dict[str, int]) -> float:
    """Return how often the likelier class of an item's two labels is its class."""
    pairs = decoys.pairs_of(stats)
    right = sum(max(pairs.get((a, b), 0), pairs.get((b, a), 0)) for a in DIGITS for b in DIGITS)
    return right / 2 / sum(pairs.values())


@pytest.mark.parametrize("order", ["class-by-class", "mixed"])
def test_decoys_are_paired_so_two_labels_stay_a_coin_flip(order: str) -> None:
    # 10 labels x 18 gold, as the digits demo: pairs (a, b) and (b, a) are about as many, so
    # knowing an item's two labels tells its class about as well as a coin flip.
    guesses = []
    for seed in range(20):
        classes = [lab for lab in DIGITS for _ in range(18)]
        if order == "mixed":
            random.Random(seed).shuffle(classes)
        stats = _import(classes, seed)
        guesses.append(_pair_guess(stats))
        sets = decoys.gold_sets(stats)
        assert all(n == 18 for n, _ in sets.values())
        assert sum(m for _, m in sets.values()) == 180
    # measured: 0.500 (class by class and mixed), worst 0.500; before the repay-first rule
    # 0.526 and 0.521, worst 0.567
    assert sum(guesses) / len(guesses) <= 0.51, guesses
    assert max(guesses) <= 0.52, guesses


@pytest.mark.parametrize("order", ["class-by-class", "mixed"])
@pytest.mark.parametrize(("n_labels", "per_label"), [(3, 2), (3, 4), (10, 3)])
def test_little_gold_leaves_no_label_without_decoys(order: str, n_labels: int, per_label: int):
    # A label without decoys would be asked with positives only, and "select all" would pass.
    labels = DIGITS[:n_labels]
    for seed in range(50):
        classes = [lab for lab in labels for _ in range(per_label)]
        if order == "mixed":
            random.Random(seed).shuffle(classes)
        rng = random.Random(seed)
        stats: dict[str, int] = {}
        for known in classes:
            decoy = decoys.choose_decoy(known, labels, stats, rng)
            stats["gold:" + known] = stats.get("gold:" + known, 0) + 1
            key = decoys.pair_key(known, decoy)
            stats[key] = stats.get(key, 0) + 1
        sets = decoys.gold_sets(stats)
        assert all(sets[lab][1] >= per_label - 1 for lab in labels), (seed, sets)


def test_a_label_with_little_gold_is_asked_so_every_item_keeps_its_rate() -> None:
    # A grid takes min(k, |set|) of a set, so the weight max(|set|, k) gives every item the
    # same rate k / total under each of its labels.
    sets = {"a": (10, 10), "b": (1, 1), "c": (3, 3)}
    rng = random.Random(1)
    asked = Counter(choose_label(sets, ["a", "b", "c"], 5, rng) for _ in range(30_000))
    total = 20 + 5 + 6
    for lab, (n, m) in sets.items():
        per_item = asked[lab] / 30_000 * min(5, n + m) / (n + m)
        assert per_item == pytest.approx(5 / total, rel=0.08), (lab, per_item)


def _item(store: Store, n: int, label: str | None) -> None:
    item = numbered_item(n, label, created_at=NOW)
    store.put_item(item, {"image": b"I", "thumb": b"T"}, None)


def test_every_gold_item_is_asked_under_its_class_and_its_decoy_equally(store: Store) -> None:
    # The leak of issue 12 was a gold tile shown under its own label far more often than
    # under any other. Now each is shown under exactly two labels, as often under each; a
    # gold set is half positives, so a fixed answer ("select none") passes about 2 ** -5.
    project = Project(id="digits", name="d", labels=DIGITS, created_at=NOW)
    project.settings.update({"grid_size": 12, "gold_per_grid": 5})
    store.create_project(project)
    n = 0
    for _ in range(6):
        for lab in DIGITS:
            _item(store, n, lab)
            n += 1
    for _ in range(40):
        _item(store, n, None)
        n += 1
    gold = {i.id: i for i in store.list_items("digits", state=GOLD, limit=100)}
    asked: dict[str, Counter] = defaultdict(Counter)
    rng = random.Random(3)
    sets = store.gold_sets("digits")
    positives = none_passes = 0
    grids = 3000
    for _ in range(grids):
        grid = compose_grid(store, project, QueueSelector(), rng, 0, sets)
        golds = [s for s in grid.slots if s.gold]
        assert len(golds) == 5 and len(grid.slots) == 12
        positives += sum(bool(s.truth) for s in golds)
        none_passes += not any(s.truth for s in golds)
        for slot in golds:
            item = gold[slot.item]
            assert slot.truth == (grid.label == item.known_label)
            asked[slot.item][grid.label] += 1
    assert len(asked) == len(gold)
    for item_id, seen in asked.items():
        item = gold[item_id]
        assert set(seen) <= {item.known_label, item.decoy}
    own = sum(asked[i][gold[i].known_label] for i in asked)
    served = sum(sum(c.values()) for c in asked.values())
    # 15,000 servings: a fair split is 0.5 +- 0.004 (sd)
    assert 0.48 <= own / served <= 0.52
    assert 0.46 <= positives / (5 * grids) <= 0.54
    # select none passes when a grid has no positive: about 1/32 (0.031), sd 0.003
    assert none_passes / grids <= 0.045
