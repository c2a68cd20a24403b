"""CPU and wall time a queued item's tiles cost the trainer, one by one against in batches.

Runs on the data directory ``run.py`` leaves behind (``<cache>/runs/data-<n>-jobs<k>``: a
project ``photos`` whose tiles are deferred), taking untiled open items 64 at a time and
alternating the two ways round by round in this process.

    python bench/import/tiles.py /tmp/crowdgate-bench-import/runs/data-10000-jobs2
"""

from __future__ import annotations

import argparse
import os
import time

from crowdgate.config import Settings
from crowdgate.ingestion.tiles import make_tiles
from crowdgate.store import open_store


def main() -> None:
    """Alternate one-by-one and batched tiling of untiled items; print ms per item."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--per-round", type=int, default=64)
    opts = parser.parse_args()
    env = {"CROWDGATE_DATA_DIR": opts.data_dir, "CROWDGATE_SECRET_KEY": "bench"}
    settings = Settings.from_env(env)
    store = open_store(settings.store_uri)
    ids = [i.id for i in store.list_items("photos", state="unlabeled", limit=4000)]
    todo = store.untiled("photos", ids)
    print(f"untiled of the first {len(ids)} open items: {len(todo)}")
    for rnd in range(opts.rounds):
        for mode in ("one by one", "batches of 32"):
            chunk, todo = todo[: opts.per_round], todo[opts.per_round :]
            cpu, wall = time.process_time(), time.perf_counter()
            if mode == "one by one":
                made = sum(make_tiles(store, "photos", [i], settings) for i in chunk)
            else:
                made = make_tiles(store, "photos", chunk, settings)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"round {rnd} {mode}: {made} items, {1000 * cpu / max(made, 1):.1f} ms CPU and "
                f"{1000 * wall / max(made, 1):.1f} ms wall each; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
