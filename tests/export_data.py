"""A labeled project for export and dashboard tests: gold, settled, committee-only and open."""

from __future__ import annotations

from dataclasses import dataclass

from crowdgate.models import SETTLED
from crowdgate.store import Store
from seed import LABELS, seed_project

DAY = 86_400.0


@dataclass
class Labeled:
    project: str
    #: item id -> (label, source, confidence) of everything an export with machine labels holds
    expected: dict[str, tuple[str, str, float]]
    committee: set[str]
    open_only: set[str]


def labeled_project(store: Store, pid: str = "shapes", open_items: int = 30) -> Labeled:
    """Seed a project, settle a third of the open items, give the committee another third."""
    seeded = seed_project(store, pid=pid, open_items=open_items)
    expected = {item: (label, "gold", 1.0) for item, label in seeded.gold.items()}
    committee: set[str] = set()
    open_only: set[str] = set()
    for k, item in enumerate(seeded.open):
        label = LABELS[(k // 3) % len(LABELS)]
        confidence = round(0.5 + 0.49 * (k % 10) / 9, 4)
        if k % 3 == 0:
            store.update_item(
                pid,
                item,
                state=SETTLED,
                label=label,
                confidence=confidence,
                votes=3 + k % 4,
                settled_at=1_700_000_000.0 + DAY * (k % 5),
            )
            expected[item] = (label, "crowd", confidence)
        elif k % 3 == 1:
            store.set_committee_labels(pid, 2, [(item, label, confidence)])
            expected[item] = (label, "committee", confidence)
            committee.add(item)
        else:
            open_only.add(item)
    store.put_model(pid, {"created_at": 1_700_000_000.0, "metrics": {"cv_accuracy": 0.8}})
    store.put_model(pid, {"created_at": 1_700_086_400.0, "metrics": {"cv_accuracy": 0.9}})
    return Labeled(pid, expected, committee, open_only)
