"""One trainer pass over a built project, in a fresh interpreter: time per step, peak memory.

Usage (bench/scale/run.py --trainer calls it after building)::

    python bench/scale/trainer_pass.py STORE_URI BLOBS_URI PROJECT [--service DIR]

Runs ``crowdgate.trainer.retrain`` once on PROJECT, as ``crowdgate retrain`` does, and prints
one JSON line: seconds per step (from retrain's own ``progress`` calls, and finer ones timed
by wrapping the module functions each step calls: the full vote model, the gold pool, loading
items and features, the committee fit, pool scoring, the queue refill, the quality check and
the committee labels' write), the peak resident memory of this process (``ru_maxrss``, which
counts numpy and scikit-learn buffers that ``tracemalloc`` would miss) and its resident memory
before the pass, and the model record's counts. A fresh process, so the peak is the trainer's
alone, not the build's or the pages'.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import resource
import sys
import time
from pathlib import Path


def rss_mib() -> float:
    """Return this process's current resident memory in MiB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def mark(steps: list[tuple[str, float]], name: str) -> None:
    """Record the start of step ``name``, and say so on stderr (a long pass shows where it is)."""
    steps.append((name, time.perf_counter()))
    print(f"trainer pass: {name} at RSS {rss_mib()} MiB", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store")
    parser.add_argument("blobs")
    parser.add_argument("project")
    parser.add_argument("--service", type=Path, default=None)
    args = parser.parse_args()
    if args.service is not None:
        sys.path.insert(0, str(args.service.resolve()))

    from crowdgate import consensus, goldpool, trainer
    from crowdgate.committee import Committee
    from crowdgate.store import open_store

    timings: dict[str, float] = {}

    def timed(owner: object, name: str, label: str) -> None:
        """Wrap ``owner.name`` so its wall time adds to ``timings[label]``."""
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*a: object, **kw: object) -> object:
            start = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                timings[label] = timings.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, wrapper)

    # what each named step of retrain calls (the trainer module looks them up at call time)
    timed(consensus, "rerun", "full vote model (consensus.rerun)")
    timed(goldpool, "maintain", "gold pool (goldpool.maintain)")
    timed(trainer, "load_pool", "load items and features")
    timed(Committee, "fit", "committee fit (incl. quality folds)")
    timed(trainer, "score_pool", "pool scoring (score_pool)")
    timed(trainer, "open_progress", "refill: votes so far (open_progress)")
    timed(trainer, "label_queue", "refill: label queues (label_queue)")
    timed(trainer, "_quality", "quality check (_quality, 3-fold CV)")

    store = open_store(args.store, blobs=args.blobs)
    project = store.get_project(args.project)
    timed(store, "set_queue", "refill: queue writes (set_queue)")
    timed(store, "set_committee_labels", "committee labels write")
    steps: list[tuple[str, float]] = []
    rss_before = rss_mib()
    start = time.perf_counter()
    cpu_start = time.process_time()
    record = trainer.retrain(
        store,
        project,
        random_state=0,
        progress=lambda name: mark(steps, name),
    )
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    store.close()
    # a step runs from its own mark to the next one ("done" is the last mark)
    by_step = {name: round(t1 - t0, 2) for (name, t0), (_, t1) in itertools.pairwise(steps)}
    metrics = record["metrics"]
    print(
        json.dumps(
            {
                "total_s": round(total, 2),
                # CPU seconds of this process (all threads): less bent by other load than wall
                "cpu_s": round(cpu, 2),
                "load_avg": [round(x, 2) for x in os.getloadavg()],
                "steps_s": by_step,
                "timed_s": {k: round(v, 2) for k, v in timings.items()},
                "rss_before_mib": rss_before,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "mode": metrics.get("mode"),
                "n_labeled": metrics.get("n_labeled"),
                "n_open": metrics.get("n_open"),
                "consensus": {
                    k: v for k, v in metrics.get("consensus", {}).items() if k != "dropped_voters"
                },
                "gold_pool": metrics.get("gold_pool"),
                "cv_accuracy": metrics.get("cv_accuracy"),
            }
        )
    )


if __name__ == "__main__":
    main()
