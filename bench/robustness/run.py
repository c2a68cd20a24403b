"""Consensus robustness through the real service: clean crowd, random clickers, colluders.

For each seed and each crowd, a fresh ``crowdgate serve`` gets a digits project (60 % of
scikit-learn's digits, 100 of them gold, imported as ``crowdgate import`` does, default project
settings: committee selector, live consensus) and a simulated crowd answers grids over HTTP in
rounds. After each round the harness reads the settled items through the admin API and scores
their consensus labels against the digits' truth. Crowds:

* ``clean``: careful 0.9, sloppy 0.1;
* ``random 20%``: careful 0.7, sloppy 0.1, random clickers 0.2;
* ``colluders 10%``: careful 0.8, sloppy 0.1, adversarial colluders 0.1 who have memorised the
  whole gold set (each gold picture and crops of it), answer the tiles they recognise as gold
  honestly, and on every other tile all claim the same wrong label (the next digit).

Every visitor has its own /24 network (the per-network settle rule gives no help) and the
server runs as if behind one reverse proxy (CROWDGATE_TRUSTED_PROXIES=1).

Usage: python bench/robustness/run.py [--seeds 2] [--budget 3000] [--round 40] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from crowdgate.simulate import Crowd, digits, parse_mix
from crowdgate.simulate.harness import DigitsService, Split
from crowdgate.simulate.plot import line_chart

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from results import RESULTS, write_section  # noqa: E402  (bench/results.py)

CROWDS = {
    "clean": "careful=0.9,sloppy=0.1",
    "random 20%": "careful=0.7,sloppy=0.1,random=0.2",
    "colluders 10%": "careful=0.8,sloppy=0.1,adversarial=0.1",
}
TOLERANCE = 0.02
MIN_SETTLED = 30


def run_one(crowd_name: str, seed: int, args: argparse.Namespace) -> dict:
    """Drive one fresh service with one crowd; return its (votes, settled, accuracy) curve."""
    _, targets = digits.load()
    split = Split.make(seed)
    perceiver = digits.reference_perceiver(split.reference, random_state=seed)
    memory = digits.gold_memory(split.gold) if "adversarial" in CROWDS[crowd_name] else None
    curve = []
    start, grids, by_kind = time.perf_counter(), 0, {}
    with (
        tempfile.TemporaryDirectory(prefix="cg-bench-rob-") as tmp,
        DigitsService(Path(tmp), split, {}) as service,
    ):
        crowd = Crowd(
            service.server.url,
            service.sitekey,
            perceiver,
            visitors=args.visitors,
            mix=parse_mix(CROWDS[crowd_name]),
            memory=memory,
            concurrency=args.concurrency,
            seed=seed,
        )
        while True:
            settled = service.labels("settled")
            votes = service.votes()
            right = sum(label == str(targets[i]) for i, label in settled.items())
            accuracy = right / len(settled) if settled else float("nan")
            curve.append((votes, len(settled), accuracy))
            if votes >= args.budget:
                break
            summary = crowd.run(args.round)
            grids += summary.challenges
            for kind, row in summary.by_kind.items():
                acc = by_kind.setdefault(kind, [0, 0])
                acc[0], acc[1] = acc[0] + row["challenges"], acc[1] + row["passes"]
            if summary.challenges == 0:
                raise RuntimeError(f"no grid answered: {summary.errors}")
    rates = {k: round(p / c, 3) for k, (c, p) in by_kind.items() if c}
    print(
        f"{crowd_name:13s} seed {seed}: {grids} grids, pass rates {rates}, {votes} votes, "
        f"{len(settled)} settled, accuracy {accuracy:.3f}, {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return {"crowd": crowd_name, "seed": seed, "curve": curve, "pass_rates": rates}


def at_votes(runs: list[dict], grid: np.ndarray, column: int) -> np.ndarray:
    """Return the mean over runs of one curve column interpolated at the votes of ``grid``."""
    rows = []
    for run in runs:
        points = [c for c in run["curve"] if column != 2 or c[1] > 0]
        if not points:
            rows.append(np.full(len(grid), np.nan))
            continue
        v = np.asarray([p[0] for p in points], float)
        y = np.asarray([p[column] for p in points], float)
        rows.append(np.where(grid >= v[0], np.interp(grid, v, y), np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # budgets where no run has settled yet
        return np.nanmean(rows, axis=0) if rows else np.full(len(grid), np.nan)


def report(runs: list[dict], args: argparse.Namespace, command: str) -> str:
    """Return the markdown section and write the plot."""
    grid = np.arange(args.budget // 10, args.budget + 1, args.budget // 10)
    acc = {c: at_votes([r for r in runs if r["crowd"] == c], grid, 2) for c in CROWDS}
    settled = {c: at_votes([r for r in runs if r["crowd"] == c], grid, 1) for c in CROWDS}
    plot = line_chart(
        HERE / "robustness.png",
        {c: (grid[~np.isnan(acc[c])].tolist(), acc[c][~np.isnan(acc[c])].tolist()) for c in CROWDS},
        title=f"Accuracy of settled labels vs votes (digits, {args.seeds} seeds, mean)",
        xlabel="votes spent",
        ylabel="consensus accuracy",
    )
    lines = [
        "## Robustness",
        "",
        f"Command: `{command}` (2 shared cores). Per seed and crowd: a fresh `crowdgate serve`",
        "(SQLite, 2 workers, embedded trainer, default project settings, live consensus,",
        "`CROWDGATE_TRUSTED_PROXIES=1`) with 1,078 digits (100 gold); "
        f"{args.visitors} simulated visitors,",
        "each on its own /24. Colluders have memorised the whole gold set and all claim the",
        "next digit on every tile they do not recognise as gold (see docs/simulate.md).",
        "Accuracy of the settled items' consensus labels against truth, mean over seeds,",
        "interpolated at the vote counts shown (settled items in brackets).",
        "",
        "| votes | " + " | ".join(CROWDS) + " |",
        "| --- | " + " | ".join("---" for _ in CROWDS) + " |",
    ]
    for i, v in enumerate(grid):
        cells = [
            "-" if np.isnan(acc[c][i]) else f"{acc[c][i]:.3f} ({settled[c][i]:.0f})" for c in CROWDS
        ]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    rates = {
        c: {k: np.mean([r["pass_rates"].get(k, 0) for r in runs if r["crowd"] == c]) for k in kinds}
        for c in CROWDS
        for kinds in [sorted({k for r in runs if r["crowd"] == c for k in r["pass_rates"]})]
    }
    lines += [
        "",
        "Pass rates by kind: "
        + "; ".join(
            f"{c}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates[c].items()) for c in CROWDS
        )
        + ".",
        "",
        f"![robustness]({plot.relative_to(RESULTS.parent).as_posix()})",
        "",
    ]
    enough = np.all([settled[c] >= MIN_SETTLED for c in CROWDS], axis=0)
    for c in list(CROWDS)[1:]:
        gap = (acc["clean"] - acc[c])[enough]
        if not len(gap):
            lines.append(f"- {c}: too few settled items to compare -> NOT MEASURED.")
            continue
        worst = float(np.max(gap))
        verdict = "MET" if worst <= TOLERANCE else "NOT MET"
        lines.append(
            f"- {c}: at most {worst * 100:.1f} points below the clean crowd at the same votes "
            f"(budgets with at least {MIN_SETTLED} settled items; target 2) -> {verdict}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget", type=int, default=3000, help="votes per run")
    parser.add_argument("--round", type=int, default=40, help="grids between readings")
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last runs.json"
    )
    args = parser.parse_args()
    if args.report_only:
        runs = json.loads((HERE / "runs.json").read_text())
    else:
        runs = [run_one(c, seed, args) for seed in range(args.seeds) for c in CROWDS]
        (HERE / "runs.json").write_text(json.dumps(runs))
    flags = [f"--seeds {args.seeds}", f"--budget {args.budget}", f"--round {args.round}"]
    command = "python bench/robustness/run.py " + " ".join(flags)
    section = report(runs, args, command)
    print(section)
    if args.write_results:
        write_section(section, "## Robustness")


if __name__ == "__main__":
    main()
