"""EBCC's item subtypes and the default's check for correlated errors (issue 11)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from crowdgate.aggregation import (
    BayesianDawidSkene,
    CorrelationCheckedDawidSkene,
    MajorityVote,
    SubtypeClassifierCombination,
)
from crowdgate.aggregation import ebcc as ebcc_module
from crowdgate.aggregation import sparse as sparse_module


def crowd(seed: int, *, correlated: bool, n_tasks: int = 600):
    """Six workers answer every task of two classes (30% are 1s).

    Workers ``w0`` and ``w1`` are right 85% of the time and the other four 75%, each
    independently, except that with ``correlated`` a third of the 0s are look-alikes on which
    ``w0`` and ``w1`` both say 1 nine times in ten: the shape of ``act_zencrowd_us``, where
    two prolific workers share false positives.
    """
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_tasks) < 0.3).astype(int)
    lookalike = (truth == 0) & (rng.random(n_tasks) < 0.3)
    rows = []
    for t, z in enumerate(truth):
        for w in range(6):
            if w < 2 and correlated and lookalike[t]:
                y = int(rng.random() < 0.9)
            else:
                y = z if rng.random() < (0.85 if w < 2 else 0.75) else 1 - z
            rows.append((f"t{t}", f"w{w}", str(y)))
    return rows, {f"t{t}": str(z) for t, z in enumerate(truth)}


def accuracy(model, truth) -> float:
    keys = sorted(truth)
    return float(np.mean(model.predict(keys) == np.asarray([truth[k] for k in keys])))


def test_shared_false_positives_are_caught_and_beat_majority_vote():
    rows, truth = crowd(0, correlated=True)
    independent = BayesianDawidSkene().fit(rows)
    checked = CorrelationCheckedDawidSkene().fit(rows)
    # The independent model reads the two workers' shared mistakes as 1s (measured: bds
    # 0.753, majority vote 0.877, the checked model 0.933 at 31 nats for subtypes).
    assert accuracy(independent, truth) < accuracy(MajorityVote().fit(rows), truth)
    assert checked.correlated_ > 0.99
    assert checked.evidence_["subtypes"] > checked.evidence_["one subtype"] + 10
    assert accuracy(checked, truth) >= 0.92


def test_independent_errors_keep_the_bayesian_dawid_skene():
    rows, _ = crowd(0, correlated=False)
    checked = CorrelationCheckedDawidSkene().fit(rows)
    assert checked.correlated_ < 0.01
    np.testing.assert_allclose(checked.probas_, BayesianDawidSkene().fit(rows).probas_, atol=0.01)


def test_restarts_keep_the_fit_with_the_largest_evidence():
    rows, _ = crowd(2, correlated=True)
    # The first restart draws the same split as a single fit with the same seed.
    first = SubtypeClassifierCombination(n_restarts=1).fit(rows)
    best = SubtypeClassifierCombination(n_restarts=3).fit(rows)
    assert best.evidence_ >= first.evidence_
    assert len(best.loss_history_) > 1


def test_dropping_empty_subtypes_does_not_change_the_fit(monkeypatch):
    rows, _ = crowd(1, correlated=True, n_tasks=200)
    # Both to a tight tolerance: at the default 1e-6 a fit stops up to 5e-4 short of its fixed
    # point, and the accelerated pruned and full fits stop after different updates.
    pruned = SubtypeClassifierCombination(tol=1e-9).fit(rows)
    monkeypatch.setattr(ebcc_module, "PRUNE_MASS", 0.0)
    full = SubtypeClassifierCombination(tol=1e-9).fit(rows)
    np.testing.assert_allclose(pruned.probas_, full.probas_, atol=1e-4)


def test_accelerated_updates_reach_the_plain_fixed_point_in_fewer_updates():
    rows, _ = crowd(1, correlated=True, n_tasks=200)
    # Measured: 146 plain updates and 75 accelerated ones, 1.1e-6 apart.
    plain = SubtypeClassifierCombination(tol=1e-9, accelerate=False).fit(rows)
    fast = SubtypeClassifierCombination(tol=1e-9).fit(rows)
    np.testing.assert_allclose(fast.probas_, plain.probas_, atol=1e-5)
    assert fast.evidence_ == pytest.approx(plain.evidence_, abs=1e-6)
    assert len(fast.loss_history_) < 0.7 * len(plain.loss_history_)


def test_float32_updates_stay_within_what_the_tolerance_leaves(monkeypatch):
    rows, _ = crowd(0, correlated=True)
    fast = SubtypeClassifierCombination().fit(rows)  # the default tolerance: float32 arrays
    monkeypatch.setattr(ebcc_module, "FLOAT32_TOL", float("inf"))
    exact = SubtypeClassifierCombination().fit(rows)
    fixed_point = SubtypeClassifierCombination(tol=1e-10, n_iter=5000).fit(rows)
    # Measured: float32 moves the fit 2.9e-5 from float64's, which the default tolerance
    # stops 3.1e-3 short of its fixed point (float32's fit likewise 3.1e-3).
    assert fast.labels_.tolist() == exact.labels_.tolist()
    np.testing.assert_allclose(fast.probas_, exact.probas_, atol=1e-4)
    assert np.abs(exact.probas_ - fixed_point.probas_).max() > 1e-3
    assert fast.evidence_ == pytest.approx(exact.evidence_, abs=1e-4)
    np.testing.assert_allclose(fast.probas_.sum(axis=1), 1.0, rtol=1e-12)


def test_subtype_posterior_sums_to_the_class_posterior_and_gold_is_clamped():
    rows, _ = crowd(1, correlated=True, n_tasks=100)
    model = SubtypeClassifierCombination().fit(rows, gold={"t0": "1", "t1": "0"})
    np.testing.assert_allclose(model.subtype_probas_.sum(axis=2), model.probas_)
    assert model.predict(["t0", "t1"]).tolist() == ["1", "0"]
    np.testing.assert_allclose(model.probas_.sum(axis=1), 1.0)


@pytest.mark.parametrize("x", [1e-4, 0.1, 0.5, 1.0, 2.5, 6.9, 7.0, 40.0, 1e5])
def test_digamma_is_the_derivative_of_log_gamma(x):
    from crowdgate.aggregation.evidence import digamma

    h = 1e-5 * max(x, 1e-3)
    slope = (math.lgamma(x + h) - math.lgamma(x - h)) / (2 * h)
    assert float(digamma(np.array([x]))[0]) == pytest.approx(slope, rel=1e-6, abs=1e-6)


def test_one_subtype_turns_the_check_off():
    rows, _ = crowd(0, correlated=True, n_tasks=200)
    checked = CorrelationCheckedDawidSkene(n_subtypes=1).fit(rows)
    assert checked.correlated_ == 0.0
    np.testing.assert_allclose(checked.probas_, BayesianDawidSkene().fit(rows).probas_)


def test_many_classes_fit_with_fewer_subtypes():
    from crowdgate.aggregation.bdsc import MAX_STATES

    rng = np.random.default_rng(0)
    rows = [(f"t{t}", f"w{w}", str(rng.integers(60))) for t in range(100) for w in range(3)]
    checked = CorrelationCheckedDawidSkene().fit(rows)
    assert checked.submodels_["subtypes"].n_subtypes == max(2, MAX_STATES // 60) == 2
    np.testing.assert_allclose(checked.probas_.sum(axis=1), 1.0)


def test_grouped_sums_equal_a_sum_per_answer():
    rng = np.random.default_rng(3)
    # Repeated (index, row) pairs: a worker who answered a task twice counts twice.
    index, rows = rng.integers(0, 7, 50), rng.integers(0, 9, 50)
    table = rng.random((9, 5))
    expected = np.zeros((8, 5))
    np.add.at(expected, index, table[rows])
    grouping = ebcc_module.Grouping(index, rows, 8)
    for width in (5, 3, 5):  # the active states shrink between calls
        np.testing.assert_allclose(grouping.sums(table[:, :width]), expected[:, :width])
    assert grouping.sums(table[:, :0]).shape == (8, 0)


def test_grouped_sums_through_scipy_sparse_equal_the_loaded_kernels(monkeypatch):
    rng = np.random.default_rng(4)
    index, rows = rng.integers(0, 30, 400), rng.integers(0, 12, 400)
    table, part = rng.random((12, 7)), rng.random((30, 7))
    expected = np.zeros((12, 7))
    np.add.at(expected, rows, part[index])
    assert sparse_module.matvecs_kernels() is not None
    results = []
    for kernels in ("loaded", None):
        if kernels is None:
            monkeypatch.setattr(sparse_module, "_kernels", None)
        grouping = sparse_module.Grouping(index, rows, 30)
        sums, back = grouping.sums(table), grouping.transposed_sums(part, 12)
        np.testing.assert_allclose(back, expected, rtol=1e-12)
        back32 = grouping.transposed_sums(part.astype(np.float32), 12)
        assert back32.dtype == np.float32
        np.testing.assert_allclose(back32, expected, rtol=1e-5)
        results.append(sums)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-14)
    with pytest.raises(ValueError, match="needs 12"):
        sparse_module.Grouping(index, rows, 30).sums(table[:11])


def test_a_subtype_fit_does_not_import_scipy():
    # scipy's CSR loop is loaded on its own: importing scipy.sparse costs about 0.15 s of CPU,
    # a tenth of the whole command on the largest shared set (bench/RESULTS.md, s11-agg).
    code = (
        "import sys; from crowdgate.aggregation import CorrelationCheckedDawidSkene; "
        "rows = [(f't{i}', f'w{j}', str((i + j) % 2)) for i in range(30) for j in range(4)]; "
        "CorrelationCheckedDawidSkene().fit(rows); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'sklearn'))); "
        # and scipy imported afterwards finds its own module as usual
        "import scipy.sparse; print(scipy.sparse._sparsetools.csr_matvecs is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "True"]


@pytest.mark.parametrize("shape", [(4, 6, 5), (7,), ()])
def test_digamma_and_log_gamma_of_a_transposed_array_match_its_copy(shape):
    from crowdgate.aggregation.evidence import digamma, log_gamma

    x = np.random.default_rng(0).random(shape) * 12 + 1e-3
    for f in (digamma, log_gamma):
        expected = np.vectorize(lambda v, f=f: float(f(np.array([v]))[0]))(x)
        np.testing.assert_allclose(f(x.T), expected.T, rtol=1e-13)
