"""CPU time per photo of each import stage, this code against another checkout, interleaved.

On a machine shared with other work, images per second mostly measure the others' load; the
CPU seconds a photo costs this process are steadier, and alternating the two builds round by
round exposes both to the same load. Each round runs one subprocess per build over the same
generated JPEG photos (320x240 unless ``--photo-size``: ``run.py``'s set) and
measures ``time.process_time`` per stage: normalize (decode, orient, bound, WebP encode,
thumbnail), the default 16 tile variants, and the built-in features.

    python bench/import/cpu.py --baseline-tree /tmp/ingest-base --photos 200 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def measure(folder: Path, photos: int) -> dict[str, float]:
    """Return the CPU milliseconds per photo of each stage (runs in the build's process)."""
    import inspect

    from crowdgate.config import Settings

    try:
        from crowdgate.features import extract_features
    except ModuleNotFoundError:  # a build from before the features left crowdgate.committee
        from crowdgate.committee.features import extract_features
    from crowdgate.ingestion.images import make_variants, normalize_image

    settings = Settings()
    # what a new project's import makes: JPEG tiles where the build has them
    accepts = inspect.signature(make_variants).parameters
    options = {"fmt": "jpeg"} if "fmt" in accepts else {}
    # and JPEG thumbnails where the build makes them (projects whose tiles are deferred)
    thumb = (
        {"thumb_format": "jpeg"}
        if "thumb_format" in inspect.signature(normalize_image).parameters
        else {}
    )
    files = sorted(folder.rglob("*.jpg"))[:photos]
    datas = [f.read_bytes() for f in files]
    spent = {"normalize": 0.0, "variants": 0.0, "features": 0.0}
    for seed, data in enumerate(datas):
        t0 = time.process_time()
        norm = normalize_image(
            data,
            max_pixels=settings.max_image_pixels,
            max_side_px=settings.max_side_px,
            thumb_px=settings.thumb_px,
            max_file_bytes=settings.max_file_bytes,
            **thumb,
        )
        t1 = time.process_time()
        if "base" in accepts:  # the build shares one shrink with the thumbnail
            options["base"] = norm.base
        make_variants(norm.image, settings.tile_variants, seed, size=settings.thumb_px, **options)
        t2 = time.process_time()
        extract_features(norm.image)
        t3 = time.process_time()
        spent["normalize"] += t1 - t0
        spent["variants"] += t2 - t1
        spent["features"] += t3 - t2
    out = {k: 1000 * v / len(datas) for k, v in spent.items()}
    out["total"] = sum(out.values())
    out["variants_count"] = settings.tile_variants
    return out


def main() -> None:
    """Alternate the builds round by round; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-tree", type=Path, required=True)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photo-size", default="320x240", help="WxH of the generated photos.")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        print(json.dumps(measure(opts.worker, opts.photos)))
        return
    sys.path.insert(0, str(ROOT / "bench" / "import"))
    from run import photo_set, photo_shape

    folder = photo_set(opts.photos, photo_shape(opts.photo_size))
    builds = {"as-was": opts.baseline_tree / "service", "new": ROOT / "service"}
    got: dict[str, list[dict[str, float]]] = {b: [] for b in builds}
    load = [os.getloadavg()[0]]
    for _ in range(opts.rounds):
        for build, service in builds.items():
            env = {**os.environ, "PYTHONPATH": str(service)}
            cmd = [sys.executable, __file__, "--baseline-tree", ".", "--worker", str(folder)]
            cmd += ["--photos", str(opts.photos)]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            got[build].append(json.loads(out.stdout))
        load.append(os.getloadavg()[0])
    print(
        f"CPU ms per photo, median of {opts.rounds} rounds of {opts.photos} photos; load avg "
        f"{min(load):.1f}-{max(load):.1f}"
    )
    print("| stage | as-was | new | as-was / new |")
    print("|---|---|---|---|")
    for stage in ("normalize", "variants", "features", "total"):
        old = statistics.median(r[stage] for r in got["as-was"])
        new = statistics.median(r[stage] for r in got["new"])
        print(f"| {stage} | {old:.1f} | {new:.1f} | {old / new:.2f}x |")


if __name__ == "__main__":
    main()
