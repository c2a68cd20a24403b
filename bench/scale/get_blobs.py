"""SQLite get_blobs: the pair-IN query it used versus the join it uses, at 1,000 and 100,000 items.

Usage: ``python bench/scale/get_blobs.py [--items 100000]``. Fills the blobs table of a fresh
store file (two 3 KB blobs per item) and times reading one grid's 16 random tiles, 21 times per
query; prints the medians and their ratio to the small project's in the same run.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

OLD = "SELECT item, kind, data FROM blobs WHERE project=? AND (item, kind) IN (VALUES {pairs})"
NEW = (
    "WITH w(item, kind) AS (VALUES {pairs}) SELECT w.item, w.kind, b.data FROM w "
    "JOIN blobs b ON b.project=? AND b.item=w.item AND b.kind=w.kind"
)


def main() -> None:
    from crowdgate.store import open_store

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blobs.db"
        open_store(f"sqlite:///{path}").close()  # the real schema
        db = sqlite3.connect(path)
        blob = os.urandom(3000)
        sizes = (("small", 1000), ("big", args.items))
        with db:
            for pid, n in sizes:
                db.executemany(
                    "INSERT INTO blobs (project, item, kind, data) VALUES (?,?,?,?)",
                    ((pid, f"{k:064x}", kind, blob) for k in range(n) for kind in ("thumb", "v0")),
                )
        rng = random.Random(0)
        medians = {}
        for pid, n in sizes:
            for name, query in (("pair IN (before)", OLD), ("join (now)", NEW)):
                times = []
                for _ in range(21):
                    wanted = [(f"{k:064x}", "thumb") for k in rng.sample(range(n), 16)]
                    flat = [v for pair in wanted for v in pair]
                    sql = query.format(pairs=",".join("(?,?)" for _ in wanted))
                    params = [pid, *flat] if query is OLD else [*flat, pid]
                    start = time.perf_counter()
                    rows = db.execute(sql, params).fetchall()
                    times.append(time.perf_counter() - start)
                    assert len(rows) == 16
                medians[pid, name] = 1000 * sorted(times)[10]
        db.close()
    for (pid, name), ms in medians.items():
        base = medians["small", name]
        print(f"{pid:5} {dict(sizes)[pid]:>9,} items  {name:17} {ms:9.3f} ms  x{ms / base:.1f}")


if __name__ == "__main__":
    main()
