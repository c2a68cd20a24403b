"""Whole-process start-up of ``crowdgate --help`` and ``crowdgate aggregate --help``.

Runs this checkout's CLI and a baseline checkout (a git ref, extracted with ``git archive``)
interleaved in the same run, since the machine is shared and noisy, and prints medians and
their ratio. ``python -c pass`` is the floor no CLI can beat.

    python bench/cli_start/run.py --baseline-ref 6b710fa --repeats 15 --write-results
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from results import write_section  # noqa: E402

CASES = {"--help": ["--help"], "aggregate --help": ["aggregate", "--help"]}
RUN = "import sys; from crowdgate.cli import main; main(sys.argv[1:])"


def extract(ref: str, into: Path) -> Path:
    """Extract ``service/`` of git ``ref`` into ``into`` and return its path."""
    archive = into / "base.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", ref, "service"], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "service"


def seconds(pythonpath: Path | None, args: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else dict(os.environ)
    code = RUN if args else "pass"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    """Measure and print (and optionally record) the start-up times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default="6b710fa")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--write-results", action="store_true")
    opts = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        base = extract(opts.baseline_ref, Path(tmp))
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for args in CASES.values():  # warm-up: write .pyc files, fill the page cache
            seconds(base, args), seconds(ROOT / "service", args)
        for _ in range(opts.repeats):
            runs.setdefault(("floor", "python -c pass"), []).append(seconds(None, []))
            for name, args in CASES.items():
                runs.setdefault(("baseline", name), []).append(seconds(base, args))
                runs.setdefault(("new", name), []).append(seconds(ROOT / "service", args))
    load_after = os.getloadavg()
    rows = [
        "| command | build | wall median s | wall min s | wall max s | CPU median s |",
        "|---|---|---|---|---|---|",
    ]
    median: dict[tuple[str, str], float] = {}
    for (build, name), pairs in runs.items():
        wall = [w for w, _ in pairs]
        median[build, name] = statistics.median(wall)
        rows.append(
            f"| `{name}` | {build} | {median[build, name]:.3f} | {min(wall):.3f} "
            f"| {max(wall):.3f} | {statistics.median(c for _, c in pairs):.3f} |"
        )
    ratios = [
        f"- `crowdgate {name}`: new/baseline wall median "
        f"{median['new', name] / median['baseline', name]:.3f} "
        f"({median['new', name]:.3f} s; target < 0.3 s)"
        for name in CASES
    ]
    load = f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (2 cores, shared)"
    section = "\n".join(
        [
            "## CLI start-up",
            "",
            f"Command: `python bench/cli_start/run.py --baseline-ref {opts.baseline_ref} "
            f"--repeats {opts.repeats} --write-results`",
            "",
            f"Whole process, {opts.repeats} interleaved runs each; baseline is git "
            f"{opts.baseline_ref} (before lazy commands); {load}.",
            "",
            *rows,
            "",
            *ratios,
            "",
        ]
    )
    print(section)
    if opts.write_results:
        write_section(section, "## CLI start-up")


if __name__ == "__main__":
    main()
