"""Label efficiency through the real service: query by committee against two random baselines.

For each seed and each selector, a fresh
``crowdgate serve`` gets a digits project (60 % of scikit-learn's digits, 100 of them gold,
imported as ``crowdgate import`` does); a simulated crowd answers grids over HTTP in rounds.
After each round the harness reads the gold and settled labels through the admin API, trains
the service's own ``Committee`` on them (features as the service computes them) and scores
it on a held-out 25 % test split the service never saw, and scores the settled labels against
truth (settled labels: every item the crowd settled, those the gold pool promoted since
included, ``DigitsService.crowd_labels``). Selectors:

* ``committee``: the service default, query by committee (``selector=committee``,
  ``query=disagreement``: the most disputed open items, each asked about the committee's top
  label for it);
* ``label-aware random``: random open items, each asked about the committee's top label for it
  (``query=random``), with the same queues, adaptive redundancy and consensus, so the gap to
  ``committee`` is the gain of disagreement itself;
* ``random``: today's random selector (random open items under the grid's random label).

Output: mean test accuracy, settled labels, votes per settled label and settled accuracy at
each budget per selector, the votes query by committee needs to reach each baseline's final
accuracy, a table and a PNG plot.

Between rounds the harness waits for the embedded trainer when it is due (every 20 new labels),
as a deployed trainer keeps up with visitors who take seconds per grid (``--no-pace``: the crowd
runs ahead of it and the figures depend on the machine's load).

The server runs as if behind one reverse proxy (CROWDGATE_TRUSTED_PROXIES=1), so each simulated
visitor's X-Forwarded-For address is its client address, with per-client rate limits raised.

Usage: python bench/label_efficiency/run.py [--seeds 3] [--first-seed 0] [--budget 3000]
       [--round 30] [--selectors committee,label-aware,random] [--write-results]
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
from crowdgate.simulate.harness import PROJECT, DigitsService, Split
from crowdgate.simulate.plot import line_chart

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from results import RESULTS, write_section  # noqa: E402  (bench/results.py)

#: selector name -> project settings
SELECTORS = {
    "committee": {"selector": "committee", "query": "disagreement"},
    "label-aware": {"selector": "committee", "query": "random"},
    "random": {"selector": "random"},
}
MIX = "careful=0.8,sloppy=0.1,random=0.1"
#: query by committee reaches label-aware random's final accuracy with at most this share
TARGET_SHARE = 0.50


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


def wait_for_model(service: DigitsService, timeout_s: float = 300.0) -> None:
    """Wait until the embedded trainer has stored its first model (queues exist), as a deployed
    service has long before its first visitor; on a loaded machine the worker takes a while."""
    deadline = time.monotonic() + timeout_s
    while service.admin.project(PROJECT)["model"] is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the embedded trainer stored no model in time")
        time.sleep(1.0)


def last_reliability(service: DigitsService) -> float | None:
    """Return the population reliability the last full run estimated (live votes' weight)."""
    model = service.admin.project(PROJECT)["model"] or {}
    return model.get("metrics", {}).get("consensus", {}).get("live_reliability")


def run_one(selector: str, seed: int, args: argparse.Namespace, features: np.ndarray) -> dict:
    """Drive one fresh service with the crowd; return its (votes, labels, accuracy) curve."""
    split = Split.make(seed)
    perceiver = digits.reference_perceiver(split.reference, random_state=seed)
    _, targets = digits.load()
    curve = []
    with (
        tempfile.TemporaryDirectory(prefix="cg-bench-le-") as tmp,
        DigitsService(
            Path(tmp),
            split,
            {
                **SELECTORS[selector],
                "skip_uninformative": args.skip_uninformative,
            },
        ) as service,
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
        wait_for_model(service)
        start, grids, passes = time.perf_counter(), 0, 0
        while True:
            labels, settled = service.crowd_labels()
            votes = service.votes()
            accuracy = committee_accuracy(features, labels, split.test, seed)
            right = sum(lab == str(targets[i]) for i, lab in settled.items())
            curve.append((votes, len(labels), accuracy, len(settled), right))
            if votes >= args.budget:
                break
            if args.pace:
                service.keep_pace(len(labels))
            summary = crowd.run(args.round)
            grids, passes = grids + summary.challenges, passes + summary.passes
            if summary.challenges == 0:
                raise RuntimeError(f"no grid answered: {summary.errors}")
        reliability = last_reliability(service)
    print(
        f"{selector:11s} seed {seed}: {grids} grids ({passes} passed), {votes} votes, "
        f"{len(settled)} settled ({right} right), accuracy {accuracy:.3f}, "
        f"live reliability {reliability}, {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return {"selector": selector, "seed": seed, "curve": curve, "live_reliability": reliability}


def mean_curve(runs: list[dict], grid: np.ndarray, column: int = 2) -> np.ndarray:
    """Return the mean over runs of one curve column interpolated at the votes of ``grid``."""
    rows = []
    for run in runs:
        cols = [np.asarray(c, float) for c in zip(*run["curve"], strict=True)]
        rows.append(np.interp(grid, cols[0], cols[column]))
    return np.mean(rows, axis=0)


def settled_stats(runs: list[dict], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (settled, votes per settled label, settled accuracy) at ``grid``, pooled over runs.

    Votes per settled label and settled accuracy pool the runs (total votes over total settled,
    total right over total settled), so a run with few settled items does not dominate.
    """
    settled = np.sum([mean_curve([r], grid, 3) for r in runs], axis=0)
    right = np.sum([mean_curve([r], grid, 4) for r in runs], axis=0)
    spent = grid * len(runs)
    with np.errstate(divide="ignore", invalid="ignore"):
        return settled / len(runs), np.where(settled > 0, spent / settled, np.nan), right / settled


def reach(runs: list[dict], target: float, budget: int) -> int | None:
    """Return the first vote count at which the mean committee accuracy reaches ``target``."""
    fine = np.arange(0, budget + 1)
    hit = np.flatnonzero(mean_curve(runs, fine) >= target)
    return int(fine[hit[0]]) if len(hit) else None


def report(runs: list[dict], args: argparse.Namespace, command: str) -> str:
    """Return the markdown section and write the plot."""
    names = [s for s in SELECTORS if any(r["selector"] == s for r in runs)]
    by = {s: [r for r in runs if r["selector"] == s] for s in names}
    grid = np.arange(0, args.budget + 1, args.budget // 12)
    curves = {s: mean_curve(by[s], grid) for s in names}
    stats = {s: settled_stats(by[s], grid) for s in names}
    seeds = sorted({r["seed"] for r in runs})
    plot = line_chart(
        HERE / "label_efficiency.png",
        {f"{s} selector": (grid.tolist(), curves[s].tolist()) for s in names},
        title=f"Committee test accuracy vs votes (digits, {len(seeds)} seeds, mean)",
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
        "(read through the admin API) and scored on the test split. Seeds "
        f"{', '.join(map(str, seeds))}; committee accuracy and settled items are means over",
        "seeds interpolated at the vote counts shown; votes per settled label and settled",
        "accuracy pool the seeds (total votes / total settled, total right / total settled).",
        "Selectors: `committee` (query by committee), `label-aware` (random open items asked",
        "about the committee's top label, same queues and consensus), `random` (today's random",
        "selector).",
        "",
        "Committee test accuracy:",
        "",
        "| votes | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for i, v in enumerate(grid):
        lines.append(f"| {v} | " + " | ".join(f"{curves[s][i]:.3f}" for s in names) + " |")
    lines += [
        "",
        "Settled labels (mean per run) / votes per settled label / settled accuracy:",
        "",
        "| votes | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for i, v in enumerate(grid):
        if v == 0:
            continue
        cells = []
        for s in names:
            n, per, acc = (x[i] for x in stats[s])
            cells.append("-" if not n else f"{n:.0f} / {per:.1f} / {acc:.3f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", f"![label efficiency]({plot.relative_to(RESULTS.parent).as_posix()})", ""]
    if "committee" in names:
        for base in [s for s in names if s != "committee"]:
            final = curves[base][-1]
            needed = reach(by["committee"], final, args.budget)
            target = f" (target at most {TARGET_SHARE:.0%})" if base == "label-aware" else ""
            if needed is None:
                verdict = " -> NOT MET" if target else ""
                lines.append(
                    f"- {base}: final committee accuracy {final:.3f} at {args.budget} votes; "
                    f"query by committee did not reach it within the budget{target}{verdict}."
                )
                continue
            share = needed / args.budget
            verdict = (" -> MET" if share <= TARGET_SHARE else " -> NOT MET") if target else ""
            lines.append(
                f"- {base}: final committee accuracy {final:.3f} at {args.budget} votes; query "
                f"by committee reaches it at {needed} votes, {share:.0%} of the votes"
                f"{target}{verdict}."
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--selectors",
        default=",".join(SELECTORS),
        help="comma-separated, of " + ", ".join(SELECTORS),
    )
    parser.add_argument("--budget", type=int, default=3000, help="votes per run")
    parser.add_argument("--round", type=int, default=30, help="grids between evaluations")
    parser.add_argument(
        "--skip-uninformative",
        action="store_true",
        help="project setting skip_uninformative=True: leave out voters who are no evidence",
    )
    parser.add_argument(
        "--no-pace",
        dest="pace",
        action="store_false",
        help="let the crowd run ahead of the trainer (the figures then depend on the load)",
    )
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--runs",
        default=str(HERE / "runs.json"),
        help="runs file written, or with --report-only comma-separated files read and merged",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from the last runs.json"
    )
    args = parser.parse_args()
    if args.report_only:
        runs = [r for path in args.runs.split(",") for r in json.loads(Path(path).read_text())]
    else:
        features = digit_features(
            Path(tempfile.gettempdir()) / "crowdgate-bench" / "digit_features.npy"
        )
        chosen = [s for s in args.selectors.split(",") if s]
        unknown = sorted(set(chosen) - set(SELECTORS))
        if unknown:
            parser.error(f"unknown selectors {unknown}; use {', '.join(SELECTORS)}")
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        runs = [run_one(s, seed, args, features) for seed in seeds for s in chosen]
        Path(args.runs).write_text(json.dumps(runs))
    flags = [
        f"--seeds {args.seeds}",
        f"--first-seed {args.first_seed}",
        f"--budget {args.budget}",
        f"--round {args.round}",
        f"--selectors {args.selectors}",
        *([] if args.pace else ["--no-pace"]),
        *(["--skip-uninformative"] if args.skip_uninformative else []),
    ]
    command = "python bench/label_efficiency/run.py " + " ".join(flags)
    section = report(runs, args, command)
    print(section)
    if args.write_results:
        write_section(section, "## Label efficiency")


if __name__ == "__main__":
    main()
