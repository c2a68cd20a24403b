"""Trainer passes of several service trees on copies of one built SQLite project.

Usage::

    python bench/scale/trainer_ab.py BUILT_DB LABEL=SERVICE_DIR [LABEL=SERVICE_DIR ...]
                                     [--env KEY=VALUE ...] [--json OUT]

``BUILT_DB`` is a file ``bench/scale/run.py --save-db`` kept (project ``big``). Each tree's
pass (``trainer_pass.py``, a fresh interpreter) runs on its own fresh copy, one after another
in this one run, so every tree starts from the same project under the same load. Prints one
JSON line per pass (wall and CPU seconds per step, peak RSS, load average) and then the
ratios of each pass's wall and CPU time to the first one's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("trees", nargs="+", help="LABEL=SERVICE_DIR, the first is the baseline")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every pass")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    script = Path(__file__).resolve().parent / "trainer_pass.py"
    env = dict(os.environ, **dict(e.split("=", 1) for e in args.env))
    results = []
    for spec in args.trees:
        label, service = spec.split("=", 1)
        with tempfile.TemporaryDirectory(prefix="cg-trainer-ab-") as tmp:
            db = Path(tmp) / "scale.db"
            shutil.copyfile(args.db, db)
            cmd = [
                sys.executable,
                str(script),
                f"sqlite:///{db}",
                (Path(tmp) / "blobs").as_uri(),
                "big",
                "--service",
                service,
            ]
            reply = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env)
        out = {"tree": label, **json.loads(reply.stdout.strip().splitlines()[-1])}
        results.append(out)
        print(json.dumps(out), flush=True)
    base = results[0]
    for r in results[1:]:
        ratio = {
            "tree": r["tree"],
            "wall_speedup": round(base["total_s"] / r["total_s"], 2),
            "cpu_speedup": round(base["cpu_s"] / r["cpu_s"], 2),
        }
        print(json.dumps(ratio), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
