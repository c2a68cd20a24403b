"""Export a 100,000-item project in each format; print items per second and peak memory.

Usage: ``python bench/export/run.py [--items 100000] [--store sqlite:///path] [--workdir D]``.
The project is built once (real 64x64 WebP images, a fifth gold, half settled, a fifth with a
committee label). Each export then runs in a fresh child process, so its peak resident set
(``ru_maxrss``) is that of the export alone; the same is measured on a tenth of the items to
show that memory stays flat as the project grows.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("csv", "jsonl", "imagefolder", "labelstudio")


def build(store_uri: str, pid: str, n: int) -> None:
    """Create project ``pid`` with ``n`` items straight through the store."""
    from PIL import Image

    from crowdgate import manage
    from crowdgate.models import GOLD, SETTLED, UNLABELED, Item
    from crowdgate.store import open_store

    store = open_store(store_uri)
    if store.get_project(pid) is not None:
        return
    manage.create_project(store, pid, labels=["even", "odd"])
    committee = []
    for k in range(n):
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (k % 251, (k // 251) % 251, 90)).save(buf, "WEBP")
        image = buf.getvalue() + k.to_bytes(4, "big")  # distinct bytes, distinct ids
        label = "odd" if k % 2 else "even"
        state = GOLD if k % 5 == 0 else SETTLED if k % 2 == 0 else UNLABELED
        item = Item(
            project=pid,
            id=hashlib.sha256(image).hexdigest(),
            filename=f"{k}.png",
            state=state,
            known_label=label if state == GOLD else None,
            label=label if state != UNLABELED else None,
            confidence=0.8 + 0.2 * (k % 7) / 6 if state == SETTLED else None,
            votes=3,
            settled_at=1.7e9 + k if state == SETTLED else None,
        )
        store.put_item(item, {"image": image, "thumb": image}, None)
        if state == UNLABELED and k % 5 == 1:
            committee.append((item.id, label, 0.9))
    store.set_committee_labels(pid, 1, committee)
    store.close()


def child(store_uri: str, pid: str, fmt: str, out: str) -> None:
    """Run one export to ``out`` and print its figures as JSON."""
    from crowdgate.export import ExportOptions, export_chunks
    from crowdgate.store import open_store

    store = open_store(store_uri)
    project = store.get_project(pid)
    items = sum(store.count_items(pid).values())
    options = ExportOptions(include_committee=True, validation_fraction=0.2, seed=0)
    start = time.perf_counter()
    size = 0
    with open(out, "wb") as f:
        for chunk in export_chunks(store, project, fmt, options):
            f.write(chunk)
            size += len(chunk)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"items": items, "seconds": seconds, "bytes": size, "peak_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--store", default=None, help="store URI (default: SQLite in workdir)")
    parser.add_argument("--child", nargs=4, metavar=("STORE", "PROJECT", "FORMAT", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crowdgate-bench-export-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store_uri = args.store or f"sqlite:///{workdir / 'bench.db'}"
    sizes = {"small": args.items // 10, "large": args.items}
    for pid, n in sizes.items():
        t = time.perf_counter()
        build(store_uri, pid, n)
        print(f"built {pid}: {n} items in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    print(
        "| format | items | seconds | items/s | output MiB | peak RSS MiB (10% / 100% of items) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for fmt in FORMATS:
        runs = {}
        for pid in sizes:
            out = workdir / f"{pid}.{fmt}"
            done = subprocess.run(
                [sys.executable, __file__, "--child", store_uri, pid, fmt, str(out)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[pid] = json.loads(done.stdout)
            out.unlink()
        big = runs["large"]
        print(
            f"| {fmt} | {big['items']:,} | {big['seconds']:.1f} | "
            f"{big['items'] / big['seconds']:,.0f} | {big['bytes'] / 2**20:.1f} | "
            f"{runs['small']['peak_mib']:.0f} / {big['peak_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
