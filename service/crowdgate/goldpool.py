"""A gold pool that grows and rotates: sure settled items become gold, over-served gold retires.

Run by the worker after each full consensus run (:func:`maintain`, from ``trainer.retrain``),
never on the challenge path. Three steps (docs/defences.md, "A gold pool that grows"):

* **Serving clock.** With the unbiased sampler every active gold item is shown
  ``gold_per_grid / active gold`` times per grid, so the expected servings of one item since
  the project began are a single number, advanced here from the answered-grid counters the
  answer path already keeps (``challenges_passed`` + ``challenges_failed``). An item records
  the clock when it becomes gold (``Item.gold_exposure``, 0 for imported gold), so its servings
  are the difference: no per-serve count on the hot path.
* **Promotion.** A settled item becomes gold when the crowd alone is sure of it: its votes,
  each weighed by the population reliability estimated from how often voters agree
  (:func:`consensus.estimate_reliability`), give its label a posterior of at least
  ``promote_threshold`` under a uniform prior (the committee's reading is left out, so the
  committee's prediction never makes gold), at least ``min_votes`` distinct voters from as
  many distinct networks said yes to it, and no vote contradicts it; and the committee,
  which may only veto, reads the same label with confidence ``COMMITTEE_AGREES``. The store
  gives the new gold its decoy label, paired like imported gold's.
* **Retirement.** An active gold item served ``retire_after_serves`` times or more stops
  grading: it keeps its state and label (exported as gold, trained on as before) but loses its
  ``known_label``, so it leaves the gold pools and counters. Items retire in mirrored decoy
  pairs (class ``a`` decoy ``b`` with class ``b`` decoy ``a``) so every label's gold set stays
  half positives, never more than promotion has added in all (so the active pool never
  shrinks below what was imported), and never below ``gold_per_grid`` gold items per class.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from . import consensus
from .models import GOLD, SETTLED, Item, Project, Vote
from .store import Store

#: stats counter: expected servings of one gold item since the project began, in thousandths
EXPOSURE = "goldpool:exposure_milli"
#: stats counter: answered grids the serving clock has accounted for
GRIDS_SEEN = "goldpool:grids"
#: stats counters of what the gold pool did
PROMOTED, RETIRED = "goldpool:promoted", "goldpool:retired"
#: ``consensus_by`` prefix of a promoted item (what settled it follows)
PROMOTED_BY = "promoted-"
#: Committee confidence in the crowd's label below which an item is not promoted: a veto only
#: (the committee never makes gold; the crowd must be sure on its own too). Bots that answer
#: open items from what they remember promoted 589 items at 0.58 accuracy without it, when
#: they were the whole crowd (bench/RESULTS.md, "Attacks (gold pool)").
COMMITTEE_AGREES = 0.9


def crowd_posterior(votes: Sequence[Vote], labels: Sequence[str], reliability: float) -> np.ndarray:
    """Return the class posterior from the votes alone: uniform prior, one coin per vote.

    A yes to label ``L`` adds ``logit(r)`` to ``L``, a no subtracts it (the live rule's
    evidence); the committee's reading is not part of it.
    """
    r = min(max(reliability, 0.5), 1.0 - 1e-9)
    w = math.log(r / (1.0 - r))
    logits = np.zeros(len(labels))
    index = {lab: i for i, lab in enumerate(labels)}
    for v in votes:
        if v.label in index:
            logits[index[v.label]] += w if v.answer else -w
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def promotable(project: Project, item: Item, votes: Sequence[Vote], reliability: float) -> bool:
    """Return True when a settled ``item`` is sure enough, by the crowd alone, to become gold."""
    label = item.label
    if item.state != SETTLED or label not in project.labels:
        return False
    if item.committee_label != label or (item.committee_confidence or 0.0) < COMMITTEE_AGREES:
        return False
    if consensus.dissents(list(votes), label):
        return False
    yes = [v for v in votes if v.answer and v.label == label]
    need = int(project.setting("min_votes"))
    if len({v.voter for v in yes}) < need or len({v.network for v in yes}) < need:
        return False
    post = crowd_posterior(votes, project.labels, reliability)
    return bool(post[project.labels.index(label)] >= float(project.setting("promote_threshold")))


def servings(item: Item, clock: float) -> float:
    """Return the expected servings of an active gold ``item`` at serving clock ``clock``."""
    return clock - float(item.gold_exposure or 0.0)


def retirements(
    gold: Sequence[Item], clock: float, after: float, floor: int, most: int
) -> list[Item]:
    """Return the active gold items to retire: over-served, in mirrored decoy pairs.

    ``gold`` is the active gold (``known_label`` set). An item served ``after`` times or more
    is a candidate, most served first. It retires with a candidate of the mirrored pair (its
    decoy's class, decoyed with its class), or alone when its own pair outnumbers the mirror,
    so every (class, decoy) count stays matched by its mirror. At most ``most`` items retire,
    and no class keeps fewer than ``floor`` gold items.
    """
    per_class = Counter(str(i.known_label) for i in gold)
    pairs = Counter((str(i.known_label), i.decoy) for i in gold if i.decoy)
    over = sorted(
        (i for i in gold if servings(i, clock) >= after), key=lambda i: -servings(i, clock)
    )
    taken: set[str] = set()
    out: list[Item] = []

    def take(item: Item) -> None:
        taken.add(item.id)
        out.append(item)
        per_class[str(item.known_label)] -= 1
        if item.decoy:
            pairs[(str(item.known_label), item.decoy)] -= 1

    for item in over:
        if item.id in taken or len(out) >= most:
            continue
        a, b = str(item.known_label), item.decoy
        if per_class[a] - 1 < floor:
            continue
        if not b or pairs[(a, b)] > pairs[(b, a)]:
            take(item)
            continue
        if len(out) + 2 > most or per_class[b] - 1 < floor:
            continue
        mirror = next(
            (m for m in over if m.id not in taken and m.known_label == b and m.decoy == a), None
        )
        if mirror is not None:
            take(item)
            take(mirror)
    return out


def advance_clock(store: Store, project: Project, stats: dict[str, int]) -> float:
    """Account for the grids answered since the last pass; return the serving clock."""
    grids = int(stats.get("challenges_passed", 0)) + int(stats.get("challenges_failed", 0))
    new = grids - int(stats.get(GRIDS_SEEN, 0))
    clock = int(stats.get(EXPOSURE, 0))
    active = sum(v for k, v in stats.items() if k.startswith("gold:") and v > 0)
    if new > 0 and active > 0:
        k = int(project.setting("gold_per_grid"))
        step = round(1000 * new * min(k, active) / active)
        store.incr_stats(project.id, **{GRIDS_SEEN: new, EXPOSURE: step})
        clock += step
    elif new > 0:
        store.incr_stats(project.id, **{GRIDS_SEEN: new})
    return clock / 1000.0


def promote(
    store: Store, project: Project, items: Sequence[Item], votes: list[Vote], clock: float
) -> list[str]:
    """Promote every settled item of ``items`` the crowd alone is sure of; return their ids."""
    r = consensus.estimate_reliability(
        votes, project.labels, float(project.setting("live_reliability"))
    )
    by_item: dict[str, list[Vote]] = {}
    for v in votes:
        by_item.setdefault(v.item, []).append(v)
    out = []
    for item in items:
        if item.state == SETTLED and promotable(project, item, by_item.get(item.id, []), r):
            store.update_item(
                project.id,
                item.id,
                state=GOLD,
                known_label=item.label,
                gold_exposure=clock,
                consensus_by=PROMOTED_BY + (item.consensus_by or ""),
            )
            out.append(item.id)
    return out


def retire(
    store: Store, project: Project, ids: Sequence[str], clock: float, budget: int
) -> list[str]:
    """Retire the over-served active gold among ``ids`` (at most ``budget``); return their ids.

    A retired item keeps state ``gold`` and its label, and loses ``known_label``: it leaves the
    gold pools, its decoy pool and the gold counters, and is exported and trained on as gold.
    """
    after = float(project.setting("retire_after_serves"))
    if after <= 0 or budget <= 0:
        return []
    active = [
        i for i in store.get_items(project.id, ids).values() if i.state == GOLD and i.known_label
    ]
    floor = int(project.setting("gold_per_grid"))
    out = []
    for item in retirements(active, clock, after, floor, budget):
        store.update_item(project.id, item.id, known_label=None)
        out.append(item.id)
    return out


def gold_ids(store: Store, project_id: str, batch: int = 2000) -> list[str]:
    """Return the ids of the project's gold items (retired ones too), paged by state."""
    out: list[str] = []
    after = 0
    while True:
        page = store.page_items(project_id, state=GOLD, after=after, limit=batch)
        out.extend(item.id for item in page.items)
        if page.next is None:
            return out
        after = page.next


def maintain(store: Store, project: Project, votes: list[Vote] | None = None) -> dict[str, float]:
    """Advance the serving clock, promote sure settled items, retire over-served gold.

    Returns ``promoted``, ``retired``, ``active_gold`` (after the pass) and ``clock``.
    """
    stats = store.get_stats(project.id)
    clock = advance_clock(store, project, stats)
    gold = gold_ids(store, project.id)
    promoted: list[str] = []
    if bool(project.setting("promote_to_gold")):
        votes = store.list_votes(project.id) if votes is None else votes
        # the candidates are the settled items with votes (one without can never be
        # promotable), read in batches, in the order of their first vote; keeping every
        # settled item was most of a million-item project held as Item objects
        ids = list(dict.fromkeys(v.item for v in votes))
        voted = store.get_items(project.id, ids)
        settled = [voted[i] for i in ids if i in voted and voted[i].state == SETTLED]
        promoted = promote(store, project, settled, votes, clock)
    # Only what promotion added may retire: the active pool never shrinks below its import.
    budget = int(stats.get(PROMOTED, 0)) + len(promoted) - int(stats.get(RETIRED, 0))
    ids = gold + promoted
    retired = retire(store, project, ids, clock, budget)
    if promoted or retired:
        store.incr_stats(project.id, **{PROMOTED: len(promoted), RETIRED: len(retired)})
    return {
        "promoted": len(promoted),
        "retired": len(retired),
        "active_gold": sum(store.gold_labels(project.id).values()),
        "clock": round(clock, 3),
    }
