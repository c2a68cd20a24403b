"""``crowdgate import`` of real JPEG photos: images per second and peak memory, whole journey.

The photos are crops of the two sample photographs scikit-learn ships (``china.jpg`` and
``flower.jpg``, so nothing is downloaded): a random window of 40 to 100 % of each side,
mirrored half the time, resized to 320x240 and saved as JPEG at quality 75 to 95. Each size is
imported by the real command line into a fresh SQLite data directory, once with ``--jobs 1``
(threads in one process: the importer as it was) and once with one process per core, in the
same run since the machine is shared. Memory is the summed PSS (shared pages split among their
sharers) of the command and its worker processes, sampled every 0.2 s; its value at 10, 50 and
90 % of the files shows whether it stays flat.

    python bench/import/run.py --sizes 10000,100000 --baseline-max 10000 --write-results
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from results import write_section  # noqa: E402

CACHE = Path(os.environ.get("CROWDGATE_BENCH_CACHE", "/tmp/crowdgate-bench-import"))
PER_FOLDER = 1000  # files per sub-folder, as a real photo collection is split


def _write_chunk(args: tuple[Path, int, int, tuple[int, int]]) -> int:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    folder, start, stop, size = args
    photos = load_sample_images().images
    rng = np.random.default_rng(start)
    for n in range(start, stop):
        pixels = photos[n % len(photos)]
        height, width = pixels.shape[:2]
        scale = rng.uniform(0.4, 1.0)
        ch, cw = int(height * scale), int(width * scale)
        top, left = rng.integers(0, height - ch + 1), rng.integers(0, width - cw + 1)
        crop = Image.fromarray(pixels[top : top + ch, left : left + cw])
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        # larger than the 640x427 sources: upscaled (blurry, but decoded at full size)
        crop = crop.resize(size, Image.Resampling.BILINEAR)
        out = io.BytesIO()
        crop.save(out, "JPEG", quality=int(rng.integers(75, 96)))
        path = folder / f"{n // PER_FOLDER:04d}" / f"photo-{n:07d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(out.getvalue())
    return stop - start


def photo_set(n: int, size: tuple[int, int] = (320, 240)) -> Path:
    """Return a folder of ``n`` generated JPEG photos of ``size`` (made once, then reused)."""
    folder = CACHE / (f"photos-{n}" if size == (320, 240) else f"photos-{n}-{size[0]}x{size[1]}")
    done = folder / ".complete"
    if done.exists():
        return folder
    chunks = [(folder, s, min(n, s + 2000), size) for s in range(0, n, 2000)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_write_chunk, chunks))
    done.write_text(str(n))
    return folder


def photo_shape(text: str) -> tuple[int, int]:
    """Return ``WxH`` as a (width, height) pair."""
    width, height = text.lower().split("x")
    return int(width), int(height)


def _tree_sample(pid: int) -> tuple[int, dict[int, int]]:
    """Summed proportional set size of ``pid`` and its descendants in KiB, and the CPU clock
    ticks (user + system) each of them has used so far.

    PSS splits each shared page among the processes sharing it, so worker processes forked
    from one parent are not counted as if each held its own copy of the libraries.
    """
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry.name}/smaps_rollup") as fh:
                pss = next(int(ln.split()[1]) for ln in fh if ln.startswith("Pss:"))
        except (OSError, IndexError, ValueError, StopIteration):
            continue
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        rss[child] = pss
        ticks[child] = int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    total, todo, mine = 0, [pid], {}
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        if current in ticks:
            mine[current] = ticks[current]
        todo.extend(children.get(current, []))
    return total, mine


def run_import(
    folder: Path, n: int, jobs: int, work: Path, tree: Path | None = None
) -> dict[str, float]:
    """Import ``folder`` with the command line; return rate, peak and sampled memory.

    ``tree``: a checkout whose ``service/`` is imported instead of the installed package (the
    code as it was, for a baseline in the same run).
    """
    data = work / f"data-{n}-jobs{jobs}"
    subprocess.run(["rm", "-rf", str(data)], check=True)
    env = {**os.environ, "CROWDGATE_DATA_DIR": str(data), "CROWDGATE_SECRET_KEY": "bench"}
    env.pop("CROWDGATE_STORE", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "service")
    crowdgate = [sys.executable, "-m", "crowdgate"]
    subprocess.run(
        [*crowdgate, "project", "create", "photos", "--labels", "a,b"],
        env=env,
        check=True,
        capture_output=True,
    )
    log = work / f"import-{n}-jobs{jobs}.log"
    start = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*crowdgate, "import", "photos", str(folder), "--jobs", str(jobs), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        samples: list[tuple[float, int]] = []
        cpu: dict[int, int] = {}  # clock ticks per process of the tree, as last sampled
        while proc.poll() is None:
            pss, ticks = _tree_sample(proc.pid)
            samples.append((time.perf_counter() - start, pss))
            cpu.update(ticks)
            time.sleep(0.2)
        out = proc.stdout.read() if proc.stdout else ""
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"import failed: {log.read_text()[-2000:]}")
    import json

    report = json.loads(out)
    # Two crops can normalize to the same pixels (the item key): those merge as duplicates,
    # after the same decode and normalize, so they count as imported photos.
    assert report["added"] + report["duplicates"] == n and not report["rejected"], report

    def at(share: float) -> float:
        moment = seconds * share
        return min(samples, key=lambda s: abs(s[0] - moment))[1] / 1024

    hz = os.sysconf("SC_CLK_TCK")
    parent = cpu.get(proc.pid, 0) / hz
    workers = sum(t for p, t in cpu.items() if p != proc.pid) / hz
    return {
        # CPU ms per photo of the command's own process (reading, store writes) and of the
        # rest of its tree (forkserver and workers: decode, normalize, variants, features);
        # sampled every 0.2 s, so the last fraction of a second is not counted
        "parent_ms": 1000 * parent / n,
        "workers_ms": 1000 * workers / n,
        "seconds": seconds,
        "rate": n / seconds,
        "peak_mib": max(s[1] for s in samples) / 1024,
        "mib_10": at(0.1),
        "mib_50": at(0.5),
        "mib_90": at(0.9),
        "duplicates": report["duplicates"],
    }


def main() -> None:
    """Generate the photo sets, import each, print and optionally record the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10_000,
        help="Run the --jobs 1 baseline only at sizes up to this.",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="Also import with this checkout's code (e.g. a git worktree of the commit before), "
        "same --jobs, at sizes up to --baseline-max.",
    )
    parser.add_argument(
        "--no-serial",
        action="store_true",
        help="Skip the --jobs 1 baseline (threads in one process).",
    )
    parser.add_argument(
        "--photo-size",
        default="320x240",
        help="WxH of the generated photos (e.g. 2048x1536: a camera-sized decode).",
    )
    parser.add_argument("--heading", default="## Import")
    parser.add_argument("--write-results", action="store_true")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    shape = photo_shape(opts.photo_size)
    work = CACHE / "runs"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        t = time.perf_counter()
        folder = photo_set(n, shape)
        print(f"{n} photos ready in {time.perf_counter() - t:.0f} s", flush=True)
        builds: list[tuple[str, int, Path | None]] = [("new", opts.jobs, None)]
        if n <= opts.baseline_max and opts.baseline_tree is not None:
            builds.insert(0, ("as-was", opts.jobs, opts.baseline_tree))
        if n <= opts.baseline_max and not opts.no_serial:
            builds.insert(0, ("baseline", 1, None))
        for build, jobs, tree in builds:
            before = os.getloadavg()[0]
            row = run_import(folder, n, jobs, work, tree)
            rows.append((n, build, jobs, row, (before, os.getloadavg()[0])))
            print(n, build, jobs, {k: round(v, 1) for k, v in row.items()}, flush=True)
    table = [
        "| images | build | processes | seconds | images/s | CPU ms/photo parent + workers "
        "| peak PSS MiB | MiB at 10/50/90 % | load avg start / end |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, build, jobs, row, (before, after) in rows:
        table.append(
            f"| {n:,} | {build} | {jobs} | {row['seconds']:.0f} | {row['rate']:.1f} "
            f"| {row['parent_ms']:.1f} + {row['workers_ms']:.1f} "
            f"| {row['peak_mib']:.0f} | {row['mib_10']:.0f} / {row['mib_50']:.0f} / "
            f"{row['mib_90']:.0f} | {before:.1f} / {after:.1f} |"
        )
    ratios = []
    for n in sizes:
        got = {b: r for m, b, _, r, _ in rows if m == n}
        for base in ("baseline", "as-was"):
            if base in got:
                ratio = got["new"]["rate"] / got[base]["rate"]
                ratios.append(f"- {n:,} images: new/{base} rate {ratio:.2f}x")
    section = "\n".join(
        [
            opts.heading,
            "",
            f"Command: `python bench/import/run.py {' '.join(sys.argv[1:])}`",
            "",
            f"Whole `crowdgate import` of generated {opts.photo_size} JPEG crops of "
            "scikit-learn's sample photos into a fresh SQLite data directory (decode, normalize, "
            "thumbnail, features, store writes; the default 16 tile variants for every item "
            "before tiles were deferred, for the gold and the first 240 open items after); "
            f"{os.cpu_count()} cores shared "
            "with other work. Baseline: `--jobs 1` (threads in one process); as-was: the code "
            "of `--baseline-tree` with the same processes.",
            "",
            *table,
            "",
            *ratios,
            "",
        ]
    )
    print(section)
    if opts.write_results:
        write_section(section, opts.heading)


if __name__ == "__main__":
    main()
