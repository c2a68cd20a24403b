"""Consensus robustness through the real service: clean crowd, random clickers, colluders.

For each seed and each crowd, a fresh ``crowdgate serve`` gets a digits project (60 % of
scikit-learn's digits, 100 of them gold, imported as ``crowdgate import`` does, default project
settings: committee selector, live consensus) and a simulated crowd answers grids over HTTP in
rounds. After each round the harness reads the settled items through the admin API (those the
gold pool promoted since included, ``DigitsService.crowd_labels``) and scores their consensus
labels against the digits' truth. Crowds:

* ``clean``: careful 0.9, sloppy 0.1;
* ``random 20%``: careful 0.7, sloppy 0.1, random clickers 0.2;
* ``colluders 10%``: careful 0.8, sloppy 0.1, adversarial colluders 0.1 who have memorised the
  whole gold set (each gold picture and crops of it), answer the tiles they recognise as gold
  honestly, and on every other tile all claim the same wrong label (the next digit);
* ``echo 10%``: careful 0.8, sloppy 0.1, echo bots 0.1 that are handed the gold set's truth
  (perfect recognition of every gold picture, so they pass every grid) and select every other
  tile: their votes only echo the asked label, which is the committee's own guess (issue 12.2);
* ``one-time``: the clean mix as a stream of one-time visitors, each answering 1 to 3 grids
  and never coming back (most captcha traffic), so no voter has a history;
* ``echo one-time``: the echo 10% mix as one-time visitors (bots that change identity every
  1 to 3 grids, so no voter is seen often enough to be judged).

Between rounds the harness waits for the embedded trainer when it is due (every 20 new labels),
as a deployed service's trainer keeps up with visitors who take seconds per grid
(``--no-pace``: the crowd runs ahead and the figures depend on the machine's load).

Every visitor has its own /24 network (the per-network settle rule gives no help) and the
server runs as if behind one reverse proxy (CROWDGATE_TRUSTED_PROXIES=1).

Usage: python bench/robustness/run.py [--seeds 2] [--first-seed 0] [--budget 3000] [--round 40]
       [--crowds clean,...] [--write-results]
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

from crowdgate.ingestion.images import make_variants
from crowdgate.simulate import Crowd, GoldKey, digits, parse_mix
from crowdgate.simulate.harness import PROJECT, DigitsService, Split
from crowdgate.simulate.plot import line_chart

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from results import RESULTS, write_section  # noqa: E402  (bench/results.py)

CROWDS = {
    "clean": "careful=0.9,sloppy=0.1",
    "random 20%": "careful=0.7,sloppy=0.1,random=0.2",
    "colluders 10%": "careful=0.8,sloppy=0.1,adversarial=0.1",
    "echo 10%": "careful=0.8,sloppy=0.1,echo=0.1",
    "one-time": "careful=0.9,sloppy=0.1",
    "echo one-time": "careful=0.8,sloppy=0.1,echo=0.1",
}
#: grids each visitor answers before leaving, for crowds of one-time visitors
VISITS = {"one-time": (1, 3), "echo one-time": (1, 3)}
TOLERANCE = 0.02
MIN_SETTLED = 30
#: clean crowd targets: votes per settled label at most, settled accuracy at least
MAX_VOTES_PER_LABEL = 4.0
MIN_ACCURACY = 0.98


def wait_for_model(service: DigitsService, timeout_s: float = 300.0) -> None:
    """Wait until the embedded trainer has stored its first model (queues exist), as a deployed
    service has long before its first visitor; on a loaded machine the worker takes a while."""
    deadline = time.monotonic() + timeout_s
    while service.admin.project(PROJECT)["model"] is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the embedded trainer stored no model in time")
        time.sleep(1.0)


#: tile variants per item the perceiver ceiling reads (the service's default ``tile_variants``)
CEILING_VARIANTS = 16
_readings: dict[int, dict[int, str]] = {}


def perceiver_readings(split: Split, perceiver, seed: int) -> dict[int, str]:
    """Return, per open digit, the label the shared perceiver reads on most of its variants.

    Every careful or sloppy visitor sees through this one perceiver, so on a digit it misreads
    they all err alike: no aggregator of their votes can settle it right. The variants are the
    import's own perturbations (``make_variants``, seeded per digit rather than by the secret).
    """
    if seed not in _readings:
        images, _ = digits.load()
        gold = set(split.gold.tolist())
        found = {}
        for i in (int(i) for i in split.served if int(i) not in gold):
            tiles = make_variants(digits.render(images[i]), CEILING_VARIANTS, i, size=128)
            seen = perceiver.predict(tiles)
            found[i] = max(sorted(set(seen)), key=seen.count)
        _readings[seed] = found
    return _readings[seed]


def ceiling(readings: dict[int, str], items, targets: np.ndarray) -> float:
    """Return the share of ``items`` the perceiver's majority reading gets right."""
    items = [i for i in items if i in readings]
    return sum(readings[i] == str(targets[i]) for i in items) / max(1, len(items))


def last_consensus(service: DigitsService) -> dict:
    """Return the last full run's consensus metrics (live reliability, dropped voters) and the
    number of models the trainer stored."""
    model = service.admin.project(PROJECT)["model"] or {}
    found = model.get("metrics", {}).get("consensus", {})
    return {
        "live_reliability": found.get("live_reliability"),
        "dropped_voters": len(found.get("dropped_voters", [])),
        "voters": found.get("voters"),
        "models": model.get("version"),
    }


def run_one(crowd_name: str, seed: int, args: argparse.Namespace) -> dict:
    """Drive one fresh service with one crowd; return its (votes, settled, accuracy) curve."""
    _, targets = digits.load()
    split = Split.make(seed)
    perceiver = digits.reference_perceiver(split.reference, random_state=seed)
    mix = CROWDS[crowd_name]
    memory = digits.gold_memory(split.gold) if "adversarial" in mix or "echo" in mix else None
    key = GoldKey(memory, [str(targets[i]) for i in split.gold]) if "echo" in mix else None
    curve = []
    start, grids, by_kind = time.perf_counter(), 0, {}
    settings = {"skip_uninformative": args.skip_uninformative}
    with (
        tempfile.TemporaryDirectory(prefix="cg-bench-rob-") as tmp,
        DigitsService(Path(tmp), split, settings) as service,
    ):
        crowd = Crowd(
            service.server.url,
            service.sitekey,
            perceiver,
            visitors=args.visitors,
            mix=parse_mix(CROWDS[crowd_name]),
            memory=memory,
            key=key,
            concurrency=args.concurrency,
            visits=VISITS.get(crowd_name),
            seed=seed,
        )
        wait_for_model(service)
        while True:
            labeled, settled = service.crowd_labels()
            votes = service.votes()
            right = sum(label == str(targets[i]) for i, label in settled.items())
            accuracy = right / len(settled) if settled else float("nan")
            curve.append((votes, len(settled), accuracy, right))
            if votes >= args.budget:
                break
            if args.pace:
                service.keep_pace(len(labeled))
            summary = crowd.run(args.round)
            grids += summary.challenges
            for kind, row in summary.by_kind.items():
                acc = by_kind.setdefault(kind, [0, 0])
                acc[0], acc[1] = acc[0] + row["challenges"], acc[1] + row["passes"]
            if summary.challenges == 0:
                raise RuntimeError(f"no grid answered: {summary.errors}")
        full = last_consensus(service)
    readings = perceiver_readings(split, perceiver, seed)
    ceilings = {
        "open": round(ceiling(readings, readings, targets), 4),
        "settled": round(ceiling(readings, settled, targets), 4),
    }
    rates = {k: round(p / c, 3) for k, (c, p) in by_kind.items() if c}
    print(
        f"{crowd_name:13s} seed {seed}: {grids} grids, pass rates {rates}, {votes} votes, "
        f"{len(settled)} settled, accuracy {accuracy:.3f}, {votes / max(1, len(settled)):.1f} "
        f"votes per settled label, last full run {full}, perceiver ceiling {ceilings}, "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    return {
        "crowd": crowd_name,
        "seed": seed,
        "curve": curve,
        "pass_rates": rates,
        "live_reliability": full["live_reliability"],
        "full_run": full,
        "ceiling": ceilings,
    }


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


def pooled(runs: list[dict], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (votes per settled label, settled accuracy) at ``grid``, pooled over runs."""
    settled = np.zeros(len(grid))
    right = np.zeros(len(grid))
    for run in runs:
        v = np.asarray([c[0] for c in run["curve"]], float)
        settled += np.interp(grid, v, [c[1] for c in run["curve"]])
        right += np.interp(grid, v, [c[3] for c in run["curve"]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(settled > 0, grid * len(runs) / settled, np.nan), right / settled


def report(runs: list[dict], args: argparse.Namespace, command: str) -> str:
    """Return the markdown section and write the plot."""
    names = [c for c in CROWDS if any(r["crowd"] == c for r in runs)]
    by = {c: [r for r in runs if r["crowd"] == c] for c in names}
    grid = np.arange(args.budget // 10, args.budget + 1, args.budget // 10)
    settled = {c: at_votes(by[c], grid, 1) for c in names}
    per, acc = {}, {}
    for c in names:
        per[c], acc[c] = pooled(by[c], grid)
    seeds = sorted({r["seed"] for r in runs})
    plot = line_chart(
        HERE / "robustness.png",
        {c: (grid[~np.isnan(acc[c])].tolist(), acc[c][~np.isnan(acc[c])].tolist()) for c in names},
        title=f"Accuracy of settled labels vs votes (digits, {len(seeds)} seeds)",
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
        "each on its own /24 (the one-time crowd: a new visitor every 1 to 3 grids). Colluders",
        "have memorised the whole gold set and all claim the next digit on every tile they do",
        "not recognise as gold (see docs/simulate.md). Each cell: settled accuracy against",
        "truth / votes per settled label (both pooled over seeds: total right / total settled,",
        "total votes / total settled) and settled items per run in brackets, interpolated at",
        f"the vote counts shown. Seeds {', '.join(map(str, seeds))}.",
        "",
        "| votes | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for i, v in enumerate(grid):
        cells = [
            "-"
            if np.isnan(acc[c][i])
            else f"{acc[c][i]:.3f} / {per[c][i]:.1f} ({settled[c][i]:.0f})"
            for c in names
        ]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    rates = {
        c: {k: np.mean([r["pass_rates"].get(k, 0) for r in by[c]]) for k in kinds}
        for c in names
        for kinds in [sorted({k for r in by[c] for k in r["pass_rates"]})]
    }
    lines += [
        "",
        "Pass rates by kind: "
        + "; ".join(
            f"{c}: " + ", ".join(f"{k} {v:.2f}" for k, v in rates[c].items()) for c in names
        )
        + ".",
        "",
        f"![robustness]({plot.relative_to(RESULTS.parent).as_posix()})",
        "",
    ]
    with_ceiling = [r for r in runs if "ceiling" in r]
    if with_ceiling:
        lines += [
            "Perceiver ceiling (the share of digits the visitors' one shared perceiver reads right "
            f"on most of {CEILING_VARIANTS} variants: no aggregator of honest votes does better), "
            "per run, all open digits / the digits settled at the end: "
            + "; ".join(
                f"{r['crowd']} seed {r['seed']}: {r['ceiling']['open']:.3f} / "
                f"{r['ceiling']['settled']:.3f}"
                for r in with_ceiling
            )
            + ".",
            "",
        ]
    if "clean" not in names:
        return "\n".join(lines) + "\n"
    final_per, final_acc = per["clean"][-1], acc["clean"][-1]
    ok = final_per <= MAX_VOTES_PER_LABEL and final_acc >= MIN_ACCURACY
    lines.append(
        f"- clean: {final_per:.2f} votes per settled label at settled accuracy {final_acc:.3f} "
        f"after {grid[-1]} votes (target at most {MAX_VOTES_PER_LABEL:g} at "
        f"{MIN_ACCURACY}) -> {'MET' if ok else 'NOT MET'}."
    )
    enough = np.all([settled[c] >= MIN_SETTLED for c in names], axis=0)
    for c in names[1:]:
        gap = (acc["clean"] - acc[c])[enough]
        if not len(gap):
            lines.append(f"- {c}: too few settled items to compare -> NOT MEASURED.")
            continue
        worst = float(np.max(gap))
        verdict = "MET" if worst <= TOLERANCE else "NOT MET"
        lines.append(
            f"- {c}: at most {worst * 100:.1f} points below the clean crowd at the same votes "
            f"(budgets with at least {MIN_SETTLED} settled items in every crowd; target 2) -> "
            f"{verdict}; {per[c][-1]:.2f} votes per settled label at the end."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--crowds", default=",".join(CROWDS), help="comma-separated, of " + ", ".join(CROWDS)
    )
    parser.add_argument("--budget", type=int, default=3000, help="votes per run")
    parser.add_argument("--round", type=int, default=40, help="grids between readings")
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--no-pace",
        dest="pace",
        action="store_false",
        help="let the crowd run ahead of the trainer (the figures then depend on the load)",
    )
    parser.add_argument(
        "--skip-uninformative",
        action="store_true",
        help="project setting skip_uninformative=True: leave out voters who are no evidence",
    )
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
        chosen = [c for c in args.crowds.split(",") if c]
        unknown = sorted(set(chosen) - set(CROWDS))
        if unknown:
            parser.error(f"unknown crowds {unknown}; use {', '.join(CROWDS)}")
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        runs = [run_one(c, seed, args) for seed in seeds for c in chosen]
        Path(args.runs).write_text(json.dumps(runs))
    flags = [
        f"--seeds {args.seeds}",
        f"--first-seed {args.first_seed}",
        f"--budget {args.budget}",
        f"--round {args.round}",
        f"--crowds '{args.crowds}'",
        *([] if args.pace else ["--no-pace"]),
        *(["--skip-uninformative"] if args.skip_uninformative else []),
    ]
    command = "python bench/robustness/run.py " + " ".join(flags)
    section = report(runs, args, command)
    print(section)
    if args.write_results:
        write_section(section, "## Robustness")


if __name__ == "__main__":
    main()
