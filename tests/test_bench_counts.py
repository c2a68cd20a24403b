"""What the benches count as settled labels: every label the crowd settled, promoted ones too."""

from __future__ import annotations

from crowdgate import goldpool
from crowdgate.models import GOLD, SETTLED
from crowdgate.simulate.harness import crowd_settled
from seed import seed_project
from test_goldpool import _settle_with_votes


def _all_items(store, pid: str) -> list[dict]:
    return [i.to_dict() for i in store.list_items(pid, limit=1000)]


def test_a_label_promoted_to_gold_still_counts_as_settled_and_imported_gold_never(store):
    seeded = seed_project(store, open_items=4)
    _settle_with_votes(store, seeded.project, seeded.open[0], "square", 12)
    _settle_with_votes(store, seeded.project, seeded.open[1], "circle", 1)
    project = store.get_project(seeded.project)
    assert goldpool.maintain(store, project)["promoted"] == 1
    assert store.get_item(seeded.project, seeded.open[0]).state == GOLD
    assert store.get_item(seeded.project, seeded.open[1]).state == SETTLED

    counted = {i["id"]: i["label"] for i in crowd_settled(_all_items(store, seeded.project))}

    # the promoted item and the settled one; none of the imported gold, nor the open items
    assert counted == {seeded.open[0]: "square", seeded.open[1]: "circle"}
    assert not set(counted) & set(seeded.gold)
