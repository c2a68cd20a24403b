"""Settle rules that hold against colluders: agreement, the committee check, reopening."""

from __future__ import annotations

import pytest

from crowdgate import consensus
from crowdgate.aggregation.captcha import GridVoteModel
from crowdgate.models import SETTLED, UNLABELED, TokenRecord, Vote
from seed import seed_project


def _record(store, seeded, item: str, answers: list[tuple[str, bool]], first: int = 0):
    """Store one passed challenge per ``(label, answer)``, each from its own voter and network."""
    project = store.get_project(seeded.project)
    weight = consensus.vote_weight(project)
    evidence = []
    for n, (label, answer) in enumerate(answers, start=first):
        vote = Vote(
            project=seeded.project,
            item=item,
            label=label,
            answer=answer,
            voter=f"voter-{n}",
            network=f"net-{n}",
            challenge=f"ch-{n}",
            gold_score=1.0,
            ts=float(n),
            weight=weight if answer else -weight,
        )
        token = TokenRecord(f"tok-{n}", seeded.sitekey, "shop.example", seeded.project, 0.0, 1e12)
        evidence = store.record_pass(seeded.project, [vote], token, 50)
    return consensus.apply_live(store, project, evidence)


def test_no_answers_alone_do_not_settle_an_item(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    answers = [("circle", True), ("square", False), ("triangle", False), ("square", False)]
    assert _record(store, seeded, item, answers) == []
    assert store.get_item(seeded.project, item).state == UNLABELED
    assert _record(store, seeded, item, [("circle", True)], first=4)[0].label == "circle"


@pytest.mark.parametrize(
    ("committee_confidence", "yes_needed"),
    [(None, 3), (0.3, 3), (0.9, 4)],
    ids=["no-committee", "unsure-committee", "confident-committee"],
)
def test_a_confident_committee_reading_another_class_needs_more_agreeing_votes(
    store, committee_confidence, yes_needed
):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    if committee_confidence is not None:
        store.update_item(
            seeded.project,
            item,
            committee_label="square",
            committee_confidence=committee_confidence,
        )
    for n in range(yes_needed - 1):
        assert _record(store, seeded, item, [("circle", True)], first=n) == []
    settled = _record(store, seeded, item, [("circle", True)], first=yes_needed - 1)
    assert [s.label for s in settled] == ["circle"]


def test_rerun_reopens_a_settled_item_that_later_votes_contradict(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    project = store.get_project(seeded.project)
    _record(store, seeded, item, [("circle", True)] * 3)
    assert store.get_item(seeded.project, item).state == SETTLED
    store.update_item(seeded.project, item, state=UNLABELED)
    _record(store, seeded, item, [("circle", False)] * 3 + [("square", True)], first=3)
    store.update_item(seeded.project, item, state=SETTLED, label="circle")
    result = consensus.rerun(store, project, run=7)
    got = store.get_item(seeded.project, item)
    assert result["reopened"] == 1 and result["relabeled"] == 0
    assert got.state == UNLABELED and got.label is None
    assert got.consensus_by == "reopened-em-7"
    assert len(store.list_votes(seeded.project, item)) == 7
    assert _record(store, seeded, item, [("circle", True)] * 3, first=7) == []
    assert store.get_item(seeded.project, item).state == UNLABELED


def _colluded_votes() -> dict[str, list]:
    """Five honest voters and one colluder who passes gold but says no to every true class."""
    cols: dict[str, list] = {k: [] for k in ("items", "labels", "answers", "voters", "gold")}
    for i in range(30):
        truth = "ab"[i % 2]
        for v in range(6):
            colluder = v == 5
            cols["items"].append(f"item-{i}")
            cols["labels"].append(truth)
            cols["answers"].append(not colluder)
            cols["voters"].append(f"voter-{v}")
            cols["gold"].append(1.0)
    return cols


@pytest.mark.parametrize("gold_strength", [None, 6.0], ids=["gold-as-votes", "gold-as-prior"])
def test_gold_strength_judges_colluders_by_their_unknown_answers(gold_strength):
    cols = _colluded_votes()
    model = GridVoteModel(gold_strength=gold_strength).fit(
        cols["items"],
        cols["labels"],
        cols["answers"],
        cols["voters"],
        classes=["a", "b"],
        gold_score=cols["gold"],
        challenges=[f"{v}-{i}" for i, v in zip(cols["items"], cols["voters"], strict=True)],
    )
    colluder, honest = model.reliability_["voter-5"], model.reliability_["voter-0"]
    assert honest > 0.95
    if gold_strength is None:
        assert colluder > 0.6
    else:
        assert colluder == pytest.approx(0.5)
    items = [f"item-{i}" for i in range(30)]
    assert model.predict(items).tolist() == ["a", "b"] * 15
