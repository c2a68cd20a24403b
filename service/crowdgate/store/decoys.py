"""Secret decoy labels: the second label every gold item is asked under, as often as its own.

A grid asking ``L`` draws its gold uniformly from ``L``'s gold set: the gold of class ``L``
(positives) and the gold whose decoy is ``L`` (negatives). Every gold item is then shown under
its class and under its decoy equally often, so the labels a tile is asked under narrow its
answer to two, never to one (issue 12; docs/defences.md). For the two to be equally likely, the
decoys are paired: an item of class ``a`` takes as decoy a label ``b`` whose gold owes ``a``
one (more items of ``b`` with decoy ``a`` than items of ``a`` with decoy ``b``), so the number
of items with (class ``a``, decoy ``b``) stays equal to the number with (``b``, ``a``), and
each label's gold set stays half positives. The store keeps, per label, a pool of the gold with
that decoy, and a counter per (class, decoy) pair beside the gold counters.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence

from ..models import GOLD, Item

#: stats counter of gold items per (class, decoy) pair: ``decoy:["<class>", "<decoy>"]``
PAIR_PREFIX = "decoy:"
#: sampling pool (SQLite) or zset suffix (Redis) of the gold whose decoy is a label
POOL_PREFIX = "decoy:"

_rng = random.SystemRandom()


def pair_key(known: str, decoy: str) -> str:
    """Return the stats counter name of gold items of class ``known`` with decoy ``decoy``."""
    return PAIR_PREFIX + json.dumps([known, decoy])


def decoy_of(item: Item) -> str:
    """Return the decoy whose pool ``item`` belongs to, or '' when it is in none."""
    if item.state != GOLD or not item.known_label or not item.decoy:
        return ""
    return item.decoy


def pairs_of(stats: dict[str, int]) -> dict[tuple[str, str], int]:
    """Return the (class, decoy) pair counters found in a project's stats."""
    out: dict[tuple[str, str], int] = {}
    for name, value in stats.items():
        if name.startswith(PAIR_PREFIX) and value > 0:
            known, decoy = json.loads(name[len(PAIR_PREFIX) :])
            out[(known, decoy)] = value
    return out


def gold_sets(stats: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Return per label (its gold items, gold items with it as decoy), from the counters."""
    sets: dict[str, list[int]] = {}
    for name, value in stats.items():
        if name.startswith("gold:") and value > 0:
            sets.setdefault(name[5:], [0, 0])[0] += value
    for (_, decoy), value in pairs_of(stats).items():
        sets.setdefault(decoy, [0, 0])[1] += value
    return {lab: (n, m) for lab, (n, m) in sets.items()}


def needs_decoy(item: Item, labels: Sequence[str]) -> bool:
    """Return True when ``item`` is gold and has no usable decoy among ``labels``."""
    if item.state != GOLD or not item.known_label:
        return False
    return not item.decoy or item.decoy == item.known_label or item.decoy not in labels


def choose_decoy(
    known: str, labels: Sequence[str], stats: dict[str, int], rng: random.Random = _rng
) -> str | None:
    """Return a decoy for a new gold item of class ``known`` (None with no other label).

    A label whose gold owes ``known`` a pair is taken first (in proportion to the debt), so
    every (class, decoy) pair count is matched by its mirror and a label's gold set holds as
    many decoys as positives. Otherwise the label that can best repay one is taken: the least
    of its gold so far plus the pairs its gold still owes (ties at random).
    """
    others = [lab for lab in labels if lab != known]
    if not others:
        return None
    pairs = pairs_of(stats)
    debt = {b: pairs.get((b, known), 0) - pairs.get((known, b), 0) for b in others}
    owed = [b for b in others if debt[b] > 0]
    if owed:
        return rng.choices(owed, weights=[debt[b] for b in owed])[0]
    # Gold is often imported one class after another: a label yet to come pays its debts, one
    # already done cannot, and a label already owed many pairs needs that much gold to come.
    # Simulated over 300 imports each (class by class and mixed; 10 x 18, 10 x 3, 5 x 7, 3 x 4
    # and 3 x 2 gold), a Bayes guess of an item's class from the pair counts is right for
    # 0.500-0.514 of items, and no label is left without decoys. Drawing in proportion to
    # 1 / (1 + gold) instead gave 0.52-0.61, and left a label without decoys (its grids all
    # positives, so "select all" passed them) in 6 % of 3 x 4 and 34 % of 3 x 2 imports.
    score = {b: stats.get("gold:" + b, 0) + _owes(b, pairs, labels) for b in others}
    least = min(score.values())
    return rng.choice([b for b in others if score[b] == least])


def _owes(label: str, pairs: dict[tuple[str, str], int], labels: Sequence[str]) -> int:
    """Return how many pairs ``(x, label)`` still wait for a mirror ``(label, x)``."""
    return sum(max(pairs.get((x, label), 0) - pairs.get((label, x), 0), 0) for x in labels)


class BatchDecoys:
    """Decoys for a batch of new gold whose counters are written only once the batch is.

    Each project's labels and counters are read once (``read``, at its first gold item), then
    kept up to date with every gold item the batch adds, so a bulk put pairs its decoys as the
    same puts one at a time would.
    """

    def __init__(self, read: Callable[[str], tuple[list[str], dict[str, int]]]) -> None:
        self._read = read
        self._projects: dict[str, tuple[list[str], dict[str, int]]] = {}

    def give(self, item: Item) -> None:
        """Give a gold ``item`` that lacks one its decoy, on the batch's running counters."""
        if item.state != GOLD or not item.known_label:
            return
        if item.project not in self._projects:
            self._projects[item.project] = self._read(item.project)
        labels, stats = self._projects[item.project]
        if needs_decoy(item, labels):
            item.decoy = choose_decoy(item.known_label, labels, stats)

    def added(self, item: Item) -> None:
        """Count a gold ``item`` the batch has added (call once it is known to be new)."""
        if item.project not in self._projects or item.state != GOLD or not item.known_label:
            return
        stats = self._projects[item.project][1]
        names = ["gold:" + item.known_label]
        if decoy := decoy_of(item):
            names.append(pair_key(item.known_label, decoy))
        for name in names:
            stats[name] = stats.get(name, 0) + 1
