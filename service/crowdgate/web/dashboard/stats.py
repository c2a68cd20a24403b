"""The numbers behind a project page, read from the store's counters (no scan of the project)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...models import GOLD, SETTLED, UNLABELED, Project
from ...store import Store
from ...store.counters import (
    CLASS,
    CONFIDENCE,
    CONFIDENCE_BINS,
    OPEN_VOTED,
    SETTLED_DAY,
    VOTES_DAY,
    by_prefix,
)

__all__ = ["CONFIDENCE_BINS", "ProjectStats", "project_stats"]


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
    """Return a project's statistics from one read of its counters and one of its models."""
    stats = store.get_stats(project.id)
    in_progress = stats.get(OPEN_VOTED, 0)
    counts = {
        "unlabeled": stats.get(f"state:{UNLABELED}", 0) - in_progress,
        "in progress": in_progress,
        "settled": stats.get(f"state:{SETTLED}", 0),
        "gold": stats.get(f"state:{GOLD}", 0),
    }
    per_class = {label: 0 for label in project.labels}
    per_class.update(by_prefix(stats, CLASS))
    bins = [0] * CONFIDENCE_BINS
    for key, n in by_prefix(stats, CONFIDENCE).items():
        bins[int(key)] = n
    running = 0
    cumulative = []
    for day, n in sorted(by_prefix(stats, SETTLED_DAY).items()):
        running += n
        cumulative.append((day, running))
    issued = stats.get("challenges_issued", 0)
    passed = stats.get("challenges_passed", 0)
    list_models = getattr(store, "list_models", None)
    return ProjectStats(
        counts=counts,
        per_class=per_class,
        settled_by_day=cumulative,
        confidence_bins=bins,
        votes_by_day=sorted(by_prefix(stats, VOTES_DAY).items()),
        pass_rate=passed / issued if issued else None,
        challenges={
            "issued": issued,
            "passed": passed,
            "failed": stats.get("challenges_failed", 0),
        },
        models=list_models(project.id) if list_models is not None else [],
    )
