"""Label efficiency of selection strategies on scikit-learn's digits, offline (no service).

Each strategy starts from an empty labeled set and asks for batches of 10 pool items; after each
batch one logistic regression is fit on all labels so far and scored on a held-out test split.
The table gives, per strategy, the median (and range) over seeds of the labels needed to reach
the target test accuracy, and the mean accuracy at fixed budgets.

Committee strategies use a five-member logistic-regression committee on class-stratified
bootstraps and start with one diverse cold-start batch; "margin" is a single logistic regression;
"random" picks uniformly from the start.

Usage: python bench/committee_offline/run.py [--seeds 10] [--target 0.9] [--budget 300]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from crowdgate.committee import Committee, select_queries

BATCH = 10
CHECKPOINTS = (50, 100, 150, 200)

# name: (measure, diversity, committee size); None measure means uniform random picks.
STRATEGIES: dict[str, tuple[str | None, str, int]] = {
    "random": (None, "none", 0),
    "vote_entropy+kmeans (default)": ("vote_entropy", "kmeans", 5),
    "vote_entropy": ("vote_entropy", "none", 5),
    "consensus_entropy+kmeans": ("consensus_entropy", "kmeans", 5),
    "mean_kl_divergence+kmeans": ("mean_kl_divergence", "kmeans", 5),
    "variation_ratio+kmeans": ("variation_ratio", "kmeans", 5),
    "margin (single LR)": ("margin", "none", 1),
}


def _learner(seed: int) -> LogisticRegression:
    return LogisticRegression(max_iter=2000, random_state=seed)


def run_strategy(name: str, seed: int, target: float, budget: int) -> tuple[int | None, dict]:
    """Return labels to reach ``target`` (None if never within ``budget``) and checkpoint accs."""
    measure, diversity, n_members = STRATEGIES[name]
    X, y = load_digits(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    rng = np.random.RandomState(seed)
    labeled = np.zeros(len(y_pool), bool)
    reached, accuracy_at = None, {}
    while labeled.sum() < budget:
        unlabeled = ~labeled
        if measure is None:
            picks = rng.choice(np.flatnonzero(unlabeled), size=BATCH, replace=False)
        else:
            committee = None
            y_known = y_pool[labeled]
            if len(np.unique(y_known)) >= 2:
                template = _learner(seed)
                committee = Committee(
                    [template], n_members=n_members, bootstrap=n_members > 1, random_state=rng
                ).fit(X_pool[labeled], y_known)
            picks = select_queries(
                X_pool,
                y_known,
                BATCH,
                committee=committee,
                measure=measure,
                diversity=diversity,
                eligible=unlabeled,
                random_state=rng,
            )
        labeled[picks] = True
        n = int(labeled.sum())
        if len(np.unique(y_pool[labeled])) < 2:
            continue
        accuracy = _learner(seed).fit(X_pool[labeled], y_pool[labeled]).score(X_test, y_test)
        if n in CHECKPOINTS:
            accuracy_at[n] = accuracy
        if reached is None and accuracy >= target:
            reached = n
            if n >= max(CHECKPOINTS):
                break
    return reached, accuracy_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--only", nargs="*", default=None, help="strategy names to run")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    names = args.only or list(STRATEGIES)
    header = (
        f"| strategy | labels to {args.target:.0%} (median) | range | "
        + " | ".join(f"acc@{c}" for c in CHECKPOINTS)
        + " |"
    )
    print(header)
    print("|" + " --- |" * (3 + len(CHECKPOINTS)))
    for name in names:
        started = time.perf_counter()
        results = [run_strategy(name, seed, args.target, args.budget) for seed in range(args.seeds)]
        needed = [r if r is not None else np.inf for r, _ in results]
        median = np.median(needed)
        accs = [np.mean([a[c] for _, a in results if c in a] or [np.nan]) for c in CHECKPOINTS]
        shown = f">{args.budget}" if np.isinf(median) else f"{median:.0f}"
        low, high = min(needed), max(needed)
        span = f"{low:.0f}-{high:.0f}".replace("inf", f">{args.budget}")
        print(
            f"| {name} | {shown} | {span} | "
            + " | ".join(f"{a:.3f}" for a in accs)
            + f" |  <!-- {time.perf_counter() - started:.0f}s -->",
            flush=True,
        )


if __name__ == "__main__":
    main()
