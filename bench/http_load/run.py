"""HTTP load on loopback: whole solved captchas and each hot route, against a bare Flask hello.

Both apps run under the same gunicorn settings in the same run; the load comes from several
generator processes with keep-alive connections. Every figure is printed as a ratio to hello,
since absolute numbers drift with whatever else the shared machine is doing, and with the CPU
time per request that the app, redis-server and the generator each spent. crowdgate's
``/healthz`` (its request hooks, no rate limit, no store) is run too, as the floor under every
crowdgate route.

The ``flow`` phase solves whole captchas (challenge, its images if the reply does not carry
the tiles, answer, siteverify; see flow.py) and prints app CPU per solved captcha as a
multiple of hello's app CPU per request; ``flow@half`` runs it again paced at half the solved
captchas per second the flow phase reached, for latencies below saturation. The load average
is printed before and after, and hello runs first and last (their mean is the baseline).

    python bench/http_load/run.py --store redis --seconds 10
    python bench/http_load/run.py --service /tmp/old/service   # bench another tree's code
    python bench/http_load/run.py --store sqlite --seconds 5 --repeat 3   # 3 runs, 1 import
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from flow import run_flow

ROOT = Path(__file__).resolve().parents[2]
#: The same worker model ``crowdgate serve`` uses (see crowdgate/cli/serve.py).
GUNICORN = ["-k", "gthread", "--threads", "4", "--log-level", "warning", "--no-control-socket"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        *GUNICORN,
        app,
    ]
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn {app} did not start")


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(15)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of one process group."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def _worker(port: int, kind: str, jobs: list, seconds: float, out: mp.Queue) -> None:
    """Send requests of one kind for ``seconds`` (or until ``jobs`` run out); report latencies.

    Replies are kept as bytes and parsed after the timed loop, so the generator spends no CPU
    per request beyond sending it and reading the reply, the same for every route.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat: list[float] = []
    replies: list[bytes] = []
    errors = 0
    end = time.perf_counter() + seconds
    n = 0
    cpu0 = time.process_time()
    while time.perf_counter() < end:
        if kind == "hello":
            method, path, body, headers = "GET", "/hello", None, {}
        elif kind == "healthz":
            method, path, body, headers = "GET", "/healthz", None, {}
        else:
            if n >= len(jobs):
                break
            method, path, body, headers = jobs[n]
        n += 1
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        lat.append(time.perf_counter() - t0)
        if reply.status != 200:
            errors += 1
        elif kind in ("challenge", "answer"):
            replies.append(data)
    cpu = time.process_time() - cpu0
    produced = []
    for data in replies:
        doc = json.loads(data)
        if kind == "challenge":
            produced.append(doc["challenge"])
        elif doc.get("token"):
            produced.append(doc["token"])
    out.put((kind, lat, errors, cpu, produced))


def run_phase(
    port: int, kind: str, per_proc_jobs: list[list], seconds: float, groups: dict[str, int]
) -> dict:
    """Run one phase with one process per job list; return throughput, latency and CPU figures.

    ``groups`` names process groups (gunicorn, redis-server) whose CPU time is read from /proc
    before and after the phase; the client processes report their own.
    """
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=_worker, args=(port, kind, jobs, seconds, out)) for jobs in per_proc_jobs
    ]
    before = {name: group_cpu_s(pgid) for name, pgid in groups.items()}
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    lat: list[float] = []
    errors = 0
    client_cpu = 0.0
    produced: list[str] = []
    for _ in procs:
        _, p_lat, p_errors, p_cpu, p_produced = out.get()
        lat += p_lat
        errors += p_errors
        client_cpu += p_cpu
        produced += p_produced
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    cpu = {name: group_cpu_s(pgid) - before[name] for name, pgid in groups.items()}
    cpu["client"] = client_cpu
    arr = np.array(lat) * 1000
    return {
        "kind": kind,
        "requests": len(lat),
        "errors": errors,
        "rps": len(lat) / min(elapsed, seconds + 1),
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "cpu_ms": {name: 1000 * v / max(len(lat), 1) for name, v in cpu.items()},
        "produced": produced,
    }


def route_phases(results: dict, cg_port: int, store, info, args, groups: dict[str, int]) -> None:
    """Run healthz, then challenge, answer and siteverify each on its own."""
    # crowdgate's cheapest route (its hooks, no limit, no store): the floor of every route
    results["healthz"] = run_phase(cg_port, "healthz", [[]] * args.procs, args.seconds, groups)
    body = json.dumps({"sitekey": info.sitekey}).encode()
    challenge_job = (
        "POST",
        "/api/v1/challenge",
        body,
        {"Content-Type": "text/plain", "Origin": "http://localhost"},
    )
    big = [challenge_job] * 10**6
    results["challenge"] = run_phase(cg_port, "challenge", [big] * args.procs, args.seconds, groups)
    answers = []
    for n, cid in enumerate(results["challenge"]["produced"]):
        hidden = store.get_challenge(cid, time.time())
        if hidden is None:
            continue
        picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
        answers.append(
            (
                "POST",
                f"/api/v1/challenge/{cid}/answer",
                json.dumps({"selected": picks}).encode(),
                {
                    "Content-Type": "text/plain",
                    "Origin": "http://localhost",
                    "User-Agent": f"bench-{n}",
                },
            )
        )
    split = [answers[i :: args.procs] for i in range(args.procs)]
    results["answer"] = run_phase(cg_port, "answer", split, args.seconds, groups)
    verifies = [
        (
            "POST",
            "/siteverify",
            f"secret={info.secret}&response={t}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        for t in results["answer"]["produced"]
    ]
    split = [verifies[i :: args.procs] for i in range(args.procs)]
    results["siteverify"] = run_phase(cg_port, "siteverify", split, args.seconds, groups)


def report(results: dict, args, service: Path, load_before, load_after) -> None:
    """Print every phase as figures and as ratios to hello (mean of its first and last run)."""
    hellos = [results["hello"], results["hello (end)"]]
    rps = sum(h["rps"] for h in hellos) / 2
    hello_cpu = sum(h["cpu_ms"]["app"] for h in hellos) / 2
    print(
        f"store={args.store} seconds={args.seconds} client_procs={args.procs} "
        f"gunicorn_workers={args.workers} (gthread, 4 threads) service={service}"
    )
    print(
        "load average before: "
        + " ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + " ".join(f"{x:.2f}" for x in load_after)
    )
    print(
        f"hello: {hellos[0]['rps']:.0f} and {hellos[1]['rps']:.0f} req/s, app CPU "
        f"{hellos[0]['cpu_ms']['app']:.3f} and {hellos[1]['cpu_ms']['app']:.3f} ms/request"
    )
    print(
        f"{'route':<11} {'requests':>8} {'errors':>6} {'req/s':>8} {'x hello':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7}  CPU ms per request (app, redis, client)  app x hello"
    )
    for kind, r in results.items():
        if kind.startswith("flow"):
            continue
        print(
            f"{kind:<11} {r['requests']:>8} {r['errors']:>6} {r['rps']:>8.0f} "
            f"{r['rps'] / rps:>8.2f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f}  "
            + " ".join(f"{name}={ms:.3f}" for name, ms in r["cpu_ms"].items())
            + f"  {r['cpu_ms']['app'] / hello_cpu:.2f}"
        )
    for kind in ("flow", "flow@half"):
        f = results.get(kind)
        if f is None:
            continue
        cpu = f["cpu_ms_per_solved"]
        paced = f" (paced to {f['rate']:.1f}/s)" if f["rate"] else ""
        print(
            f"{kind}{paced}: {f['solved']} solved, {f['errors']} errors, "
            f"{f['solved_per_s']:.1f} solved captchas/s, "
            f"{f['requests_per_solved']:.2f} requests per solved captcha"
        )
        print(
            "  CPU ms per solved captcha: "
            + " ".join(f"{name}={ms:.2f}" for name, ms in cpu.items())
            + f"; app = {cpu['app'] / hello_cpu:.1f} hello requests"
        )
        print(
            "  per request p50/p99 ms: "
            + ", ".join(
                f"{k} {v['p50_ms']:.1f}/{v['p99_ms']:.1f} (n={v['n']})"
                for k, v in f["kinds"].items()
                if v["n"]
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=8, help="client processes (connections)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app")
    parser.add_argument(
        "--service", type=Path, default=ROOT / "service", help="the service tree to bench"
    )
    parser.add_argument(
        "--phases",
        default="routes,flow",
        help="comma-separated: routes (healthz and each hot route), flow (whole captchas)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every phase (hello first and last included) this many times on one demo import",
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    service = args.service.resolve()
    load_before = os.getloadavg()

    sys.path.insert(0, str(service))
    from crowdgate.config import Settings
    from crowdgate.demo import ensure_demo
    from crowdgate.store import open_configured_store

    tmp = Path(tempfile.mkdtemp(prefix="crowdgate-bench-"))
    redis_proc = None
    if args.store == "redis":
        rport = free_port()
        redis_proc = subprocess.Popen(
            [
                shutil.which("redis-server"),
                "--port",
                str(rport),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(0.5)
        uri = f"redis://127.0.0.1:{rport}/0"
    else:
        uri = f"sqlite:///{tmp / 'crowdgate.db'}"
    env = {
        **os.environ,
        "CROWDGATE_STORE": uri,
        "CROWDGATE_DATA_DIR": str(tmp),
        "CROWDGATE_SECRET_KEY": "bench",
        "CROWDGATE_RATE_LIMIT_CLIENT": "100000000/minute",
        "CROWDGATE_RATE_LIMIT_SITEKEY": "100000000/minute",
        "CROWDGATE_RATE_LIMIT_SITEVERIFY": "100000000/minute",
        "PYTHONPATH": str(service) + os.pathsep + str(ROOT / "bench" / "http_load"),
    }
    settings = Settings.from_env(env)
    if redis_proc is not None:
        wait_for_port(rport)
    # the configured store: its blob folder is the data directory's, as the servers' is
    store = open_configured_store(settings)
    info = ensure_demo(store, settings)
    project = store.get_project(info.project)
    project.settings.update(vote_cap=10**6, network_cap=10**6)
    store.save_project(project)

    hello_port, cg_port = free_port(), free_port()
    hello = crowd = None
    reports = []
    try:
        hello = start_gunicorn("hello_app:app", hello_port, args.workers, env)
        crowd = start_gunicorn("crowdgate:create_app()", cg_port, args.workers, env)
        groups = {"app": crowd.pid}
        if redis_proc is not None:
            groups["redis"] = redis_proc.pid
        for _ in range(args.repeat):
            # each repetition is a run of its own: its own hello before and after, its own load
            before = os.getloadavg() if reports else load_before
            results = run_once(args, phases, hello, hello_port, cg_port, uri, info, store, groups)
            reports.append((results, before, os.getloadavg()))
    finally:
        for proc in (hello, crowd):
            if proc is not None:
                stop(proc)
        if redis_proc:
            os.killpg(redis_proc.pid, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)

    for n, (results, before, after) in enumerate(reports, 1):
        if args.repeat > 1:
            print(f"--- run {n} of {args.repeat}")
        report(results, args, service, before, after)


def run_once(args, phases, hello, hello_port, cg_port, uri, info, store, groups) -> dict:
    """Run hello, the flow phases, the route phases and hello again; return their results."""
    results = {
        "hello": run_phase(hello_port, "hello", [[]] * args.procs, args.seconds, {"app": hello.pid})
    }
    if "flow" in phases:
        # unmeasured: every worker thread opens its connections and fills its caches
        run_flow(cg_port, uri, info.sitekey, info.secret, args.procs, 2.0, groups, group_cpu_s)
        results["flow"] = run_flow(
            cg_port, uri, info.sitekey, info.secret, args.procs, args.seconds, groups, group_cpu_s
        )
        half = results["flow"]["solved_per_s"] / 2
        results["flow@half"] = run_flow(
            cg_port,
            uri,
            info.sitekey,
            info.secret,
            args.procs,
            args.seconds,
            groups,
            group_cpu_s,
            rate=half,
        )
    if "routes" in phases:
        route_phases(results, cg_port, store, info, args, groups)
    results["hello (end)"] = run_phase(
        hello_port, "hello", [[]] * args.procs, args.seconds, {"app": hello.pid}
    )
    return results


if __name__ == "__main__":
    main()
