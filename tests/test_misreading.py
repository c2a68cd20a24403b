"""The misreading prior: agreeing votes are bounded evidence against a confident committee."""

from __future__ import annotations

import numpy as np
import pytest

from crowdgate import consensus, manage
from crowdgate.committee_vote import MISREAD_PRIOR, committee_check, misread_likelihood
from crowdgate.models import UNLABELED, Item, Project
from seed import LABELS, seed_project
from test_consensus import _record


def _project() -> Project:
    return Project(id="p", name="p", labels=list(LABELS), settings=manage.validate_settings({}))


def _item(label: str | None, conf: float | None) -> Item:
    return Item(project="p", id="x", filename="x", committee_label=label, committee_confidence=conf)


@pytest.mark.parametrize("k", [3, 10])
def test_however_many_votes_agree_they_favour_their_class_by_a_bounded_ratio(k):
    crowd = np.full(k, 1e-30)
    crowd[0] = 1.0  # the votes' independent posterior: overwhelming for class 0
    likelihood = misread_likelihood(crowd / crowd.sum())
    bound = (1 - MISREAD_PRIOR) * (k - 1) / MISREAD_PRIOR
    assert likelihood[0] / likelihood[1] == pytest.approx(bound, rel=1e-6)


@pytest.mark.parametrize(
    ("label", "conf"),
    [(None, None), ("circle", 0.99), ("square", 0.49)],
    ids=["no-committee", "committee-agrees", "committee-unsure"],
)
def test_the_prior_leaves_the_posterior_alone_unless_a_confident_committee_reads_otherwise(
    label, conf
):
    posterior = np.array([0.97, 0.02, 0.01])
    out = committee_check(_project(), _item(label, conf), posterior)
    assert np.array_equal(out, posterior)


def test_a_committee_sure_of_another_class_is_never_outweighed_by_agreeing_votes(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    store.update_item(seeded.project, item, committee_label="square", committee_confidence=0.9)
    assert _record(store, seeded, item, [("circle", True)] * 20) == []
    project = store.get_project(seeded.project)
    consensus.rerun(store, project, run=1)
    assert store.get_item(seeded.project, item).state == UNLABELED


def test_a_committee_barely_sure_of_another_class_yields_to_four_agreeing_votes(store):
    seeded = seed_project(store, open_items=1)
    item = seeded.open[0]
    store.update_item(seeded.project, item, committee_label="square", committee_confidence=0.55)
    assert _record(store, seeded, item, [("circle", True)] * 3) == []
    settled = _record(store, seeded, item, [("circle", True)], first=3)
    assert [s.label for s in settled] == ["circle"]


@pytest.mark.parametrize(("conf", "outweighed"), [(0.49, True), (0.6, True), (0.7, False)])
def test_votes_can_outweigh_a_committee_only_up_to_a_confidence_the_prior_sets(conf, outweighed):
    assert consensus.votes_can_outweigh(_project(), conf) is outweighed


def test_an_item_votes_cannot_settle_against_its_committee_drops_to_the_bottom_of_its_queue(
    store,
):
    seeded = seed_project(store, open_items=2)
    blocked, other = seeded.open
    store.set_queue(seeded.project, "circle", [(blocked, 10.0), (other, 5.0)])
    store.update_item(seeded.project, blocked, committee_label="square", committee_confidence=0.9)
    assert _record(store, seeded, blocked, [("circle", True)] * 4) == []
    # without the drop the live update lifts a started item to the top of its queue
    assert store.pick_queue(seeded.project, "circle", 1, top_k=1, vote_cap=100) == [other]


def test_the_trainers_queue_leaves_out_labels_the_committee_rules_out():
    from crowdgate import trainer
    from crowdgate.committee import PoolScores

    project = _project()
    n = 6
    pool = trainer.Pool(
        [], np.zeros((0, 4)), np.zeros(0), np.zeros(0, bool), [], np.random.rand(n, 4)
    )
    scored = PoolScores(
        scores=np.linspace(1.0, 0.0, n).astype(np.float32),
        candidates=np.array([["circle", "square"]] * n, dtype=object),
        confidence=np.full(n, 0.6, np.float32),
        classes=np.array(project.labels, dtype=object),
        measure="vote_entropy",
    )
    started = np.zeros((n, 3), bool)
    started[[1, 4], 0] = True
    blocked = np.zeros((n, 3), bool)
    blocked[[2, 4], 0] = True  # item 4 started on circle, item 2 fresh: both ruled out
    progress = trainer.Progress(
        split=np.zeros(n, bool),
        started=started,
        refused=np.zeros((n, 3), bool),
        cost=np.full((n, 3), 3.0),
        blocked=blocked,
    )
    order = trainer.label_queue(project, pool, scored, progress, "circle", 0).tolist()
    assert order[0] == 1 and set(order) == {0, 1, 3, 5}


def test_the_outweigh_limit_is_where_votes_stop_outweighing_the_committee():
    limit = consensus.outweigh_limit(_project())
    assert consensus.votes_can_outweigh(_project(), limit)
    assert not consensus.votes_can_outweigh(_project(), limit + 1e-6)
