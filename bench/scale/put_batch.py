"""The store's bulk insert alone (``Store.put_items``), per backend: items/s and CPU per item.

Usage::

    python bench/scale/put_batch.py [--items 20000] [--batch 1000] [--backends sqlite,redis]
                                    [--features] [--service DIR] [--repeat 3]

The entries (bench/scale/run.py's mix: a fifth gold, three tenths settled, small distinct
tiles as blobs) are made before the clock starts, so only the store's write is timed. Each
repeat writes a fresh project of ``--items`` into the same store. Printed per run: wall items/s,
this process's CPU microseconds per item (``time.process_time``) and, on Redis, the
redis-server's (from ``/proc/<pid>/stat``). ``--service`` points at another checkout's
``service`` folder, to compare a tree before a change in the same sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def server_cpu_s(pid: int) -> float:
    """Return the user plus system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[dict]:
    """Write ``--repeat`` projects of ``--items`` on ``backend``; return each run's figures."""
    import run  # bench/scale/run.py: its entries and its throwaway redis-server

    from crowdgate import manage
    from crowdgate.store import open_store

    proc = None
    if backend == "redis":
        proc, uri = run.start_redis(workdir)
    else:
        uri = f"sqlite:///{workdir / 'put.db'}"
    out = []
    try:
        store = open_store(uri, blobs=(workdir / "blobs").as_uri())
        for k in range(args.repeat):
            pid = f"p{k}"
            manage.create_project(store, pid, labels=run.LABELS)
            rows = list(run.entries(pid, args.items, args.features))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            srv0 = server_cpu_s(proc.pid) if proc else 0.0
            added = store.put_items(rows, batch=args.batch)
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            srv = (server_cpu_s(proc.pid) - srv0) if proc else None
            assert added == args.items, (added, args.items)
            out.append(
                {
                    "backend": backend,
                    "items_per_s": round(added / wall),
                    "client_cpu_us_per_item": round(cpu / added * 1e6, 1),
                    "server_cpu_us_per_item": round(srv / added * 1e6, 1) if proc else None,
                }
            )
            print(json.dumps(out[-1]), flush=True)
        store.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--features", action="store_true", help="store 424-float feature vectors")
    parser.add_argument("--service", type=Path, default=HERE.parents[1] / "service")
    args = parser.parse_args()
    sys.path.insert(0, str(args.service.resolve()))
    sys.path.insert(0, str(HERE))
    for backend in args.backends.split(","):
        workdir = Path(tempfile.mkdtemp(prefix=f"cg-put-{backend}-"))
        try:
            one_backend(backend, args, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
