"""Time and memory to score a 100,000 x 256 float32 pool with a five-member committee.

Fits crowdgate's default committee (logistic regression, extra-trees, k-NN, Gaussian naive Bayes,
random forest) on 2,000 labeled rows of 10 synthetic classes, then scores the pool with
crowdgate's chunked ``score_pool`` and with scikit-activeml's ``QueryByCommittee`` on the same
fitted members (benchmark-only dependency: ``pip install scikit-activeml``). Peak memory is the
extra memory traced by ``tracemalloc`` during scoring, on top of the pool itself.

Usage: python bench/committee_scale/run.py [--pool 100000] [--dim 256] [--measure vote_entropy]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification

from crowdgate.committee import Committee, score_pool

SKACTIVEML_METHOD = {"vote_entropy": "vote_entropy", "mean_kl_divergence": "KL_divergence"}


def _measure(func: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def _skactiveml_scorer(
    committee: Committee, X_lab, y_lab, X_pool, method: str
) -> Callable[[], np.ndarray]:
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import QueryByCommittee

    classes = np.arange(len(committee.classes_))
    y_index = np.searchsorted(committee.classes_, y_lab)
    members = []
    for member, rows in zip(committee.estimators_, committee.sample_indices_, strict=True):
        # Same template, seed and bootstrap rows as crowdgate's member, so the models match.
        wrapped = SklearnClassifier(clone(member), classes=classes, random_state=0)
        members.append(wrapped.fit(X_lab[rows], y_index[rows]))

    def run() -> np.ndarray:
        X = np.concatenate([X_lab, X_pool])
        y = np.concatenate([y_index.astype(float), np.full(len(X_pool), np.nan)])
        qbc = QueryByCommittee(method=method, random_state=0)
        _, utilities = qbc.query(
            X, y, ensemble=members, fit_ensemble=False, batch_size=9, return_utilities=True
        )
        return utilities[0, len(X_lab) :]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--labeled", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=None, help="rows per call (default: auto)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs of each")
    parser.add_argument("--measure", default="vote_entropy", choices=sorted(SKACTIVEML_METHOD))
    args = parser.parse_args()

    X, y = make_classification(
        n_samples=args.labeled + args.pool,
        n_features=args.dim,
        n_informative=32,
        n_classes=10,
        n_clusters_per_class=2,
        random_state=0,
    )
    X = X.astype(np.float32)
    X_lab, y_lab, X_pool = X[: args.labeled], y[: args.labeled], X[args.labeled :]
    del X

    started = time.perf_counter()
    committee = Committee(random_state=0).fit(X_lab, y_lab)
    fit_seconds = time.perf_counter() - started

    def ours_run() -> np.ndarray:
        return score_pool(committee, X_pool, measure=args.measure, chunk_size=args.chunk).scores

    theirs_run = _skactiveml_scorer(
        committee, X_lab, y_lab, X_pool, SKACTIVEML_METHOD[args.measure]
    )
    # Alternate the two (ABAB...) and keep each one's best time: on a shared machine the
    # minimum is the least disturbed run, and alternation spreads drift over both.
    our_times, their_times = [], []
    for _ in range(args.repeats):
        ours, our_s, our_mb = _measure(ours_run)
        theirs, their_s, their_mb = _measure(theirs_run)
        our_times.append(our_s)
        their_times.append(their_s)
    our_s, their_s = min(our_times), min(their_times)
    agreement = np.corrcoef(ours, theirs)[0, 1]

    print(
        f"pool {args.pool} x {args.dim} float32 ({X_pool.nbytes / 2**20:.0f} MiB), "
        f"{len(committee.estimators_)} members fit on {args.labeled} labels in "
        f"{fit_seconds:.1f} s, measure {args.measure}, chunk {args.chunk or 'auto'}, "
        f"best of {args.repeats} alternating runs each"
    )
    print("| scorer | seconds | peak extra memory (MiB) |")
    print("| --- | --- | --- |")
    print(f"| crowdgate score_pool | {our_s:.1f} | {our_mb:.0f} |")
    print(f"| scikit-activeml QueryByCommittee | {their_s:.1f} | {their_mb:.0f} |")
    print(f"| ratio skactiveml / crowdgate | {their_s / our_s:.2f}x | {their_mb / our_mb:.2f}x |")
    print(f"score correlation between the two: {agreement:.4f}")


if __name__ == "__main__":
    main()
