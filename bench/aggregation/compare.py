"""Compare a method's labels and posteriors on the shared sets with another tree's, in one run.

A speed change should not move labels. This fits the method (default ``bdsc``) on every
shared set with this tree's code and, in a child process, with another tree's ``service``
folder (for example ``git archive main service | tar -x -C /tmp/base``), then prints per set:
accuracy on truth.csv for both, labels moved, the largest posterior difference, the Bayes
factor for subtypes (``bdsc``) and the fit's CPU seconds for both (``time.process_time``).

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/compare.py --baseline /tmp/base/service [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def fit_all(data: Path, method: str, seed: int) -> dict[str, dict]:
    """Return ``{set: {labels, probas, factor, accuracy, cpu}}`` for this process's crowdgate."""
    from crowdgate.aggregation import get_aggregator, read_answers, read_gold

    out = {}
    for folder in sorted(p for p in data.iterdir() if (p / "answers.csv").exists()):
        answers, truth = read_answers(folder / "answers.csv"), read_gold(folder / "truth.csv")
        start = time.process_time()
        model = get_aggregator(method)(random_state=seed).fit(*answers)
        cpu = time.process_time() - start
        labels = dict(zip(model.tasks_.tolist(), model.labels_.tolist(), strict=True))
        evidence = getattr(model, "evidence_", {})
        factor = evidence["subtypes"] - evidence["one subtype"] if "subtypes" in evidence else 0.0
        out[folder.name] = {
            "labels": model.labels_,
            "probas": model.probas_,
            "factor": float(factor),
            "accuracy": float(np.mean([labels.get(t) == v for t, v in truth.items()])),
            "cpu": cpu,
        }
    return out


def main() -> None:
    """Print one table row per set."""
    sys.path.insert(0, str(HERE))
    from run import DATA  # bench/aggregation/run.py

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="Another tree's service.")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--method", default="bdsc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # the child's output
    args = parser.parse_args()
    if args.dump is not None:
        args.dump.write_bytes(pickle.dumps(fit_all(args.data, args.method, args.seed)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "baseline.pickle"
        env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
        command = [sys.executable, __file__, "--baseline", str(args.baseline), "--dump", str(dump)]
        command += ["--data", str(args.data), "--method", args.method, "--seed", str(args.seed)]
        subprocess.run(command, check=True, env=env)
        base = pickle.loads(dump.read_bytes())
    ours = fit_all(args.data, args.method, args.seed)
    print(f"`{args.method}`, seed {args.seed}; baseline `{args.baseline}`, this tree after it.")
    print("")
    print(
        "| set | accuracy baseline / this | labels moved | max posterior diff "
        "| Bayes factor baseline / this | fit CPU s baseline / this |"
    )
    print("|---|---|---|---|---|---|")
    for name, mine in ours.items():
        them = base[name]
        moved = int((mine["labels"] != them["labels"]).sum())
        diff = float(np.abs(mine["probas"] - them["probas"]).max())
        print(
            f"| {name} | {them['accuracy']:.4f} / {mine['accuracy']:.4f} | {moved} | {diff:.1e} "
            f"| {them['factor']:+.2f} / {mine['factor']:+.2f} "
            f"| {them['cpu']:.3f} / {mine['cpu']:.3f} |"
        )
    mean = [np.mean([r["accuracy"] for r in d.values()]) for d in (base, ours)]
    cpu = [sum(r["cpu"] for r in d.values()) for d in (base, ours)]
    print(f"| mean / total | {mean[0]:.4f} / {mean[1]:.4f} | | | | {cpu[0]:.2f} / {cpu[1]:.2f} |")


if __name__ == "__main__":
    main()
