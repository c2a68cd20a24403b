"""Compare `bdsc` with plain and SQUAREM-driven EBCC updates on the crowd datasets.

Prints, per set: accuracy on truth.csv, labels moved, the largest probability difference,
the Bayes factor for subtypes, EBCC updates and fit CPU seconds (same process, one after the
other). Usage: ``python bench/aggregation/accelerate.py [--data DIR] [SET ...]``.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

import numpy as np

from crowdgate.aggregation import bdsc, ebcc
from crowdgate.aggregation.bdsc import CorrelationCheckedDawidSkene
from crowdgate.aggregation.io import read_answers, read_gold

ROOT = Path(__file__).resolve().parents[2]
DATA = next(
    (p / "shared/data/crowd" for p in ROOT.parents if (p / "shared/data/crowd").is_dir()),
    ROOT.parent / "shared/data/crowd",
)


def fit(answers: tuple, accelerate: bool) -> tuple[CorrelationCheckedDawidSkene, float, int]:
    """Return the fitted ``bdsc``, its CPU seconds and the number of EBCC updates it ran."""
    calls = [0]
    update = ebcc.SubtypeClassifierCombination._update

    def counted(self: ebcc.SubtypeClassifierCombination, *args: object) -> object:
        calls[0] += 1
        return update(self, *args)

    made = bdsc.SubtypeClassifierCombination
    ebcc.SubtypeClassifierCombination._update = counted
    bdsc.SubtypeClassifierCombination = functools.partial(made, accelerate=accelerate)
    try:
        start = time.process_time()
        model = CorrelationCheckedDawidSkene().fit(*answers)
        return model, time.process_time() - start, calls[0]
    finally:
        ebcc.SubtypeClassifierCombination._update = update
        bdsc.SubtypeClassifierCombination = made


def main() -> None:
    """Print one line per dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("sets", nargs="*")
    args = parser.parse_args()
    names = args.sets or sorted(p.name for p in args.data.iterdir() if (p / "truth.csv").exists())
    for name in names:
        answers = read_answers(args.data / name / "answers.csv")
        truth = read_gold(args.data / name / "truth.csv")
        runs = []
        for accelerate in (False, True):
            model, cpu, updates = fit(answers, accelerate)
            labels = dict(zip(model.tasks_.tolist(), model.labels_.tolist(), strict=True))
            acc = float(np.mean([labels.get(t) == v for t, v in truth.items()]))
            factor = model.evidence_["subtypes"] - model.evidence_["one subtype"]
            runs.append((model, cpu, updates, acc, factor))
        (m0, c0, u0, a0, f0), (m1, c1, u1, a1, f1) = runs
        moved = int((m0.labels_ != m1.labels_).sum())
        diff = float(np.abs(m0.probas_ - m1.probas_).max())
        print(
            f"{name:16s} acc {a0:.4f}->{a1:.4f} moved {moved} maxdp {diff:.1e} "
            f"BF {f0:.2f}->{f1:.2f} updates {u0}->{u1} cpu {c0:.2f}->{c1:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
