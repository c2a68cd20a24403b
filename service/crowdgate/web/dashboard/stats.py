"""The numbers behind a project page, read from the store in one streaming pass."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...models import GOLD, SETTLED, UNLABELED, Project
from ...store import Store

CONFIDENCE_BINS = 10


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


@dataclass
class ProjectStats:
    """Counts by state, settled labels per class and per day, confidences, votes, models."""

    counts: dict[str, int]
    per_class: dict[str, int]
    settled_by_day: list[tuple[str, int]]
    confidence_bins: list[int]
    votes_by_day: list[tuple[str, int]]
    pass_rate: float | None
    challenges: dict[str, int]
    models: list[dict[str, Any]] = field(default_factory=list)


def project_stats(store: Store, project: Project) -> ProjectStats:
    """Return a project's statistics; cost is one pass over its items and one over its votes."""
    counts = {"unlabeled": 0, "in progress": 0, "settled": 0, "gold": 0}
    per_class: Counter[str] = Counter({label: 0 for label in project.labels})
    settled_days: Counter[str] = Counter()
    bins = [0] * CONFIDENCE_BINS
    for item in store.iter_items(project.id):
        if item.state == UNLABELED:
            counts["in progress" if item.votes else "unlabeled"] += 1
        elif item.state == GOLD:
            counts["gold"] += 1
        elif item.state == SETTLED:
            counts["settled"] += 1
            if item.label is not None:
                per_class[item.label] += 1
            if item.settled_at:
                settled_days[_day(item.settled_at)] += 1
            if item.confidence is not None:
                bins[min(CONFIDENCE_BINS - 1, int(item.confidence * CONFIDENCE_BINS))] += 1
    votes = Counter(_day(v.ts) for v in store.list_votes(project.id))
    stats = store.get_stats(project.id)
    issued = stats.get("challenges_issued", 0)
    passed = stats.get("challenges_passed", 0)
    running = 0
    cumulative = []
    for day, n in sorted(settled_days.items()):
        running += n
        cumulative.append((day, running))
    list_models = getattr(store, "list_models", None)
    return ProjectStats(
        counts=counts,
        per_class=dict(per_class),
        settled_by_day=cumulative,
        confidence_bins=bins,
        votes_by_day=sorted(votes.items()),
        pass_rate=passed / issued if issued else None,
        challenges={
            "issued": issued,
            "passed": passed,
            "failed": stats.get("challenges_failed", 0),
        },
        models=list_models(project.id) if list_models is not None else [],
    )
