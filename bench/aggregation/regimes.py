"""Generalization check: our aggregators on simulated crowds of regimes the shared sets lack.

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/regimes.py --seeds 3

Each regime draws tasks, a class prior and workers from a stated process (nothing here is
fitted to a data folder) and scores every method on all tasks, mean over seeds. The regimes:
sparse workers with 1 to 3 answers, one answer per task, 30% spammers, 10 classes, heavy class
imbalance (95/5), dense workers with class-specific confusions, and shared errors (two
prolific workers who fall for the same look-alike items, the shape of ``act_zencrowd_us``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from crowdgate.aggregation import AGGREGATORS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from results import write_section  # bench/results.py


def shared_errors_crowd(rng: np.random.Generator, n_tasks: int = 600) -> tuple[list, dict]:
    """Six workers answer every task of two classes (30% are 1s); errors are independent except
    that on a third of the 0s (look-alikes) workers 0 and 1 (right 85% of the time elsewhere;
    the others 75%) both say 1 nine times in ten."""
    truth = (rng.random(n_tasks) < 0.3).astype(int)
    lookalike = (truth == 0) & (rng.random(n_tasks) < 0.3)
    rows = []
    for t, z in enumerate(truth):
        for w in range(6):
            if w < 2 and lookalike[t]:
                label = int(rng.random() < 0.9)
            else:
                label = z if rng.random() < (0.85 if w < 2 else 0.75) else 1 - z
            rows.append((f"t{t}", f"w{w}", str(label)))
    return rows, {f"t{t}": str(z) for t, z in enumerate(truth)}


def crowd(rng: np.random.Generator, regime: str) -> tuple[list, dict]:
    """Return ``(answers, truth)`` of one simulated crowd of ``regime``."""
    if regime == "shared-errors":
        return shared_errors_crowd(rng)
    n_tasks, k, per_task = 600, 3, 5
    prior = np.full(k, 1.0 / k)
    spam, confusing = 0.0, False
    answers_per_worker = lambda: int(rng.integers(20, 200))  # noqa: E731
    if regime == "sparse-1-3":
        answers_per_worker = lambda: int(rng.integers(1, 4))  # noqa: E731
    elif regime == "one-per-task":
        per_task = 1
    elif regime == "spammers-30%":
        spam = 0.3
    elif regime == "10-classes":
        k = 10
        prior = np.full(k, 0.1)
    elif regime == "imbalance-95/5":
        k, prior = 2, np.array([0.95, 0.05])
    elif regime == "class-confusions":
        confusing = True
    truth = rng.choice(k, n_tasks, p=prior)
    slots = np.repeat(np.arange(n_tasks), per_task)
    rng.shuffle(slots)
    rows, w, used = [], 0, 0
    while used < len(slots):
        n = min(answers_per_worker(), len(slots) - used)
        acc = rng.uniform(0.55, 0.95)
        is_spam = rng.random() < spam
        # A confusing worker mistakes each class for the next one with their own rate.
        swap = rng.uniform(0.0, 0.6) if confusing else 0.0
        for t in np.unique(slots[used : used + n]):
            z = truth[t]
            if is_spam:
                label = int(rng.integers(k))
            elif confusing:
                label = (z + 1) % k if rng.random() < swap else z
            elif rng.random() < acc:
                label = z
            else:
                label = int(rng.choice([c for c in range(k) if c != z]))
            rows.append((f"t{t}", f"w{w}", str(label)))
        used += n
        w += 1
    return rows, {f"t{t}": str(z) for t, z in enumerate(truth)}


REGIMES = (
    "sparse-1-3",
    "one-per-task",
    "spammers-30%",
    "10-classes",
    "imbalance-95/5",
    "class-confusions",
    "shared-errors",
)


def main(argv: list[str] | None = None) -> str:
    """Print a markdown table of mean accuracy per method and regime; return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write-results", action="store_true", help="Update bench/RESULTS.md.")
    args = parser.parse_args(argv)
    acc = {m: {r: [] for r in REGIMES} for m in AGGREGATORS}
    for regime in REGIMES:
        for seed in range(args.seeds):
            rows, truth = crowd(np.random.default_rng(seed), regime)
            keys = sorted(truth)
            want = np.asarray([truth[t] for t in keys])
            for name, cls in AGGREGATORS.items():
                model = cls().fit(rows)
                acc[name][regime].append(float(np.mean(model.predict(keys) == want)))
    head = "| method | " + " | ".join(REGIMES) + " | mean |\n|---|" + "---|" * (len(REGIMES) + 1)
    lines = [f"Simulated crowds, accuracy on all tasks, mean of {args.seeds} seeds:", "", head]
    for name in AGGREGATORS:
        means = [np.mean(acc[name][r]) for r in REGIMES]
        cells = " | ".join(f"{m:.4f}" for m in means)
        lines.append(f"| {name} | {cells} | {np.mean(means):.4f} |")
    text = "\n".join(lines)
    print(text)
    if args.write_results:
        command = f"python bench/aggregation/regimes.py --seeds {args.seeds} --write-results"
        heading = "## Aggregation: simulated regimes"
        write_section(f"{heading}\n\nCommand: `{command}`\n\n{text}\n", heading)
    return text


if __name__ == "__main__":
    main()
