"""The one-time count of a project made before the counters: its time on SQLite and Redis.

Usage: ``python bench/scale/backfill.py [--items 100000]``. Builds a project as bench/scale
does, removes its derived counters and the marker (as a data dir from before them has none),
then times the count: SQLite when the store is opened again, Redis on the first stats read.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import build, start_redis


def main() -> None:
    from crowdgate.store import counters, open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    names = (counters.VERSION_KEY, *counters.DERIVED)
    for backend in ("sqlite", "redis"):
        workdir = Path(tempfile.mkdtemp(prefix="cg-backfill-"))
        proc = None
        try:
            if backend == "redis":
                proc, uri = start_redis(workdir)
            else:
                uri = f"sqlite:///{workdir / 'old.db'}"
            store = open_store(uri)
            build(store, "big", args.items, False, 2000)
            before = store.get_stats("big")
            if backend == "sqlite":
                store.close()
                with sqlite3.connect(workdir / "old.db") as db:
                    for name in names:
                        sql = "DELETE FROM stats WHERE substr(name, 1, ?) = ?"
                        db.execute(sql, (len(name), name))
                db.close()
                start = time.perf_counter()
                store = open_store(uri)
            else:
                key = "cg:{p:big}:stats"
                store.r.hdel(key, *[k for k in store.r.hkeys(key) if k.decode().startswith(names)])
                start = time.perf_counter()
            after = store.get_stats("big")
            seconds = time.perf_counter() - start
            assert after == before, (before, after)
            print(f"{backend}: counted {args.items:,} items and their votes in {seconds:.2f} s")
            store.close()
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
