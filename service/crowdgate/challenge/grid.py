"""Compose a challenge grid: a target label, gold slots that grade, unlabeled slots that vote."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import CrowdgateError
from ..models import GOLD, Project, Slot
from ..store import Store
from ..store.decoys import needs_decoy
from .selection import Selector


class NoChallengeAvailable(CrowdgateError):
    code = "no-challenge-available"
    status = 503


@dataclass
class Grid:
    label: str
    slots: list[Slot]


#: gold items read per page when giving decoys to gold made before them
BACKFILL_PAGE = 500


def gold_sets_of(store: Store, project_id: str) -> dict[str, tuple[int, int]]:
    """Return per label (gold of it, gold with it as decoy), giving decoys to gold that lacks one.

    Gold imported before decoys existed has none; it gets one here, once, so it is no longer
    shown only under its own label (the store assigns new gold's decoy itself).
    """
    sets = store.gold_sets(project_id)
    if sum(n for n, _ in sets.values()) <= sum(m for _, m in sets.values()):
        return sets
    project = store.get_project(project_id)
    owner = f"decoys-{random.getrandbits(64):016x}"
    if project is None or not store.acquire_lock(f"decoys:{project_id}", owner, 300):
        return sets
    try:
        offset = 0
        while page := store.list_items(project_id, state=GOLD, offset=offset, limit=BACKFILL_PAGE):
            for item in page:
                if needs_decoy(item, project.labels):
                    store.update_item(project_id, item.id)
            offset += len(page)
    finally:
        store.release_lock(f"decoys:{project_id}", owner)
    return store.gold_sets(project_id)


def choose_label(
    sets: dict[str, tuple[int, int]], labels: list[str], k: int, rng: random.Random
) -> str:
    """Draw the asked label, each with weight ``max(|gold set|, k)``.

    A grid asking ``L`` shows ``min(k, |set_L|)`` of ``L``'s gold set, so this weight makes
    every gold item shown under each of its two labels at the same rate, ``k / total``, even
    for a label with less gold than a grid takes (whose grids then hold fewer gold tiles).
    """
    # A label with no gold of its own is not asked: its grids would hold negatives only.
    usable = [lab for lab in labels if sets.get(lab, (0, 0))[0] > 0]
    return rng.choices(usable, weights=[max(sum(sets[lab]), k) for lab in usable])[0]


def compose_grid(
    store: Store,
    project: Project,
    selector: Selector,
    rng: random.Random,
    variants: int,
    gold_sets: dict[str, tuple[int, int]],
) -> Grid:
    """Return a shuffled grid asking one label: gold from that label's gold set, then open items.

    The questions leak nothing by construction (issue 12, docs/defences.md): every gold item
    has a secret decoy label (``store/decoys.py``), and a grid asking ``L`` draws its gold
    uniformly from ``L``'s gold set, the gold of class ``L`` (positives) and the gold whose
    decoy is ``L`` (negatives), with no forced split. Every gold item is so shown under its
    class and under its decoy equally often, and a gold set is half positives, so a fixed
    answer (select none, select all, one click) passes about as often as coin-flip clicking,
    ``2 ** -gold``. ``gold_sets`` gives per label (gold of it, gold with it as decoy).
    Open slots are filled by ``selector``; when open items run short, the grid is completed
    with more of the same gold set, still drawn uniformly.

    Raises
    ------
    NoChallengeAvailable
        When fewer than two labels have gold.
    """
    size = int(project.setting("grid_size"))
    k = max(1, min(int(project.setting("gold_per_grid")), size))
    with_gold = [lab for lab in project.labels if gold_sets.get(lab, (0, 0))[0] > 0]
    if len(with_gold) < 2:
        raise NoChallengeAvailable(
            f"Project {project.id!r} has too little gold to build a challenge: import items "
            "with known labels for at least two labels.",
        )
    label = choose_label(gold_sets, project.labels, k, rng)
    n_pos, n_neg = gold_sets[label]
    # One uniform order over the gold set, as far as a full grid could need; the first ``k``
    # are the grid's gold, the rest complete a grid that finds too few open items.
    order = [p < n_pos for p in rng.sample(range(n_pos + n_neg), min(size, n_pos + n_neg))]
    want_pos, want_neg = sum(order), len(order) - sum(order)
    open_ids, got = selector.draw(
        store,
        project,
        label,
        size - min(k, len(order)),
        {label: want_pos} if want_pos else {},
        rng,
        {label: want_neg} if want_neg else {},
    )
    # Shuffled again here: a store may return a small pool whole, in its stored order.
    pos = rng.sample(got.gold.get(label, []), len(got.gold.get(label, [])))
    neg = rng.sample(got.decoy.get(label, []), len(got.decoy.get(label, [])))
    room = max(k, size - len(open_ids))
    slots: list[Slot] = []
    for positive in order:
        if len(slots) >= room:
            break
        pool = pos if positive else neg
        if pool:
            slots.append(Slot(item=pool.pop(), gold=True, truth=positive))
    if not slots:
        raise NoChallengeAvailable(
            f"Project {project.id!r} could not draw gold for {label!r}; retry, or import "
            "more gold.",
        )
    slots += [Slot(item=i, gold=False) for i in open_ids[: size - len(slots)]]
    for slot in slots:
        if variants:
            slot.variant = rng.randrange(variants)
    rng.shuffle(slots)
    return Grid(label=label, slots=slots)
