"""Compose a challenge grid: a target label, gold slots that grade, unlabeled slots that vote."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from ..errors import CrowdgateError
from ..models import Project, Slot
from ..store import Store
from .selection import Selector


class NoChallengeAvailable(CrowdgateError):
    code = "no-challenge-available"
    status = 503


@dataclass
class Grid:
    label: str
    slots: list[Slot]


#: gold positives per grid. One: a gold tile is then shown under its own label in 1/gold of
#: its servings (1/5 with the default five gold), the least the asked label can give away
#: while every grid has a positive. Two would halve what a bot that clicks exactly one tile
#: passes (1/12 -> 1/24) but measured a blind memorizer's pass rate 66% -> 96% (bench/attacks).
MAX_POSITIVES = 1


def compose_grid(
    store: Store,
    project: Project,
    selector: Selector,
    rng: random.Random,
    variants: int,
    gold_counts: dict[str, int],
) -> Grid:
    """Return a shuffled grid: gold positives and negatives for ``label`` plus open items.

    Every grid holds at least one gold positive and one gold negative: without a negative,
    selecting every tile would pass, and without a positive, selecting none would. Gold per
    grid follows the project setting; open slots are filled by ``selector``; when there are
    not enough open items the grid is completed with more gold.

    What the questions give away is kept small (issue 12): the asked label is drawn in
    proportion to its gold, so every gold item is asked about as a positive equally often;
    negatives are drawn uniformly over all other gold items, so every gold item appears as a
    negative equally often too; and a grid holds :data:`MAX_POSITIVES` positive, so a gold
    tile is shown under its own label in 1/gold of its servings (the rest spread over every
    other label) rather than in half of them.

    Raises
    ------
    NoChallengeAvailable
        When fewer than two labels have gold.
    """
    size = int(project.setting("grid_size"))
    want_gold = max(2, min(int(project.setting("gold_per_grid")), size))
    counts = gold_counts
    with_gold = [lab for lab in project.labels if counts.get(lab, 0) > 0]
    if len(with_gold) < 2:
        raise NoChallengeAvailable(
            f"Project {project.id!r} has too little gold to build a challenge: import items "
            "with known labels for at least two labels.",
        )
    label = rng.choices(with_gold, weights=[counts[lab] for lab in with_gold])[0]
    negatives = [lab for lab in with_gold if lab != label]
    n_pos = rng.randint(1, max(1, min(MAX_POSITIVES, want_gold - 1, counts[label])))
    # Negatives are drawn for every non-positive slot up front, so one store call serves
    # however many open items come back; the first ones fill what open items leave free.
    fill = _spread(negatives, counts, size - n_pos, rng)
    wants = Counter(fill)
    wants[label] = n_pos
    open_ids, drawn = selector.draw(store, project, label, size - want_gold, dict(wants), rng)
    # Sampled again here: a store may return a small gold set whole, in its stored order.
    pools = {lab: rng.sample(ids, len(ids)) for lab, ids in drawn.items()}
    slots = [Slot(item=i, gold=True, truth=True) for i in pools.get(label, [])[:n_pos]]
    # Negatives in the drawn order, skipping labels whose gold ran out, so the grid is full
    # whenever the gold allows it.
    room = size - len(slots) - len(open_ids)
    for lab in fill:
        if room <= 0:
            break
        if pools.get(lab):
            slots.append(Slot(item=pools[lab].pop(), gold=True, truth=False))
            room -= 1
    if not any(s.truth for s in slots) or all(s.truth for s in slots):
        raise NoChallengeAvailable(
            f"Project {project.id!r} could not draw gold of both kinds for {label!r}; "
            "retry, or import more gold.",
        )
    slots += [Slot(item=i, gold=False) for i in open_ids]
    for slot in slots:
        if variants:
            slot.variant = rng.randrange(variants)
    rng.shuffle(slots)
    return Grid(label=label, slots=slots)


def _spread(labels: list[str], counts: dict[str, int], n: int, rng: random.Random) -> list[str]:
    """Draw ``n`` negative labels, in proportion to each label's number of gold items."""
    if n <= 0 or not labels:
        return []
    return rng.choices(labels, weights=[counts[lab] for lab in labels], k=n)
