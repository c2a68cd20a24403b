"""Time whole `crowdgate aggregate` processes beside crowd-kit DawidSkene's fit, in one run.

The issue's target compares the whole command (process start, imports, reading the CSV, the
default method's fit, writing the labels) with crowd-kit's DawidSkene ``fit`` alone on the
largest shared set. Hyperfine-style: ``--warmup`` unmeasured runs, then ``--repeats`` runs of
each command, alternated so that load changes hit both alike; the median of wall and CPU
seconds (user + system of the child, from ``getrusage``) is reported, with the load average
before and after. crowd-kit runs in its own environment through ``crowdkit_worker.py`` (see
``run.py``), best of its repeats, as ``run.py`` reports it.

Usage (from the repository root)::

    .venv/bin/python bench/aggregation/whole_command.py [--set trec2011_zhang] [--repeats 7] \
        [--baseline /tmp/base/service]

``--baseline`` adds ``python -m crowdgate.aggregation`` run from another tree's ``service``
folder (for example ``git archive main service | tar -x -C /tmp/base``), alternated with
the others, so that a change is timed against the code before it in the same minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import DATA, ensure_crowdkit_venv  # noqa: E402  (bench/aggregation/run.py)


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Return wall and CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def crowdkit_ds(python: str, folder: Path, repeats: int) -> dict[str, float]:
    """Return crowd-kit DawidSkene's best fit wall and CPU seconds on ``folder``."""
    ensure_crowdkit_venv(python)
    env = {**os.environ, "CROWDKIT_METHODS": "DawidSkene"}
    command = [python, str(HERE / "crowdkit_worker.py"), str(repeats), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    result = json.loads(done.stdout)[folder.name]["DawidSkene"]
    return {"wall": result["seconds"], "cpu": result["cpu_seconds"]}


def main() -> None:
    """Print the medians, crowd-kit's fit and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--set", help="Dataset folder name (default: the largest answers.csv).")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--method", help="Pass --method to the commands (default: theirs).")
    parser.add_argument("--baseline", type=Path, help="Another tree's service folder to time.")
    default_python = os.environ.get("CROWDGATE_CROWDKIT_PYTHON", str(HERE / ".venv/bin/python"))
    parser.add_argument("--crowdkit-python", default=default_python)
    args = parser.parse_args()
    folders = [p for p in args.data.iterdir() if (p / "answers.csv").exists()]
    folder = (
        args.data / args.set
        if args.set
        else max(folders, key=lambda f: (f / "answers.csv").stat().st_size)
    )
    answers = str(folder / "answers.csv")
    extra = ["--method", args.method] if args.method else []
    commands = {
        "crowdgate aggregate": [str(Path(sys.executable).with_name("crowdgate")), "aggregate"],
        "python -m crowdgate.aggregation": [sys.executable, "-m", "crowdgate.aggregation"],
    }
    envs: dict[str, dict[str, str] | None] = dict.fromkeys(commands)
    if args.baseline is not None:
        name = f"baseline {args.baseline}: python -m crowdgate.aggregation"
        commands[name] = [sys.executable, "-m", "crowdgate.aggregation"]
        envs[name] = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
    argvs = {name: [*argv, answers, *extra, "-o", os.devnull] for name, argv in commands.items()}
    load_before = os.getloadavg()
    for _ in range(args.warmup):
        for name, argv in argvs.items():
            timed(argv, envs[name])
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in argvs}
    for _ in range(args.repeats):
        for name, argv in argvs.items():
            runs[name].append(timed(argv, envs[name]))
    ck = crowdkit_ds(args.crowdkit_python, folder, max(args.repeats // 2, 3))
    load_after = os.getloadavg()
    print(
        f"Set `{folder.name}`; {args.repeats} runs each after {args.warmup} warm-up; load "
        f"average {load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} CPUs)."
    )
    print("")
    print("| command | median wall s | median CPU s | CPU / crowd-kit DS fit CPU |")
    print("|---|---|---|---|")
    for name, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"| `{name}` | {wall:.3f} | {cpu:.3f} | {cpu / ck['cpu']:.2f}x |")
    print(f"| crowd-kit DawidSkene `fit` alone (best) | {ck['wall']:.3f} | {ck['cpu']:.3f} | 1x |")


if __name__ == "__main__":
    main()
