"""Committee estimator contract, pool scoring and batch selection on real data (digits)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from crowdgate.committee import (
    Committee,
    NotEnoughLabels,
    PoolScores,
    SelectionError,
    candidate_labels,
    cold_start_batch,
    needs_cold_start,
    score_pool,
    select_batch,
    select_queries,
)
from crowdgate.errors import CrowdgateError


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return Committee(random_state=0).fit(X[:300], y[:300])


def _fast_committee(**params) -> Committee:
    return Committee([LogisticRegression(max_iter=500)], n_members=3, **params)


@parametrize_with_checks([_fast_committee(random_state=0), Committee(random_state=0)])
def test_follows_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_fit_returns_self(digits):
    X, y = digits
    committee = _fast_committee(random_state=0)
    assert committee.fit(X[:100], y[:100]) is committee


def test_init_only_stores_arguments():
    templates = [LogisticRegression()]
    committee = Committee(templates, n_members=4, bootstrap=False, random_state=3)
    assert committee.get_params(deep=False) == {
        "estimators": templates,
        "n_members": 4,
        "bootstrap": False,
        "random_state": 3,
    }
    assert not hasattr(committee, "classes_")


def test_same_seed_gives_identical_probabilities(digits, fitted):
    X, y = digits
    again = Committee(random_state=0).fit(X[:300], y[:300])
    assert np.array_equal(fitted.member_proba(X[300:400]), again.member_proba(X[300:400]))


def test_different_seed_gives_different_probabilities(digits, fitted):
    X, y = digits
    other = Committee(random_state=1).fit(X[:300], y[:300])
    assert not np.allclose(fitted.predict_proba(X[300:400]), other.predict_proba(X[300:400]))


def test_fit_and_predict_leave_the_global_random_state_alone(digits):
    X, y = digits
    np.random.seed(12345)
    before = np.random.get_state()
    Committee(random_state=0).fit(X[:200], y[:200]).predict_proba(X[200:260])
    after = np.random.get_state()
    assert before[0] == after[0]
    assert np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_every_member_sees_every_class_even_a_rare_one(digits):
    X, y = digits
    rare = np.flatnonzero(y == 9)[:2]
    rows = np.concatenate([np.flatnonzero(y != 9)[:200], rare])
    committee = Committee(n_members=8, random_state=0).fit(X[rows], y[rows])
    for sample in committee.sample_indices_:
        assert set(y[rows][sample]) == set(range(10))
        assert len(sample) == len(rows)
    assert all(len(member.classes_) == 10 for member in committee.estimators_)


def test_bootstraps_differ_between_members(fitted):
    first, second = fitted.sample_indices_[:2]
    assert not np.array_equal(np.sort(first), np.sort(second))


def test_member_proba_is_aligned_to_string_classes(digits):
    X, y = digits
    names = np.array(["zero", "one", "two"])
    keep = y < 3
    committee = _fast_committee(random_state=0).fit(X[keep][:90], names[y[keep][:90]])
    probas = committee.member_proba(X[keep][90:120])
    assert probas.shape == (3, 30, 3)
    assert np.allclose(probas.sum(axis=2), 1.0)
    assert list(committee.classes_) == ["one", "two", "zero"]
    accuracy = np.mean(committee.predict(X[keep][90:120]) == names[y[keep][90:120]])
    assert accuracy > 0.9


def test_default_committee_is_heterogeneous_and_accurate(digits, fitted):
    X, y = digits
    kinds = {type(member).__name__ for member in fitted.estimators_}
    assert len(kinds) == 5
    assert fitted.score(X[1000:1300], y[1000:1300]) > 0.85


def test_tiny_labeled_set_still_fits_the_default_committee(digits):
    X, y = digits
    rows = [np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0], np.flatnonzero(y == 1)[1]]
    committee = Committee(random_state=0).fit(X[rows], y[rows])
    assert committee.member_proba(X[:5]).shape == (5, 5, 2)


def test_a_single_class_raises_not_enough_labels(digits):
    X, _ = digits
    with pytest.raises(NotEnoughLabels, match="at least two classes") as info:
        Committee(random_state=0).fit(X[:20], np.zeros(20, int))
    assert isinstance(info.value, CrowdgateError)
    assert info.value.code == "not-enough-labels"


# ---- pool scoring -----------------------------------------------------------------------


class _RecordingCommittee(Committee):
    """A real committee that remembers the largest batch it was asked to score."""

    def member_proba(self, X):
        self.largest_batch_ = max(getattr(self, "largest_batch_", 0), len(X))
        return super().member_proba(X)


@pytest.mark.parametrize(
    "measure",
    [
        "vote_entropy",
        "consensus_entropy",
        "mean_kl_divergence",
        "kl_max_disagreement",
        "variation_ratio",
        "margin",
    ],
)
def test_chunked_scoring_equals_one_pass_and_bounds_batches(digits, measure):
    X, y = digits
    committee = _RecordingCommittee([LogisticRegression(max_iter=500)], n_members=3)
    committee.set_params(random_state=0).fit(X[:200], y[:200])
    whole = score_pool(committee, X[200:], measure=measure, chunk_size=len(X))
    committee.largest_batch_ = 0
    chunked = score_pool(committee, X[200:], measure=measure, chunk_size=97)
    assert committee.largest_batch_ == 97
    # equal up to float32 rounding: OpenBLAS may pick another kernel for another batch size
    np.testing.assert_allclose(chunked.scores, whole.scores, rtol=1e-5, atol=1e-6)
    assert np.array_equal(whole.candidates, chunked.candidates)
    assert chunked.scores.dtype == np.float32


def test_pool_scores_carry_top_two_labels_and_confidence(digits, fitted):
    X, _ = digits
    pool = score_pool(fitted, X[300:500])
    assert isinstance(pool, PoolScores)
    assert pool.candidates.shape == (200, 2)
    consensus = fitted.predict_proba(X[300:500])
    assert np.array_equal(pool.candidates[:, 0], fitted.predict(X[300:500]))
    assert np.allclose(pool.confidence, consensus.max(axis=1), atol=1e-6)
    assert (pool.candidates[:, 0] != pool.candidates[:, 1]).all()


def test_random_measure_is_the_seeded_baseline(digits, fitted):
    X, _ = digits
    first = score_pool(fitted, X[:50], measure="random", random_state=4)
    second = score_pool(fitted, X[:50], measure="random", random_state=4)
    assert np.array_equal(first.scores, second.scores)
    assert len(np.unique(first.scores)) == 50


def test_memmapped_pool_is_scored(tmp_path, digits, fitted):
    X, _ = digits
    path = tmp_path / "pool.f32"
    mapped = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mapped[:] = X
    pool = score_pool(fitted, mapped, chunk_size=256)
    assert np.array_equal(pool.scores, score_pool(fitted, X, chunk_size=256).scores)


def test_unknown_measure_is_refused(digits, fitted):
    X, _ = digits
    with pytest.raises(SelectionError, match="Unknown measure 'entropy'"):
        score_pool(fitted, X[:10], measure="entropy")


def test_candidate_labels_are_ordered_best_first():
    proba = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    assert candidate_labels(proba).tolist() == [[1, 2], [0, 2]]


# ---- batch selection --------------------------------------------------------------------


@pytest.mark.parametrize("diversity", ["kmeans", "none"])
def test_batch_never_holds_near_duplicates(digits, diversity):
    X, _ = digits
    base = X[:60]
    pool = np.concatenate([base, base + 0.01])
    scores = np.concatenate([np.linspace(1, 0.5, 60), np.linspace(1, 0.5, 60)])
    picks = select_batch(pool, scores, 9, diversity=diversity, random_state=0)
    unit = pool[picks] / np.linalg.norm(pool[picks], axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, 0)
    assert len(picks) == 9
    assert similarity.max() <= 0.98


def test_without_diversity_the_most_disputed_come_first(digits):
    X, _ = digits
    scores = np.arange(len(X), dtype=float)
    picks = select_batch(X, scores, 5, diversity="none", duplicate_threshold=None)
    assert picks.tolist() == list(range(len(X) - 1, len(X) - 6, -1))


def test_kmeans_diversity_picks_from_the_shortlist(digits):
    X, _ = digits
    scores = np.arange(len(X), dtype=float)
    picks = select_batch(X, scores, 6, random_state=0)
    assert len(set(picks)) == 6
    assert picks.min() >= len(X) - 6 * 4


def test_grid_label_prefers_items_where_it_is_a_top_two_candidate(digits, fitted):
    X, _ = digits
    pool = score_pool(fitted, X[300:])
    picks = select_batch(
        X[300:], pool.scores, 9, candidates=pool.candidates, label=7, random_state=0
    )
    assert len(picks) == 9
    assert all(7 in pool.candidates[i] for i in picks)


def test_backfill_completes_a_batch_when_few_items_are_candidates():
    X = np.eye(12)
    candidates = np.array([[0, 1]] * 2 + [[2, 3]] * 10)
    picks = select_batch(X, np.ones(12), 5, candidates=candidates, label=0, random_state=0)
    assert sorted(picks[:2]) == [0, 1]
    assert len(picks) == 5


def test_ineligible_items_are_never_picked(digits):
    X, _ = digits
    eligible = np.zeros(len(X), bool)
    eligible[::7] = True
    picks = select_batch(X, np.ones(len(X)), 9, eligible=eligible, random_state=0)
    assert eligible[picks].all()


def test_same_seed_same_batch_and_ties_rotate_between_seeds(digits):
    X, _ = digits
    scores = np.ones(len(X))
    first = select_batch(X, scores, 9, random_state=1)
    assert np.array_equal(first, select_batch(X, scores, 9, random_state=1))
    assert not np.array_equal(first, select_batch(X, scores, 9, random_state=2))


def test_label_without_candidates_is_refused(digits):
    X, _ = digits
    with pytest.raises(SelectionError, match="without candidates"):
        select_batch(X, np.ones(len(X)), 3, label=1)


# ---- cold start -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [([], True), ([1] * 20, True), ([0, 1] * 4, True), ([0, 1] * 5, False)],
    ids=["empty", "one_class", "too_few", "enough"],
)
def test_needs_cold_start(labels, expected):
    assert needs_cold_start(np.array(labels), min_labels=10) is expected


def test_cold_start_covers_the_classes_better_than_chance(digits):
    X, y = digits
    covered = [len(set(y[cold_start_batch(X, 10, random_state=s)])) for s in range(5)]
    assert all(len(cold_start_batch(X, 10, random_state=s)) == 10 for s in range(2))
    # Ten uniform draws cover about 6.5 of the 10 digits on average.
    assert np.mean(covered) >= 8


def test_select_queries_falls_back_to_cold_start_and_is_seeded(digits, fitted):
    X, _ = digits
    one_class = np.zeros(30, int)
    picks = select_queries(X, one_class, 9, committee=fitted, random_state=5)
    assert np.array_equal(picks, cold_start_batch(X, 9, random_state=5))
    assert np.array_equal(picks, select_queries(X, one_class, 9, random_state=5))


def test_select_queries_uses_the_committee_once_labels_suffice(digits, fitted):
    X, y = digits
    picks = select_queries(X[300:], y[:300], 9, committee=fitted, label=3, random_state=0)
    pool = score_pool(fitted, X[300:])
    assert len(picks) == 9
    assert all(3 in pool.candidates[i] for i in picks)
    assert np.median(pool.scores[picks]) > np.median(pool.scores)
