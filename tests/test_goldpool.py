"""The gold pool: promotion of sure settled items, retirement of over-served gold, its clock."""

from __future__ import annotations

from collections import Counter

import pytest

from crowdgate import goldpool, manage
from crowdgate.export.records import SOURCE_GOLD, ExportOptions, record_of
from crowdgate.models import GOLD, SETTLED, Item, Project, TokenRecord, Vote
from crowdgate.store import decoys
from seed import LABELS, seed_project


def _project(**settings: object) -> Project:
    return Project(
        id="p", name="p", labels=list(LABELS), settings=manage.validate_settings(settings)
    )


def _vote(item: str, label: str, answer: bool, n: int, network: str | None = None) -> Vote:
    return Vote(
        project="p",
        item=item,
        label=label,
        answer=answer,
        voter=f"v{n}",
        network=network or f"n{n}",
        challenge=f"c{n}",
        gold_score=1.0,
        ts=0.0,
    )


def _settled(label: str = "circle", committee: str | None = "circle", conf: float = 0.99) -> Item:
    return Item(
        project="p",
        id="x",
        filename="x.png",
        state=SETTLED,
        label=label,
        committee_label=committee,
        committee_confidence=conf if committee else None,
    )


def test_unanimous_distinct_voters_make_a_sure_item_promotable():
    votes = [_vote("x", "circle", True, n) for n in range(3)]
    assert goldpool.promotable(_project(), _settled(), votes, reliability=0.97)


def test_a_single_dissenting_vote_blocks_promotion():
    votes = [_vote("x", "circle", True, n) for n in range(5)] + [_vote("x", "circle", False, 9)]
    assert not goldpool.promotable(_project(), _settled(), votes, reliability=0.97)


def test_yes_voters_from_one_network_cannot_promote():
    votes = [_vote("x", "circle", True, n, network="same") for n in range(5)]
    assert not goldpool.promotable(_project(), _settled(), votes, reliability=0.97)


def test_promotion_needs_the_crowd_posterior_to_reach_the_threshold():
    votes = [_vote("x", "circle", True, n) for n in range(3)]
    # three votes of a 0.85-reliable crowd leave the label at about 0.986 < 0.995
    assert not goldpool.promotable(_project(), _settled(), votes, reliability=0.85)
    assert goldpool.promotable(
        _project(promote_threshold=0.98), _settled(), votes, reliability=0.85
    )


@pytest.mark.parametrize("committee,conf", [(None, None), ("square", 0.99), ("circle", 0.6)])
def test_the_committee_may_veto_promotion_never_make_it(committee, conf):
    sure = [_vote("x", "circle", True, n) for n in range(3)]
    # the committee must read the crowd's label confidently, or the item stays settled
    assert not goldpool.promotable(_project(), _settled(committee=committee, conf=conf), sure, 0.97)
    # and a confident committee never promotes what the crowd alone is unsure of
    unsure = [_vote("x", "circle", True, n) for n in range(2)]
    assert not goldpool.promotable(_project(), _settled(), unsure, 0.97)
    assert goldpool.promotable(_project(), _settled(), sure, 0.97)


def _gold(i: int, known: str, decoy: str, since: float = 0.0) -> Item:
    return Item(
        project="p",
        id=f"g{i}",
        filename=f"g{i}.png",
        state=GOLD,
        known_label=known,
        label=known,
        decoy=decoy,
        gold_exposure=since,
    )


def test_over_served_gold_retires_in_mirrored_decoy_pairs():
    gold = [_gold(i, "circle", "square") for i in range(3)]
    gold += [_gold(10 + i, "square", "circle") for i in range(2)]
    gold += [
        _gold(20 + i, k, "triangle" if k != "triangle" else "circle", 90.0)
        for i, k in enumerate(["circle", "square", "triangle"] * 3)
    ]
    out = goldpool.retirements(gold, clock=100.0, after=50.0, floor=1, most=10)
    pairs = [(i.known_label, i.decoy) for i in out]
    # the mirrored pairs go together, and the one unmatched (circle, square) with them
    assert pairs.count(("circle", "square")) == 3 and pairs.count(("square", "circle")) == 2
    assert all(i.gold_exposure == 0.0 for i in out)  # the newer gold (10 servings) stays


def test_retirement_keeps_the_floor_per_class_and_the_budget():
    gold = [_gold(i, "circle", "square") for i in range(4)]
    gold += [_gold(10 + i, "square", "circle") for i in range(4)]
    assert len(goldpool.retirements(gold, 100.0, 50.0, floor=3, most=10)) == 2
    assert len(goldpool.retirements(gold, 100.0, 50.0, floor=0, most=3)) == 2
    assert goldpool.retirements(gold, 40.0, 50.0, floor=0, most=10) == []


def test_an_unmatched_surplus_pair_may_retire_alone():
    gold = [_gold(i, "circle", "square") for i in range(3)] + [_gold(9, "square", "circle")]
    out = goldpool.retirements(gold, 100.0, 50.0, floor=0, most=1)
    assert [(i.known_label, i.decoy) for i in out] == [("circle", "square")]


def _settle_with_votes(store, pid: str, item: str, label: str, voters: int) -> list[Vote]:
    """Record ``voters`` agreeing votes on ``item`` (through record_pass) and settle it."""
    votes = []
    for n in range(voters):
        vote = Vote(
            project=pid,
            item=item,
            label=label,
            answer=True,
            voter=f"voter-{n}",
            network=f"net-{n}",
            challenge=f"{pid}.{item[:12]}-c{n}",
            gold_score=1.0,
            ts=1.0,
        )
        token = TokenRecord(
            token=f"{pid}.{item[:12]}-{n}",
            sitekey="sk",
            hostname="h",
            project=pid,
            challenge_ts=0.0,
            expires_at=1e12,
        )
        store.record_pass(pid, [vote], token, 100, 100)
        votes.append(vote)
    store.set_committee_labels(pid, 1, [(item, label, 0.99)])
    store.update_item(pid, item, state=SETTLED, label=label, confidence=0.98, consensus_by="live")
    return votes


def test_maintain_promotes_a_sure_settled_item_and_gives_it_a_decoy(store):
    seeded = seed_project(store, open_items=3)
    before = store.gold_labels(seeded.project)["square"]
    _settle_with_votes(store, seeded.project, seeded.open[0], "square", 12)
    _settle_with_votes(store, seeded.project, seeded.open[1], "square", 1)
    project = store.get_project(seeded.project)
    done = goldpool.maintain(store, project)
    assert done["promoted"] == 1
    got = store.get_item(seeded.project, seeded.open[0])
    assert got.state == GOLD and got.known_label == "square" and got.label == "square"
    assert got.decoy in LABELS and got.decoy != "square"
    assert got.consensus_by.startswith(goldpool.PROMOTED_BY)
    assert store.gold_labels(seeded.project)["square"] == before + 1
    assert store.get_item(seeded.project, seeded.open[1]).state == SETTLED
    # the new gold is drawn by grids under its class and under its decoy
    sets = store.gold_sets(seeded.project)
    assert sets["square"][0] == before + 1 and sum(m for _, m in sets.values()) == 13


def test_promotion_is_off_when_the_project_says_so(store):
    seeded = seed_project(store, open_items=3)
    _settle_with_votes(store, seeded.project, seeded.open[0], "square", 12)
    project = store.get_project(seeded.project)
    project.settings["promote_to_gold"] = False
    store.save_project(project)
    assert goldpool.maintain(store, project)["promoted"] == 0
    assert store.get_item(seeded.project, seeded.open[0]).state == SETTLED


def test_the_serving_clock_counts_answered_grids_over_the_active_gold(store):
    seeded = seed_project(store, open_items=3)  # 12 gold
    project = store.get_project(seeded.project)
    k = int(project.setting("gold_per_grid"))
    store.incr_stats(seeded.project, challenges_passed=30, challenges_failed=10)
    assert goldpool.maintain(store, project)["clock"] == pytest.approx(40 * k / 12, abs=1e-3)
    # a second pass with no new grids leaves it
    assert goldpool.maintain(store, project)["clock"] == pytest.approx(40 * k / 12, abs=1e-3)


def _imbalance(pairs: dict[tuple[str, str], int]) -> int:
    return sum(abs(n - pairs.get((b, a), 0)) for (a, b), n in pairs.items())


def test_retired_gold_stops_grading_but_stays_labeled_and_exported_as_gold(store):
    seeded = seed_project(store, gold_per_label=4, open_items=3)
    project = store.get_project(seeded.project)
    project.settings.update(gold_per_grid=2, grid_size=4, retire_after_serves=10)
    store.save_project(project)
    # two promotions pay for two retirements; the imported gold is served 60 x 2 / 12 = 10
    _settle_with_votes(store, seeded.project, seeded.open[0], "square", 12)
    _settle_with_votes(store, seeded.project, seeded.open[1], "circle", 12)
    store.incr_stats(seeded.project, challenges_passed=60)
    done = goldpool.maintain(store, project)
    assert done["promoted"] == 2 and done["retired"] == 2
    assert done["active_gold"] == 12
    retired = [
        i for i in store.list_items(seeded.project, state=GOLD, limit=100) if i.known_label is None
    ]
    assert len(retired) == 2
    # retiring never unbalances the (class, decoy) pairs: as even as before it, or more
    after = decoys.pairs_of(store.get_stats(seeded.project))
    before = Counter(after)
    before.update((i.label, i.decoy) for i in retired)
    assert _imbalance(after) <= _imbalance(before)
    for item in retired:
        assert seeded.gold[item.id] == item.label
        record = record_of(item, ExportOptions())
        assert record is not None and record.source == SOURCE_GOLD
        assert record.label == seeded.gold[item.id]
    drawn = store.sample_gold(seeded.project, {lab: 100 for lab in LABELS})
    assert not {i.id for i in retired} & {x for ids in drawn.values() for x in ids}
    assert sum(store.gold_labels(seeded.project).values()) == 12


def test_retirement_never_shrinks_the_pool_without_promotion(store):
    seeded = seed_project(store, gold_per_label=4, open_items=3)
    project = store.get_project(seeded.project)
    project.settings.update(retire_after_serves=1)
    store.save_project(project)
    store.incr_stats(seeded.project, challenges_passed=1000)
    assert goldpool.maintain(store, project)["retired"] == 0
    assert sum(store.gold_labels(seeded.project).values()) == 12


def test_new_projects_take_six_gold_and_promotion_but_no_retirement_by_default():
    settings = manage.validate_settings({})
    assert settings["gold_per_grid"] == 6 and settings["grid_size"] - 6 >= 5
    assert settings["promote_to_gold"] is True and settings["retire_after_serves"] == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "50", True, 2_000_000])
def test_retire_after_serves_must_be_a_whole_number_in_range(bad):
    from crowdgate.errors import BadRequest

    with pytest.raises(BadRequest) as err:
        manage.validate_settings({"retire_after_serves": bad})
    assert err.value.code == "invalid-settings"


def test_retire_after_serves_zero_never_retires(store):
    seeded = seed_project(store, gold_per_label=4, open_items=3)
    project = store.get_project(seeded.project)
    project.settings.update(gold_per_grid=2, grid_size=4, retire_after_serves=0)
    store.save_project(project)
    _settle_with_votes(store, seeded.project, seeded.open[0], "square", 12)
    store.incr_stats(seeded.project, challenges_passed=10_000)
    done = goldpool.maintain(store, project)
    assert done["promoted"] == 1 and done["retired"] == 0


def test_gold_ids_pages_through_every_gold_item_retired_ones_included(store):
    seeded = seed_project(store, gold_per_label=4, open_items=3)
    some = next(iter(seeded.gold))
    store.update_item(seeded.project, some, known_label=None)  # retired: still gold
    ids = goldpool.gold_ids(store, seeded.project, batch=5)
    assert sorted(ids) == sorted(seeded.gold) and len(ids) == len(set(ids))
