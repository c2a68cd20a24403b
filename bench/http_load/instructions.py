"""Instructions per hot request, counted by callgrind: a figure the machine's load leaves alone.

The CPU time of a request moves by 2x when other work shares the cores; the number of
instructions it executes does not (valgrind counts them, user space only: system calls'
kernel time is not in it). Whole flows (challenge, answer, siteverify, each from a new voter,
as flow.py's clients) and a ``/healthz`` are called through WSGI, in process, on a demo project;
each route is counted in a pass of its own (callgrind collects only around that route's calls,
through its client requests), after a warm-up.

    python bench/http_load/instructions.py --store sqlite --flows 50
    python bench/http_load/instructions.py --store redis --service /tmp/base/service

Needs valgrind with its headers (``valgrind/callgrind.h``; Debian: `apt-get install valgrind`, not
installed by scripts/system-deps.sh since no test needs it) and a C compiler: a five-line helper
that makes the client requests is built in a temporary folder. About 3 minutes for 50 flows.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ("challenge", "answer", "siteverify", "healthz")
HELPER = """
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def outer(args: argparse.Namespace) -> None:
    """Build the helper, run this script under callgrind, print instructions per request."""
    work = Path(tempfile.mkdtemp(prefix="crowdgate-instructions-"))
    try:
        (work / "cg.c").write_text(HELPER)
        lib = work / "libcg.so"
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", lib, work / "cg.c"], check=True)
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--collect-atstart=no",
            f"--callgrind-out-file={work}/cg.%p",
            sys.executable,
            __file__,
            "--inner",
            str(lib),
            "--store",
            args.store,
            "--flows",
            str(args.flows),
            "--service",
            str(args.service),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found: dict[str, float] = {}
        for path in glob.glob(f"{work}/cg.*"):
            text = Path(path).read_text(errors="replace")[:200_000]
            route = re.search(r"Client Request: (\w+)", text)
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if route and total:
                found[route.group(1)] = int(total.group(1)) / args.flows
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"store={args.store} flows={args.flows} service={args.service}")
    print("million instructions per request (user space):")
    for route in ROUTES:
        print(f"  {route:<11} {found.get(route, 0.0) / 1e6:7.3f}")
    three = sum(found.get(r, 0.0) for r in ROUTES[:3])
    print(f"  {'the three':<11} {three / 1e6:7.3f}  (challenge + answer + siteverify)")


def inner(args: argparse.Namespace) -> None:
    """Under callgrind: make a demo, warm up, then count each route in its own pass."""
    cg = ctypes.CDLL(args.inner)
    sys.path.insert(0, str(args.service.resolve()))
    sys.path.insert(0, str(Path(__file__).parent))
    from breakdown import call, environ, start_store

    from crowdgate import create_app
    from crowdgate.config import Settings
    from crowdgate.demo import ensure_demo

    tmp = Path(tempfile.mkdtemp(prefix="crowdgate-instructions-data-"))
    redis_proc, uri = start_store(args.store, tmp)
    try:
        limit = "100000000/minute"
        settings = Settings(
            data_dir=tmp,
            store=uri,
            secret_key="bench",
            rate_limit_client=limit,
            rate_limit_sitekey=limit,
            rate_limit_siteverify=limit,
        )
        app = create_app(settings)
        for handler in logging.getLogger().handlers:  # the access log is written, to nowhere
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
        store = app.extensions["crowdgate"].store
        info = ensure_demo(store, settings)
        project = store.get_project(info.project)
        project.settings.update(vote_cap=10**6, network_cap=10**6)
        store.save_project(project)
        raw = getattr(store, "wrapped", store)
        count = [0]

        def request(route: str, counted: str | None, env: dict) -> bytes:
            if route == counted:
                cg.cg_toggle()
            data = call(app, env)
            if route == counted:
                cg.cg_toggle()
            return data

        def flow(counted: str | None) -> None:
            count[0] += 1
            headers = {
                "Content-Type": "text/plain",
                "Origin": "http://localhost",
                "User-Agent": f"instructions-{count[0]}",
            }
            body = json.dumps({"sitekey": info.sitekey}).encode()
            env = environ("POST", "/api/v1/challenge", body, headers)
            cid = json.loads(request("challenge", counted, env))["challenge"]
            hidden = raw.get_challenge(cid, time.time())
            picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
            body = json.dumps({"selected": picks}).encode()
            env = environ("POST", f"/api/v1/challenge/{cid}/answer", body, headers)
            token = json.loads(request("answer", counted, env))["token"]
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            body = f"secret={info.secret}&response={token}".encode()
            request("siteverify", counted, environ("POST", "/siteverify", body, form))
            request("healthz", counted, environ("GET", "/healthz", b"", {}))

        for _ in range(30):  # caches and connections, uninstrumented
            flow(None)
        cg.cg_start()
        for _ in range(30):
            flow(None)
        for route in ROUTES:
            cg.cg_zero()
            for _ in range(args.flows):
                flow(route)
            cg.cg_dump(route.encode())
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="sqlite")
    parser.add_argument("--flows", type=int, default=50, help="flows counted per route")
    parser.add_argument("--service", type=Path, default=ROOT / "service")
    parser.add_argument("--inner", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args)
    else:
        outer(args)


if __name__ == "__main__":
    main()
