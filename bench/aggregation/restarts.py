"""How the default `bdsc` depends on its seed and on EBCC's number of restarts.

EBCC's variational fit finds local optima that depend on the seeded subtype split; `bdsc`
keeps the restart with the largest evidence (the collapsed bound, answers only). For each
seed and restart count this fits `bdsc` on every shared set and prints accuracy on
truth.csv, the fit's CPU seconds, and whether it is at or above crowd-kit's majority vote
(read from a ``crowdkit_worker.py`` output, e.g. ``CROWDKIT_METHODS=MajorityVote``).

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/restarts.py --seeds 0 1 2 3 4 --restarts 3 10 \\
        --crowdkit-json /tmp/ck_mv.json [--jsonl OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from crowdgate.aggregation import CorrelationCheckedDawidSkene, read_answers, read_gold

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import DATA, accuracy, datasets  # noqa: E402  (bench/aggregation/run.py)


def main() -> None:
    """Print one table row per (restarts, seed) and a summary per restart count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--restarts", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--sets", nargs="+", help="Only these dataset folders.")
    parser.add_argument("--crowdkit-json", type=Path)
    parser.add_argument("--jsonl", type=Path, help="Also append one JSON line per fit here.")
    args = parser.parse_args()
    folders = [f for f in datasets(args.data) if not args.sets or f.name in args.sets]
    names = [f.name for f in folders]
    data = {f.name: (read_answers(f / "answers.csv"), read_gold(f / "truth.csv")) for f in folders}
    mv: dict[str, float] = {}
    if args.crowdkit_json is not None:
        ck = json.loads(args.crowdkit_json.read_text())
        mv = {n: accuracy(ck[n]["MajorityVote"]["labels"], data[n][1]) for n in names if n in ck}
    print("| restarts | seed | " + " | ".join(names) + " | mean | below MV | CPU s |")
    print("|---|---|" + "---|" * (len(names) + 3))
    for restarts in args.restarts:
        for seed in args.seeds:
            accs, below, cpu = [], [], 0.0
            for name in names:
                answers, truth = data[name]
                start = time.process_time()
                model = CorrelationCheckedDawidSkene(n_restarts=restarts, random_state=seed)
                model.fit(*answers)
                spent = time.process_time() - start
                labels = dict(zip(model.tasks_.tolist(), model.labels_.tolist(), strict=True))
                acc = accuracy(labels, truth)
                accs.append(acc)
                cpu += spent
                if name in mv and acc < mv[name]:
                    below.append(name)
                if args.jsonl is not None:
                    row = {"restarts": restarts, "seed": seed, "set": name, "accuracy": acc}
                    row |= {"cpu": spent, "correlated": model.correlated_}
                    with args.jsonl.open("a") as out:
                        out.write(json.dumps(row) + "\n")
            cells = " | ".join(f"{a:.4f}" for a in accs)
            print(
                f"| {restarts} | {seed} | {cells} | {np.mean(accs):.4f} | "
                f"{', '.join(below) or 'none'} | {cpu:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
