"""EBCC with float32 and float64 arrays on a large simulated crowd, and against its fixed point.

At the default tolerance EBCC keeps its (items x states) arrays in float32 (``FLOAT32_TOL``
in ``aggregation/ebcc.py``). This simulates a crowd with prolific workers (so the per-worker
sums run over thousands of answers, where float32 accumulates the most error) and 20 of them
sharing false positives on look-alike 0s, fits one EBCC restart with float32 and with float64
arrays at the default tolerance, and the float64 fit to tolerance 1e-10 (the fixed point),
and prints labels moved and the largest posterior difference between them, the evidence
difference, accuracy against the simulated truth and CPU seconds.

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/precision.py [--tasks 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from crowdgate.aggregation import SubtypeClassifierCombination, ebcc


def crowd(n_tasks: int, n_workers: int, per_task: int, seed: int):
    """Return the answer columns and the truth of a simulated crowd (stated process, no data)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_tasks) < 0.3).astype(int)
    lookalike = (truth == 0) & (rng.random(n_tasks) < 0.2)
    skill = rng.uniform(0.6, 0.9, n_workers)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    workers = np.concatenate(
        [rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)]
    )
    right = rng.random(len(tasks)) < skill[workers]
    labels = np.where(right, truth[tasks], 1 - truth[tasks])
    # The first 20 workers say 1 on nine in ten look-alike 0s: correlated errors.
    shared = lookalike[tasks] & (workers < 20) & (rng.random(len(tasks)) < 0.9)
    labels = np.where(shared, 1, labels)
    return (tasks.astype(str), workers.astype(str), labels.astype(str)), truth


def main() -> None:
    """Print the three fits' comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--per-task", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    columns, truth = crowd(args.tasks, args.workers, args.per_task, args.seed)
    fits = {}
    default = ebcc.FLOAT32_TOL
    for name, limit, tol in (
        ("float32", default, 1e-6),
        ("float64", float("inf"), 1e-6),
        ("fixed point", float("inf"), 1e-10),
    ):
        ebcc.FLOAT32_TOL = limit
        start = time.process_time()
        model = SubtypeClassifierCombination(tol=tol, n_iter=5000).fit(*columns)
        fits[name] = (model, time.process_time() - start)
    ebcc.FLOAT32_TOL = default
    order = np.argsort(fits["float32"][0].tasks_.astype(int))
    size = f"{len(columns[0])} answers, {args.tasks} tasks, {args.workers} workers"
    print(f"{size}, seed {args.seed}")
    print("")
    print(
        "| fit | updates | CPU s | accuracy | labels moved / max posterior diff vs float64 "
        "| vs fixed point | evidence - float64's |"
    )
    print("|---|---|---|---|---|---|---|")
    base, fixed = fits["float64"][0], fits["fixed point"][0]
    for name, (model, cpu) in fits.items():
        accuracy = float(np.mean(model.labels_.astype(int)[order] == truth))
        cells = []
        for other in (base, fixed):
            moved = int((model.labels_ != other.labels_).sum())
            cells.append(f"{moved} / {np.abs(model.probas_ - other.probas_).max():.1e}")
        print(
            f"| {name} | {len(model.loss_history_)} | {cpu:.2f} | {accuracy:.4f} | {cells[0]} "
            f"| {cells[1]} | {model.evidence_ - base.evidence_:+.3f} |"
        )


if __name__ == "__main__":
    main()
