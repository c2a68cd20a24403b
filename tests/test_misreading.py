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
