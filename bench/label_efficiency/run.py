"""Label efficiency through the real service: query by committee against random selection.

For each seed and each selector ("committee", the service default, and "random"), a fresh
``crowdgate serve`` gets a digits project (60 % of scikit-learn's digits, 100 of them gold,
imported as ``crowdgate import`` does); a simulated crowd answers grids over HTTP in rounds.
After each round the harness reads the gold and settled labels through the admin API, trains
the service's own ``Committee`` on them (features as the service computes them) and scores
it on a held-out 25 % test split the service never saw. Output: mean test accuracy against
votes spent per selector, the votes query by committee needs to reach random selection's final
accuracy, a table and a PNG plot.

The server runs as if behind one reverse proxy (CROWDGATE_TRUSTED_PROXIES=1), so each simulated
visitor's X-Forwarded-For address is its client address, with per-client rate limits raised.

Usage: python bench/label_efficiency/run.py [--seeds 3] [--budget 3000] [--round 30]
       [--write-results]
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
from sklearn.exceptions import ConvergenceWarning

from crowdgate.committee import Committee
from crowdgate.simulate import Crowd, digits, parse_mix
from crowdgate.simulate.features import digit_features
from crowdgate.simulate.harness import DigitsService, Split
from crowdgate.simulate.plot import line_chart

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from results import RESULTS, write_section  # noqa: E402  (bench/results.py)

SELECTORS = ("committee", "random")
MIX = "careful=0.8,sloppy=0.1,random=0.1"
TARGET_SHARE = 0.70


def committee_accuracy(features: np.ndarray, labels: dict[int, str], test: np.ndarray, seed: int):
    """Return the test accuracy of a committee trained on ``{digit index: label}``."""
    _, targets = digits.load()
    if len(set(labels.values())) < 2:
        return 0.0
    rows = np.fromiter(labels, dtype=int)
    y = np.asarray([labels[i] for i in rows])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Committee(random_state=seed).fit(features[rows], y)
        predicted = model.predict(features[test])
    return float(np.mean(predicted == targets[test].astype(str)))


def run_one(selector: str, seed: int, args: argparse.Namespace, features: np.ndarray) -> dict:
    """Drive one fresh service with the crowd; return its (votes, labels, accuracy) curve."""
    split = Split.make(seed)
    perceiver = digits.reference_perceiver(split.reference, random_state=seed)
    curve = []
    with (
        tempfile.TemporaryDirectory(prefix="cg-bench-le-") as tmp,
        DigitsService(Path(tmp), split, {"selector": selector}) as service,
    ):
        crowd = Crowd(
            service.server.url,
            service.sitekey,
            perceiver,
            visitors=args.visitors,
            mix=parse_mix(MIX),
            concurrency=args.concurrency,
            seed=seed,
        )
        start, grids, passes = time.perf_counter(), 0, 0
        while True:
            labels = service.labels("gold") | service.labels("settled")
            votes = service.votes()
            accuracy = committee_accuracy(features, labels, split.test, seed)
            curve.append((votes, len(labels), accuracy))
            if votes >= args.budget:
                break
            summary = crowd.run(args.round)
            grids, passes = grids + summary.challenges, passes + summary.passes
            if summary.challenges == 0:
                raise RuntimeError(f"no grid answered: {summary.errors}")
    print(
        f"{selector:9s} seed {seed}: {grids} grids ({passes} passed), {votes} votes, "
        f"{len(labels)} labels, accuracy {accuracy:.3f}, {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return {"selector": selector, "seed": seed, "curve": curve}


def mean_curve(runs: list[dict], grid: np.ndarray) -> np.ndarray:
    """Return the mean over runs of accuracy interpolated at the vote counts of ``grid``."""
    rows = []
    for run in runs:
        v, _, acc = (np.asarray(c, float) for c in zip(*run["curve"], strict=True))
        rows.append(np.interp(grid, v, acc))
    return np.mean(rows, axis=0)


def report(runs: list[dict], args: argparse.Namespace, command: str) -> str:
    """Return the markdown section and write the plot."""
    grid = np.arange(0, args.budget + 1, args.budget // 12)
    curves = {s: mean_curve([r for r in runs if r["selector"] == s], grid) for s in SELECTORS}
    labels_at = {
        s: np.mean([r["curve"][-1][1] for r in runs if r["selector"] == s]) for s in SELECTORS
    }
    final_random = curves["random"][-1]
    fine = np.arange(0, args.budget + 1)
    reach = mean_curve([r for r in runs if r["selector"] == "committee"], fine)
    hit = np.flatnonzero(reach >= final_random)
    needed = int(fine[hit[0]]) if len(hit) else None
    plot = line_chart(
        HERE / "label_efficiency.png",
        {f"{s} selector": (grid.tolist(), curves[s].tolist()) for s in SELECTORS},
        title=f"Committee test accuracy vs votes (digits, {args.seeds} seeds, mean)",
        xlabel="votes spent",
        ylabel="test accuracy",
    )
    lines = [
        "## Label efficiency",
        "",
        f"Command: `{command}` (2 shared cores). Per seed: a fresh `crowdgate serve`",
        "(SQLite, 2 workers, embedded trainer, `CROWDGATE_TRUSTED_PROXIES=1`) with 1,078 of",
        "scikit-learn's digits (100 gold) imported as by `crowdgate import`; a held-out test",
        "split of 449 digits the service never saw; the visitors' perceiver trained on 270 other",
        "digits.",
        f"Crowd: {args.visitors} simulated visitors `{MIX}`, grids answered in rounds of",
        f"{args.round}. After each round a default `Committee` is trained on gold + settled labels",
        "(read through the admin API) and scored on the test split. Mean over seeds,",
        "interpolated at the vote counts shown.",
        "",
        "| votes | " + " | ".join(f"{s} selector" for s in SELECTORS) + " |",
        "| --- | " + " | ".join("---" for _ in SELECTORS) + " |",
    ]
    for i, v in enumerate(grid):
        lines.append(f"| {v} | " + " | ".join(f"{curves[s][i]:.3f}" for s in SELECTORS) + " |")
    lines += [
        "",
        "Labels (gold + settled) at the end, mean: "
        + ", ".join(f"{s} {labels_at[s]:.0f}" for s in SELECTORS)
        + ".",
        "",
        f"![label efficiency]({plot.relative_to(RESULTS.parent).as_posix()})",
        "",
    ]
    if needed is None:
        lines.append(
            f"- Random selection's final accuracy {final_random:.3f} at {args.budget} votes; "
            f"query by committee did not reach it within the budget -> NOT MET."
        )
    else:
        share = needed / args.budget
        verdict = "MET" if share <= TARGET_SHARE else "NOT MET"
        lines.append(
            f"- Random selection's final accuracy {final_random:.3f} at {args.budget} votes; "
            f"query by committee reaches it at {needed} votes, {share:.0%} of the votes "
            f"(target at most {TARGET_SHARE:.0%}) -> {verdict}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=3000, help="votes per run")
    parser.add_argument("--round", type=int, default=30, help="grids between evaluations")
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
        features = digit_features(
            Path(tempfile.gettempdir()) / "crowdgate-bench" / "digit_features.npy"
        )
        runs = [run_one(s, seed, args, features) for seed in range(args.seeds) for s in SELECTORS]
        (HERE / "runs.json").write_text(json.dumps(runs))
    flags = [f"--seeds {args.seeds}", f"--budget {args.budget}", f"--round {args.round}"]
    command = "python bench/label_efficiency/run.py " + " ".join(flags)
    section = report(runs, args, command)
    print(section)
    if args.write_results:
        write_section(section, "## Label efficiency")


if __name__ == "__main__":
    main()
