"""Aggregation benchmark: accuracy and fit time of crowdgate's aggregators and crowd-kit's.

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/run.py --write-results

The first run creates crowd-kit's environment at ``bench/aggregation/.venv`` (``python -m
venv`` and ``pip install crowd-kit==1.4.2 "scikit-learn<1.6"``) when it is missing.

crowd-kit 1.4.2's Wawa fails with scikit-learn 1.6 and newer, so crowd-kit runs in its own
virtual environment (``--crowdkit-python``) through ``crowdkit_worker.py``; both sides time only
``fit`` on data already in memory, best of ``--repeats`` runs, in the same invocation.
Accuracy is measured on the tasks of each ``truth.csv``; crowdgate breaks ties by its seeded
draw, crowd-kit by its own rule.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from crowdgate.aggregation import AGGREGATORS, DEFAULT_METHOD, read_answers, read_gold

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# shared/ sits beside the repository (CI, the main checkout) or a few levels up (a worktree).
DATA = next(
    (p / "shared/data/crowd" for p in ROOT.parents if (p / "shared/data/crowd").is_dir()),
    ROOT.parent / "shared/data/crowd",
)
sys.path.insert(0, str(HERE.parent))
from results import write_section  # noqa: E402  (bench/results.py)

CROWDKIT = ("MajorityVote", "Wawa", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE")


def datasets(data: Path) -> list[Path]:
    """Return the dataset folders (those with answers.csv and truth.csv), sorted by name."""
    return sorted(p for p in data.iterdir() if (p / "answers.csv").exists())


def accuracy(labels: dict[str, str], truth: dict[str, str]) -> float:
    """Return the share of ``truth`` tasks whose label matches; unlabelled tasks count wrong."""
    return float(np.mean([labels.get(task) == label for task, label in truth.items()]))


def run_ours(folder: Path, repeats: int) -> dict[str, dict[str, object]]:
    """Return ``{method: {"seconds", "labels"}}`` for every crowdgate aggregator on ``folder``."""
    tasks, workers, labels = read_answers(folder / "answers.csv")
    out: dict[str, dict[str, object]] = {}
    for name, cls in AGGREGATORS.items():
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            model = cls().fit(tasks, workers, labels)
            best = min(best, time.perf_counter() - start)
        fitted = dict(zip(model.tasks_.tolist(), model.labels_.tolist(), strict=True))
        out[name] = {"seconds": best, "labels": fitted}
    return out


def command_seconds(folder: Path, repeats: int) -> dict[str, float]:
    """Return wall seconds of whole ``crowdgate aggregate`` processes on ``folder``, best of runs.

    ``cli``: the installed ``crowdgate`` command (start-up of the whole CLI included);
    ``aggregate-only``: ``python -m crowdgate.aggregation``, the same work without the other
    commands' imports, which shows what the aggregation path itself costs.
    """
    exe = Path(sys.executable).with_name("crowdgate")
    commands = {
        "cli": [str(exe), "aggregate"],
        "aggregate-only": [sys.executable, "-m", "crowdgate.aggregation"],
    }
    answers = str(folder / "answers.csv")
    out: dict[str, float] = {}
    for name, argv in commands.items():
        best, best_cpu = float("inf"), float("inf")
        for _ in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([*argv, answers, "-o", os.devnull], check=True)
            best = min(best, time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            best_cpu = min(best_cpu, cpu)
        out[name], out[f"{name} cpu"] = best, best_cpu
    return out


CROWDKIT_REQUIREMENTS = ("crowd-kit==1.4.2", "scikit-learn<1.6")


def ensure_crowdkit_venv(python: str) -> None:
    """Create crowd-kit's virtual environment when ``python`` is its missing default."""
    venv = HERE / ".venv"
    if Path(python).exists() or Path(python) != venv / "bin/python":
        return
    print(f"Creating {venv} with {', '.join(CROWDKIT_REQUIREMENTS)}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "-q", *CROWDKIT_REQUIREMENTS]
    subprocess.run(pip, check=True)


def run_crowdkit(python: str, folders: list[Path], repeats: int) -> dict[str, dict]:
    """Run crowd-kit's aggregators under ``python`` and return its JSON result."""
    ensure_crowdkit_venv(python)
    command = [python, str(HERE / "crowdkit_worker.py"), str(repeats), *map(str, folders)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"crowd-kit run failed ({python}); see the module docstring.\n{done.stderr}")
    return json.loads(done.stdout)


def report(
    results: dict[str, dict[str, dict]],
    truths: dict[str, dict[str, str]],
    command: tuple[str, dict[str, float]] | None = None,
) -> str:
    """Return the markdown tables and the verdict on the targets."""
    names = list(results)
    # Methods in first-seen order; one missing on a set (a partial crowd-kit run) shows n/a.
    methods = list(dict.fromkeys(m for d in names for m in results[d]))
    nan = float("nan")
    acc = {
        m: [accuracy(results[d][m]["labels"], truths[d]) if m in results[d] else nan for d in names]
        for m in methods
    }
    secs = {m: [results[d].get(m, {}).get("seconds", nan) for d in names] for m in methods}
    head = "| method | " + " | ".join(names) + " | mean |\n|---|" + "---|" * (len(names) + 1)
    lines = ["Accuracy on truth.csv tasks:", "", head]
    for m in methods:
        cells = " | ".join(f"{a:.4f}" if a == a else "n/a" for a in acc[m])
        lines.append(f"| {m} | {cells} | {np.mean(acc[m]):.4f} |")
    lines += ["", "Fit seconds (best of repeats):", "", head]
    for m in methods:
        cells = " | ".join(f"{s:.3f}" if s == s else "n/a" for s in secs[m])
        lines.append(f"| {m} | {cells} | {np.mean(secs[m]):.3f} |")
    ours = [m for m in methods if m in AGGREGATORS]
    theirs = [m for m in methods if m.startswith("crowdkit:")]
    default = DEFAULT_METHOD
    best_ours = max(ours, key=lambda m: np.mean(acc[m]))
    lines += [
        "",
        f"- Default `{default}`: mean {np.mean(acc[default]):.4f}; our best mean `{best_ours}`.",
    ]
    if theirs:
        # Judge on the sets every crowd-kit method ran on (all of them in a complete run).
        full = [i for i in range(len(names)) if all(acc[m][i] == acc[m][i] for m in theirs)]
        on = [names[i] for i in full]
        pick = lambda values: np.asarray(values)[full]  # noqa: E731
        per_set_best = np.max([pick(acc[m]) for m in theirs], axis=0)
        rival = max(theirs, key=lambda m: np.mean(pick(acc[m])))
        ours_on = pick(acc[default])
        mv = pick(acc["crowdkit:MajorityVote"])
        below = [d for d, a, b in zip(on, ours_on, mv, strict=True) if a < b]
        gaps = ", ".join(
            f"{d} {a - b:+.4f}" for d, a, b in zip(on, ours_on, per_set_best, strict=True)
        )
        # A partial crowd-kit run (GLAD and MACE take an hour) says which methods it judged.
        ran = ", ".join(m.split(":", 1)[1] for m in theirs)
        count = "six" if len(theirs) == len(CROWDKIT) else f"{len(theirs)} of six"
        lines += [
            f"- Judged on the {len(on)} set(s) where every crowd-kit method of this run ran "
            f"({count}: {ran}): {', '.join(on)}.",
            f"- Per-set best of crowd-kit's {count} (chosen after the fact with truth): mean "
            f"{np.mean(per_set_best):.4f}; best single crowd-kit method `{rival}` "
            f"{np.mean(pick(acc[rival])):.4f}. `{default}` mean {np.mean(ours_on):.4f} -> "
            f"{'MET' if np.mean(ours_on) >= np.mean(per_set_best) else 'MISSED'}.",
            f"- `{default}` minus per-set best crowd-kit: {gaps}.",
            f"- `{default}` at or above crowd-kit MajorityVote on every such set -> "
            + ("MET." if not below else f"MISSED on {', '.join(below)}."),
        ]
        if "ds" in secs and "crowdkit:DawidSkene" in secs:
            ratio = [c / o for c, o in zip(secs["crowdkit:DawidSkene"], secs["ds"], strict=True)]
            lines.append(
                "- Fit speed-up of our `ds` over crowd-kit DawidSkene: "
                + ", ".join(f"{r:.1f}x" for r in ratio)
            )
    if command is not None:
        big, timing = command
        ck_fit = results[big].get("crowdkit:DawidSkene", {})
        ck, ck_cpu = ck_fit.get("seconds"), ck_fit.get("cpu_seconds")
        line = (
            f"- Whole `crowdgate aggregate` process on `{big}` (default method, start-up "
            f"included, best of repeats, wall / CPU): {timing['cli']:.2f} / "
            f"{timing['cli cpu']:.2f} s with the full CLI, {timing['aggregate-only']:.2f} / "
            f"{timing['aggregate-only cpu']:.2f} s as `python -m crowdgate.aggregation`; "
            f"`{default}` fit {results[big][default]['seconds']:.2f} s"
        )
        if ck is not None:
            verdict = "MET" if timing["cli"] <= ck else "MISSED"
            line += f"; crowd-kit DawidSkene fit alone {ck:.2f} s wall -> {verdict}"
        if ck_cpu is not None:
            verdict = "MET" if timing["cli cpu"] <= ck_cpu else "MISSED"
            alone = "MET" if timing["aggregate-only cpu"] <= ck_cpu else "MISSED"
            line += (
                f"; {ck_cpu:.2f} s CPU -> {verdict} for the full CLI, {alone} for the "
                "aggregation path"
            )
        lines.append(line + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark, print the report and return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--repeats", type=int, default=3)
    default_python = os.environ.get("CROWDGATE_CROWDKIT_PYTHON", str(HERE / ".venv/bin/python"))
    parser.add_argument("--crowdkit-python", default=default_python)
    parser.add_argument("--no-crowdkit", action="store_true", help="Run crowdgate only.")
    parser.add_argument(
        "--crowdkit-json",
        type=Path,
        nargs="+",
        help="Read crowd-kit's results from these outputs of crowdkit_worker.py (merged by "
        "set and method) instead of running it, which takes tens of minutes on a loaded "
        "machine; crowd-kit's timings then come from those runs.",
    )
    parser.add_argument("--write-results", action="store_true", help="Update bench/RESULTS.md.")
    parser.add_argument(
        "--heading",
        default="## Aggregation",
        help="The RESULTS.md section to replace, or to append when no section has it.",
    )
    args = parser.parse_args(argv)
    folders = datasets(args.data)
    truths = {f.name: read_gold(f / "truth.csv") for f in folders}
    results = {f.name: run_ours(f, args.repeats) for f in folders}
    if args.crowdkit_json is not None:
        theirs: dict[str, dict] = {}
        for path in args.crowdkit_json:
            for name, per_method in json.loads(path.read_text()).items():
                theirs.setdefault(name, {}).update(per_method)
    elif not args.no_crowdkit:
        theirs = run_crowdkit(args.crowdkit_python, folders, args.repeats)
    if args.crowdkit_json is not None or not args.no_crowdkit:
        for name, per_method in theirs.items():
            results[name].update({f"crowdkit:{m}": r for m, r in per_method.items()})
    # The largest set by answers decides the whole-command timing target.
    big = max(folders, key=lambda f: (f / "answers.csv").stat().st_size)
    text = report(results, truths, (big.name, command_seconds(big, args.repeats)))
    print(text)
    if args.write_results:
        command = "python " + " ".join(["bench/aggregation/run.py", *(argv or sys.argv[1:])])
        body = f"{args.heading}\n\nCommand: `{command}`\n\n{text}\n"
        write_section(body, args.heading)
    return text


if __name__ == "__main__":
    main()
