"""Run crowd-kit's classification aggregators on crowd datasets; print labels and timings as JSON.

Runs under the interpreter that has crowd-kit (see ``run.py``); crowdgate itself never imports
crowd-kit or pandas. Usage: ``python crowdkit_worker.py REPEATS DATASET_DIR...``; set
``CROWDKIT_METHODS=DawidSkene,GLAD`` to run only some methods (their outputs can be merged).
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa

METHODS = {
    "MajorityVote": MajorityVote,
    "Wawa": Wawa,
    "DawidSkene": lambda: DawidSkene(n_iter=100),
    "OneCoinDawidSkene": lambda: OneCoinDawidSkene(n_iter=100),
    "GLAD": GLAD,
    "MACE": lambda: MACE(random_state=0),
}


def run(folder: Path, repeats: int) -> dict[str, dict[str, object]]:
    """Return ``{method: {"seconds", "cpu_seconds", "labels": {task: label}}}`` for one folder.

    Both times are the best of the runs: wall clock, and CPU time of this process (what the fit
    costs when the machine is shared).
    """
    answers = pd.read_csv(folder / "answers.csv", dtype=str)[["task", "worker", "label"]]
    out: dict[str, dict[str, object]] = {}
    wanted = os.environ.get("CROWDKIT_METHODS")
    chosen = wanted.split(",") if wanted else list(METHODS)
    for name, make in ((m, METHODS[m]) for m in chosen):
        best, best_cpu, spent, runs = float("inf"), float("inf"), 0.0, 0
        labels = None
        # Best of ``repeats`` runs, but slow methods (GLAD takes a minute on Product) stop
        # repeating once 20 s have been spent on them.
        while runs < repeats and (runs == 0 or spent < 20.0):
            model = make()
            start, start_cpu = time.perf_counter(), time.process_time()
            labels = model.fit_predict(answers)
            elapsed = time.perf_counter() - start
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
            best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
        out[name] = {
            "seconds": best,
            "cpu_seconds": best_cpu,
            "labels": {str(k): str(v) for k, v in labels.items()},
        }
    return out


def main() -> None:
    """Print one JSON object keyed by dataset folder name."""
    warnings.simplefilter("ignore")
    repeats = int(sys.argv[1])
    result = {Path(d).name: run(Path(d), repeats) for d in sys.argv[2:]}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
