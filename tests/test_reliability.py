"""Voters whose answers are no evidence: judged on open items against the other voters."""

from __future__ import annotations

import random

import pytest

from crowdgate import consensus
from crowdgate.models import SETTLED, UNLABELED, TokenRecord, Vote
from crowdgate.reliability import dropped, estimate_reliability, voter_discounts
from seed import seed_project

LABELS = [str(d) for d in range(10)]


def _answer(kind: str, asked: str, truth: str, rng: random.Random) -> bool:
    if kind == "echo":  # selects every open tile: a yes to whatever is asked
        return True
    if kind == "random":
        return rng.random() < 0.5
    if kind == "colluder":  # all claim the next class
        return asked == LABELS[(LABELS.index(truth) + 1) % len(LABELS)]
    slip = 0.15 if kind == "sloppy" else 0.03
    return (asked == truth) != (rng.random() < slip)


def _crowd(mix: dict[str, int], items: int, seed: int = 0) -> list[Vote]:
    """Return votes of a crowd asked, as the committee asks, mostly under the true label."""
    rng = random.Random(seed)
    voters = [f"{kind}-{n}" for kind, count in mix.items() for n in range(count)]
    votes = []
    for i in range(items):
        truth = rng.choice(LABELS)
        asked = truth if rng.random() < 0.89 else rng.choice(LABELS)
        for voter in rng.sample(voters, 3):
            answer = _answer(voter.split("-")[0], asked, truth, rng)
            votes.append(Vote("p", f"i{i}", asked, answer, voter, voter, "c", 1.0, 0.0))
    return votes


def _kinds(share: dict[str, float]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for voter, s in share.items():
        out.setdefault(voter.split("-")[0], []).append(s)
    return out


@pytest.mark.parametrize("bad", ["echo", "colluder"])
def test_voters_who_echo_the_question_or_collude_are_found_from_open_items_alone(bad):
    votes = _crowd({"careful": 48, "sloppy": 6, bad: 6}, items=1500)
    share = voter_discounts(votes, LABELS, estimate_reliability(votes, LABELS, 0.85))
    kinds = _kinds(share)
    assert max(kinds[bad]) < 0.5  # every one of them is left out
    assert min(kinds["careful"]) > 0.5
    # a voter wrong one time in seven whose slips happen to be yes to false questions looks
    # like an echo on ~75 answers: the data hardly tell them apart, so one may go
    assert sum(s > 0.5 for s in kinds["sloppy"]) >= 5
    assert {v for v in dropped(share) if not v.startswith("sloppy")} == {
        v for v in share if v.startswith(bad)
    }


def test_a_clean_crowd_loses_no_voter():
    votes = _crowd({"careful": 54, "sloppy": 6}, items=300)
    share = voter_discounts(votes, LABELS, estimate_reliability(votes, LABELS, 0.85))
    assert len(share) == 60 and dropped(share) == set()


def test_a_voter_no_other_voter_can_judge_is_not_scored():
    votes = [Vote("p", "i0", "1", True, "lone", "n", "c", 1.0, 0.0)]
    votes += [Vote("p", "i1", "1", a, v, v, "c", 1.0, 0.0) for v, a in [("a", True), ("b", True)]]
    assert set(voter_discounts(votes, LABELS, 0.9)) == {"a", "b"}


def _vote(store, seeded, item: str, voter: str, answer: bool = True):
    """Record one passed grid of ``voter`` answering ``item`` under "circle"; apply it live."""
    project = store.get_project(seeded.project)
    weight = consensus.vote_weight(project)
    vote = Vote(
        seeded.project,
        item,
        "circle",
        answer,
        voter,
        f"net-{voter}",
        f"ch-{voter}-{item}",
        1.0,
        0.0,
        weight if answer else -weight,
    )
    token = TokenRecord(
        f"t-{voter}-{item}", seeded.sitekey, "shop.example", seeded.project, 0, 1e12
    )
    evidence = store.record_pass(seeded.project, [vote], token, 50)
    return consensus.apply_live(store, project, evidence)


def test_live_settle_ignores_the_votes_of_voters_the_full_run_left_out(store):
    seeded = seed_project(store, open_items=2)
    project = store.get_project(seeded.project)
    project.settings.update(min_votes=2)
    store.save_project(project)
    store.put_model(
        seeded.project,
        {"metrics": {"consensus": {"live_reliability": 0.95, "dropped_voters": ["echo"]}}},
    )
    consensus._population.clear()
    first, second = seeded.open
    for voter in ["echo", "a"]:
        assert _vote(store, seeded, first, voter) == []  # two yes voters, but one is no evidence
    assert store.get_item(seeded.project, first).state == UNLABELED
    assert [s.label for s in _vote(store, seeded, first, "b")] == ["circle"]
    _vote(store, seeded, second, "a")
    assert [s.label for s in _vote(store, seeded, second, "b")] == ["circle"]
    assert store.get_item(seeded.project, second).state == SETTLED


def test_the_full_run_leaves_an_echo_voter_out_of_the_fit_and_the_settle_rule(store):
    seeded = seed_project(store, open_items=31)
    project = store.get_project(seeded.project)
    project.settings.update(min_votes=2, skip_uninformative=True)
    store.save_project(project)
    # items 0-29 asked under "circle"; every third is a circle (seed_project's shapes); three
    # honest voters answer right, the echo bot says yes to every one
    for k, item in enumerate(seeded.open[:30]):
        for voter in [f"h{(k + j) % 9}" for j in range(3)]:
            _vote(store, seeded, item, voter, answer=k % 3 == 0)
        _vote(store, seeded, item, "echo")
    last = seeded.open[30]
    _vote(store, seeded, last, "echo")
    _vote(store, seeded, last, "h0")
    for item in seeded.open:  # what the live rule settled before any full run is redone
        store.update_item(seeded.project, item, state=UNLABELED, label=None, consensus_by=None)
    result = consensus.rerun(store, project, run=2)
    assert result["dropped_voters"] == ["echo"]
    assert store.get_item(seeded.project, last).state == UNLABELED  # one honest yes only
    settled = [store.get_item(seeded.project, i) for i in seeded.open[:30]]
    assert {i.label for i in settled if i.state == SETTLED} == {"circle"}
