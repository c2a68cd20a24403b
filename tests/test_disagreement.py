"""Disagreement measures against values computed by hand (natural logarithms, in nats)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdgate.committee import (
    MEASURES,
    InvalidProbabilities,
    consensus_entropy,
    kl_max_disagreement,
    margin,
    mean_kl_divergence,
    random_scores,
    variation_ratio,
    vote_entropy,
)
from crowdgate.errors import CrowdgateError

# Three confident members, two voting class 0 and one class 1.
TWO_AGAINST_ONE = np.array([[[1.0, 0.0]], [[1.0, 0.0]], [[0.0, 1.0]]])
# Three members agreeing on the same soft distribution.
SOFT_AGREEMENT = np.array([[[0.7, 0.3]]] * 3)
# Two members over three classes, each torn between two classes (argmax ties go to the first).
OVERLAPPING_TIES = np.array([[[0.5, 0.5, 0.0]], [[0.0, 0.5, 0.5]]])

H_TWO_THIRDS = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))  # 0.636514
H_SOFT = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3))  # 0.610864
H_QUARTERS = -(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5))  # 1.039721

CASES = {
    "two_against_one": TWO_AGAINST_ONE,
    "soft_agreement": SOFT_AGREEMENT,
    "overlapping_ties": OVERLAPPING_TIES,
}
EXPECTED = {
    vote_entropy: (H_TWO_THIRDS, 0.0, math.log(2)),
    consensus_entropy: (H_TWO_THIRDS, H_SOFT, H_QUARTERS),
    # KL((1,0) || (2/3,1/3)) = ln 1.5 for two members and KL((0,1) || ...) = ln 3 for one.
    mean_kl_divergence: ((2 * math.log(1.5) + math.log(3)) / 3, 0.0, 0.5 * math.log(2)),
    kl_max_disagreement: (math.log(3), 0.0, 0.5 * math.log(2)),
    variation_ratio: (1 / 3, 0.0, 0.5),
}
HAND_COMPUTED = [
    pytest.param(measure, CASES[case], value, id=f"{measure.__name__}-{case}")
    for measure, values in EXPECTED.items()
    for case, value in zip(CASES, values, strict=True)
]


@pytest.mark.parametrize(("measure", "probas", "expected"), HAND_COMPUTED)
def test_measure_matches_hand_computed_value(measure, probas, expected):
    assert measure(probas) == pytest.approx([expected], abs=1e-12)


def test_agreement_scores_exactly_positive_zero():
    score = vote_entropy(SOFT_AGREEMENT)[0]
    assert score == 0.0
    assert math.copysign(1.0, score) == 1.0


@pytest.mark.parametrize(
    ("proba", "expected"),
    [
        ([[0.6, 0.3, 0.1]], 0.7),
        ([[0.5, 0.5]], 1.0),
        ([[1.0, 0.0]], 0.0),
        ([[0.1, 0.2, 0.3, 0.4]], 0.9),
    ],
    ids=["three_classes", "tie", "certain", "four_classes_unsorted"],
)
def test_margin_is_one_minus_top_two_gap(proba, expected):
    assert margin(np.array(proba)) == pytest.approx([expected])


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_every_committee_measure_maps_members_to_one_score_per_sample(name):
    rng = np.random.RandomState(0)
    probas = rng.dirichlet(np.ones(4), size=(5, 30))
    scores = MEASURES[name](probas)
    assert scores.shape == (30,)
    assert np.isfinite(scores).all()
    assert (scores >= 0).all()


def test_vote_entropy_is_bounded_by_log_of_members_or_classes():
    rng = np.random.RandomState(1)
    probas = rng.dirichlet(np.ones(10), size=(3, 500))
    assert vote_entropy(probas).max() <= math.log(3) + 1e-12


def test_measures_rank_disputed_sample_above_agreed_one():
    probas = np.concatenate([SOFT_AGREEMENT, TWO_AGAINST_ONE], axis=1)
    for name, measure in MEASURES.items():
        if name == "consensus_entropy":
            continue  # soft agreement at 0.7/0.3 is genuinely uncertain for the consensus
        scores = measure(probas)
        assert scores[1] > scores[0], name


@pytest.mark.parametrize(
    "bad",
    [np.ones((3, 2)) / 2, np.array([[[1.2, -0.2]]]), np.array([[[np.nan, 1.0]]])],
    ids=["two_dimensional", "out_of_range", "nan"],
)
def test_invalid_member_probas_raise_a_crowdgate_error(bad):
    with pytest.raises(InvalidProbabilities, match="robabilit") as info:
        vote_entropy(bad)
    assert isinstance(info.value, CrowdgateError)
    assert info.value.code == "invalid-probabilities"


def test_margin_needs_two_classes():
    with pytest.raises(InvalidProbabilities, match="at least two"):
        margin(np.ones((4, 1)))


def test_random_scores_are_seeded_uniform_and_leave_global_state_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first, second = random_scores(1000, 3), random_scores(1000, 3)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, random_scores(1000, 4))
    assert first.shape == (1000,)
    assert first.min() >= 0.0 and first.max() < 1.0
    assert np.array_equal(np.random.get_state()[1], before)
