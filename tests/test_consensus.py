"""Settle rules that hold against colluders: agreement, the committee check, reopening."""

from __future__ import annotations

import random

import numpy as np
import pytest

from crowdgate import consensus
from crowdgate.aggregation.captcha import GridVoteModel
from crowdgate.models import SETTLED, UNLABELED, Evidence, Project, TokenRecord, Vote
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
    [(None, 3), (0.3, 3), (0.6, 4)],
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


def _settings(store, seeded, **values) -> None:
    project = store.get_project(seeded.project)
    project.settings.update(values)
    store.save_project(project)


@pytest.mark.parametrize(("committee", "settles"), [(None, False), ("circle", True)])
def test_the_committee_counts_as_half_a_vote_for_its_own_label(store, committee, settles):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    _settings(store, seeded, min_votes=2)
    if committee:
        store.update_item(seeded.project, item, committee_label=committee, committee_confidence=0.9)
    # two yes at live_reliability 0.85 over three classes: posterior 0.94, short of 0.95
    settled = _record(store, seeded, item, [("circle", True)] * 2)
    assert bool(settled) is settles


def test_the_committee_never_settles_an_item_alone(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    _settings(store, seeded, min_votes=1)
    store.update_item(seeded.project, item, committee_label="circle", committee_confidence=0.999)
    assert _record(store, seeded, item, [("circle", True)]) == []
    project = store.get_project(seeded.project)
    vote = consensus.committee_vote(project, store.get_item(seeded.project, item), 0.85)
    assert vote.max() == pytest.approx(0.5 * np.log(0.85 / 0.15))


def test_live_votes_are_weighed_by_the_last_full_runs_population_reliability(store):
    seeded = seed_project(store, open_items=2)
    _settings(store, seeded, min_votes=2)
    assert _record(store, seeded, seeded.open[0], [("circle", True)] * 2) == []
    store.put_model(seeded.project, {"metrics": {"consensus": {"live_reliability": 0.97}}})
    consensus._population.clear()
    project = store.get_project(seeded.project)
    assert consensus.population_reliability(store, project) == pytest.approx(0.97)
    settled = _record(store, seeded, seeded.open[1], [("circle", True)] * 2, first=10)
    assert [s.label for s in settled] == ["circle"]


@pytest.mark.parametrize("truth_r", [0.6, 0.8, 0.9, 0.97])
def test_estimate_reliability_recovers_the_crowds_accuracy_from_answers_alone(truth_r):
    rng = random.Random(1)
    labels = ["a", "b", "c", "d"]
    votes = []
    for i in range(400):
        truth = rng.choice(labels)
        for v in range(3):
            asked = truth if rng.random() < 0.5 else rng.choice(labels)
            right = rng.random() < truth_r
            answer = (asked == truth) == right
            votes.append(Vote("p", f"i{i}", asked, answer, f"v{i}-{v}", "n", "c", 1.0, 0.0))
    got = consensus.estimate_reliability(votes, labels, prior=0.85)
    # pairs asked under the true label agree more than chance (p r^2 + ... is not exact when
    # several asks pile on one class), so a poor crowd is read a little better than it is
    assert got == pytest.approx(truth_r, abs=0.08 if truth_r < 0.75 else 0.035)
    assert consensus.estimate_reliability(votes[:1], labels, prior=0.85) == pytest.approx(0.85)


def test_votes_to_settle_counts_the_yes_votes_still_needed():
    w = np.log(0.85 / 0.15)
    logits = np.array([[0.0, 0.0, 0.0], [w, 0.0, 0.0], [2 * w, -w, 0.0]])
    need = consensus.votes_to_settle(
        logits,
        w,
        0.95,
        np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]]),
        np.array([0, 1, 2]),
        min_votes=3,
        min_agreeing=2,
    )
    assert need[:, 0].tolist() == [3, 2, 1]
    assert need[2, 1] > need[0, 1]


def test_votes_to_settle_one_is_the_general_functions_column_bit_for_bit():
    # the live update's one-item, one-class form must give the very same figures
    rng = np.random.default_rng(11)
    for trial in range(3000):
        k = int(rng.integers(2, 12))
        w = float(rng.uniform(0.2, 4))
        logits = rng.normal(0, 3, k) * rng.choice([0.1, 1.0, 5.0])
        if trial % 3 == 0:
            logits = np.round(logits) * w  # whole votes, as live evidence is
        threshold = float(rng.choice([0.9, 0.95, 0.99, rng.uniform(0.5, 0.999)]))
        c = int(rng.integers(k))
        yes = np.zeros((1, k))
        yes[0, c] = int(rng.integers(0, 5))
        voters = int(rng.integers(0, 8))
        rule = {"min_votes": int(rng.integers(1, 5)), "min_agreeing": int(rng.integers(1, 5))}
        general = consensus.votes_to_settle(
            logits[None, :], w, threshold, yes, np.array([voters]), **rule
        )[0, c]
        one = consensus.votes_to_settle_one(logits, w, threshold, yes[0, c], voters, c, **rule)
        assert one == general


def test_live_ranks_lift_started_items_and_drop_refused_and_split_ones():
    project = Project(id="p", name="p", labels=["a", "b", "c"])
    w = consensus.vote_weight(project)
    started = Evidence("started", {"a": w}, 1, 1)
    refused = Evidence("refused", {"b": -w}, 1, 1)
    split = Evidence("split", {"a": 2 * w, "b": 2 * w}, 4, 4)
    ranks = consensus.live_ranks(project, [started, refused, split], 0.85)
    assert ranks["a"]["started"] > consensus.STARTED_RANK - consensus.MAX_LOOKAHEAD
    assert ranks["b"]["refused"] == consensus.DROPPED_RANK
    assert ranks["a"]["split"] == ranks["b"]["split"] == consensus.DROPPED_RANK
    yes = [Vote("p", "x", lab, True, f"v{n}", "n", "c", 1.0, 0.0) for n, lab in enumerate("aabb")]
    assert consensus.is_split(yes) and not consensus.is_split(yes[:3])


def _committee_chosen_questions(seed: int = 0):
    """Grid votes where the committee picked every item's one question (its top label, right
    nine times in ten): nearly all answers are yes, most items have one or two votes."""
    rng = np.random.default_rng(seed)
    k, n = 10, 400
    truth = rng.integers(0, k, n)
    asked = np.where(rng.random(n) < 0.9, truth, rng.integers(0, k, n))
    cols: dict[str, list] = {k: [] for k in ("items", "labels", "answers", "voters", "challenges")}
    for grid in range(60):
        label = int(rng.integers(0, k))
        pool = np.flatnonzero(asked == label)
        for i in rng.choice(pool, min(7, len(pool)), replace=False):
            right = rng.random() < 0.95
            cols["items"].append(f"i{i}")
            cols["labels"].append(str(label))
            cols["answers"].append(bool((truth[i] == label) == right))
            cols["voters"].append(f"v{grid}")
            cols["challenges"].append(f"c{grid}")
    # the committee's capped half vote for the label it asked (consensus.committee_vote)
    half = 0.5 * np.log(0.95 / 0.05)
    evidence = {f"i{i}": {str(asked[i]): half} for i in range(n)}
    return cols, evidence, [str(c) for c in range(k)]


def test_the_committees_reading_keeps_the_full_run_sound_when_it_chose_the_questions():
    cols, evidence, classes = _committee_chosen_questions()
    fit = dict(
        classes=classes,
        gold_score=[1.0] * len(cols["items"]),
        challenges=cols["challenges"],
    )
    args = (cols["items"], cols["labels"], cols["answers"], cols["voters"])
    flat = GridVoteModel(gold_per_grid=5, voter_model="one-coin").fit(*args, **fit)
    informed = GridVoteModel(gold_per_grid=5, voter_model=consensus.LIVE_VOTER_MODEL).fit(
        *args, **fit, item_evidence=evidence
    )
    two = GridVoteModel(gold_per_grid=5, voter_model="auto").fit(
        *args, **fit, item_evidence=evidence
    )
    # a shared class prior alone reads a lone yes as weak, so agreeing voters look unreliable
    assert flat.population_reliability_ < 0.85
    assert informed.population_reliability_ > 0.92
    yes: dict[str, int] = {}
    for item, answer in zip(cols["items"], cols["answers"], strict=True):
        yes[item] = yes.get(item, 0) + int(answer)
    agreed = [row for row, item in enumerate(informed.items_) if yes[str(item)] >= 2]
    assert np.mean(informed.probas_[agreed].max(axis=1) >= 0.95) > 0.95
    # two coins are not identified here: the evidence picks a crowd of yes-sayers (measured 0.15)
    assert np.mean(two.probas_[agreed].max(axis=1) >= 0.95) < 0.5


def test_rerun_does_not_reopen_a_settled_item_whose_votes_all_agree(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    project = store.get_project(seeded.project)
    # one yes from a voter whose gold record says nothing (score 0): the full model's
    # posterior for the label is a third, yet no vote contradicts it
    vote = Vote(seeded.project, item, "circle", True, "voter-0", "net-0", "ch-0", 0.0, 0.0)
    token = TokenRecord("tok-0", seeded.sitekey, "shop.example", seeded.project, 0.0, 1e12)
    store.record_pass(seeded.project, [vote], token, 50)
    store.update_item(seeded.project, item, state=SETTLED, label="circle")
    result = consensus.rerun(store, project, run=3)
    assert result["reopened"] == 0
    assert store.get_item(seeded.project, item).state == SETTLED


@pytest.mark.parametrize("r", [0.85, 0.95])
def test_live_ranks_order_started_items_by_expected_cost_and_retire_the_dearest(r):
    project = Project(id="p", name="p", labels=list("abcdefghij"))
    w = consensus.vote_weight(project)
    cap = consensus.retire_cost(int(project.setting("min_votes")))
    assert cap == 6.0  # a fresh item: 3 agreeing voters, each a yes at least half the time
    # two yes voters and a third voter: at most one more yes settles it, and likely comes
    near = Evidence("near", {"a": 2 * w}, 3, 3)
    # one yes: two more yes votes needed, at P(yes) well below one
    lone = Evidence("lone", {"a": w}, 1, 1)
    # three voters, each said yes to a different class: the favoured class is a guess (P about
    # 0.3), so the next voter is a yes about one time in three: dearer than a fresh item
    three_way = Evidence("three", {"a": w, "b": w, "c": w}, 3, 3)
    ranks = consensus.live_ranks(project, [near, lone, three_way], r)
    assert ranks["a"]["near"] > ranks["a"]["lone"] > consensus.STARTED_RANK - cap
    post = consensus.live_posterior(project, lone.loglik, r)[0]
    need = consensus.STARTED_RANK - ranks["a"]["lone"]
    assert need == pytest.approx(2 / (r * post + (1 - r) * (1 - post)))
    assert ranks["a"]["three"] == consensus.DROPPED_RANK
    assert consensus.expected_cost(np.array([np.inf]), np.array([0.5]), r)[0] == np.inf
