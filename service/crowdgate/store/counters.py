"""The per-project counters a store keeps as items are imported, voted on and settled.

Pages that show a project's numbers (the dashboard, the admin API, ``/metrics``) read these
counters instead of scanning the project, so they cost the same at a hundred items as at a
million. Every backend adds to them in the same transaction (SQLite) or script (Redis) as the
write that changes what they count. The names, beside the ``state:<state>`` and
``gold:<label>`` counts kept since the first versions:

- ``open_voted``: unlabeled items with at least one vote (the dashboard's "in progress")
- ``class:<label>``: settled items by consensus label
- ``settled_day:<YYYY-MM-DD>``: items settled that UTC day (by ``settled_at``), still settled
- ``confidence:<bin>``: settled items by consensus confidence, in ``CONFIDENCE_BINS`` bins
- ``votes_day:<YYYY-MM-DD>``: votes recorded that UTC day
- ``counters_version``: set once a project's counters cover its items (see ``backfill``)

The (class, decoy) pair counters of the gold's secret decoys (``decoy:``, :mod:`.decoys`) are
kept by the same writes. They are not recounted by a backfill (nor cleared by it): no item had
a decoy before they were kept, and gold given one later is counted as it gets it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from ..models import GOLD, ITEM_STATES, SETTLED, UNLABELED, Item

#: bins of consensus confidence, each 1 / CONFIDENCE_BINS wide (1.0 goes in the last)
CONFIDENCE_BINS = 10
#: the counter that marks a project's counters as complete, and its value now
VERSION_KEY = "counters_version"
VERSION = 1
#: set (not counted) by the first import into an empty project since grid tiles are made
#: when first needed: its random open draws come only from open items whose tiles are made
TILES_KEY = "tiles_deferred"
OPEN_VOTED = "open_voted"
CLASS, SETTLED_DAY, CONFIDENCE, VOTES_DAY = "class:", "settled_day:", "confidence:", "votes_day:"
#: the counters a backfill recomputes (and so first clears); challenge counters are kept
DERIVED = ("state:", "gold:", OPEN_VOTED, CLASS, SETTLED_DAY, CONFIDENCE, VOTES_DAY)


def day_of(ts: float) -> str:
    """Return the UTC day of a Unix time ``ts`` as ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def confidence_bin(confidence: float) -> int:
    """Return the bin (0 to ``CONFIDENCE_BINS - 1``) of a confidence in [0, 1]."""
    return max(0, min(CONFIDENCE_BINS - 1, int(confidence * CONFIDENCE_BINS)))


def settled_counts(item: Item) -> dict[str, int]:
    """Return what ``item`` adds to the settled-item counters (empty unless it is settled)."""
    if item.state != SETTLED:
        return {}
    out: dict[str, int] = {}
    if item.label is not None:
        out[CLASS + item.label] = 1
    if item.settled_at:
        out[SETTLED_DAY + day_of(item.settled_at)] = 1
    if item.confidence is not None:
        out[CONFIDENCE + str(confidence_bin(item.confidence))] = 1
    return out


def is_open_voted(item: Item) -> bool:
    """Return whether ``item`` counts in ``open_voted`` (unlabeled, with a vote)."""
    return item.state == UNLABELED and item.votes > 0


def change(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Return the non-zero per-counter differences ``after - before``."""
    out = {k: after.get(k, 0) - before.get(k, 0) for k in before.keys() | after.keys()}
    return {k: v for k, v in sorted(out.items()) if v}


def backfill(items: Iterable[Item], vote_times: Iterable[float]) -> dict[str, int]:
    """Return every item- and vote-derived counter of a project, counted from scratch.

    ``items`` are all of its items (with their vote counts), ``vote_times`` the time of each of
    its votes. Used once per project made before the counters were kept (see ``DERIVED``).
    """
    total: Counter[str] = Counter({f"state:{s}": 0 for s in ITEM_STATES})
    for item in items:
        total[f"state:{item.state}"] += 1
        if item.state == GOLD and item.known_label is not None:
            total[f"gold:{item.known_label}"] += 1
        total.update(settled_counts(item))
        if is_open_voted(item):
            total[OPEN_VOTED] += 1
    total.update(VOTES_DAY + day_of(ts) for ts in vote_times)
    return dict(total)


def by_prefix(stats: dict[str, int], prefix: str) -> dict[str, int]:
    """Return the counters named ``prefix<key>`` as ``{key: value}``, leaving out zeros."""
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix) and v}
