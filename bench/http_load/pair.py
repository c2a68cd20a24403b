"""Two crowdgate instances on one Redis against one instance, in the same run.

Each instance is gunicorn with the worker model ``crowdgate serve`` uses. Client processes run a
closed loop (issue a challenge, answer it right, verify the token) with keep-alive connections;
in the ``pair`` phase the same clients alternate between the two instances. A third phase,
``one-wide``, runs one instance with as many workers as the pair has together, to tell a gain
from a second instance apart from a gain from more worker processes. Redis runs with AOF
(``appendfsync everysec``), as deploy/compose.yaml ships it.

    python bench/http_load/pair.py --seconds 10 --procs 8 --workers 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import GUNICORN, free_port, stop, wait_for_port  # noqa: E402  (the sibling runner)

HEADERS = {"Content-Type": "text/plain", "Origin": "http://localhost"}


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _client(ports: list[int], uri: str, sitekey: str, secret: str, seconds: float, out) -> None:
    """Solve challenges in a closed loop, alternating over ``ports``; report latencies."""
    from crowdgate.store import open_store

    store = open_store(uri)
    conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports]
    lat: dict[str, list[float]] = {"challenge": [], "answer": [], "siteverify": []}
    errors = passes = 0
    end = time.perf_counter() + seconds
    n = 0
    pid = os.getpid()

    def post(conn, kind: str, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        lat[kind].append(time.perf_counter() - t0)
        return reply.status, json.loads(data)

    while time.perf_counter() < end:
        conn = conns[n % len(conns)]
        n += 1
        headers = {**HEADERS, "User-Agent": f"pair-{pid}-{n}"}
        status, body = post(
            conn,
            "challenge",
            "/api/v1/challenge",
            json.dumps({"sitekey": sitekey}).encode(),
            headers,
        )
        if status != 200:
            errors += 1
            continue
        hidden = store.get_challenge(body["challenge"], time.time())
        picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
        path = f"/api/v1/challenge/{body['challenge']}/answer"
        status, answer = post(
            conn, "answer", path, json.dumps({"selected": picks}).encode(), headers
        )
        if status != 200 or not answer.get("success"):
            errors += 1
            continue
        form = f"secret={secret}&response={answer['token']}".encode()
        status, verdict = post(
            conns[n % len(conns)],
            "siteverify",
            "/siteverify",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status == 200 and verdict.get("success"):
            passes += 1
        else:
            errors += 1
    out.put((lat, errors, passes))


def run_phase(ports: list[int], uri: str, info, procs: int, seconds: float) -> dict:
    """Run ``procs`` closed-loop clients over ``ports`` for ``seconds``; return figures."""
    out: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=_client, args=(ports, uri, info.sitekey, info.secret, seconds, out))
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    lat: dict[str, list[float]] = {"challenge": [], "answer": [], "siteverify": []}
    errors = passes = 0
    for _ in workers:
        part, e, p = out.get()
        for kind, values in part.items():
            lat[kind] += values
        errors += e
        passes += p
    for w in workers:
        w.join()
    requests = sum(len(v) for v in lat.values())
    every = np.array([x for v in lat.values() for x in v]) * 1000
    return {
        "requests": requests,
        "errors": errors,
        "rps": requests / seconds,
        "passes_per_s": passes / seconds,
        "p50_ms": float(np.percentile(every, 50)),
        "p99_ms": float(np.percentile(every, 99)),
        "challenge_p99_ms": float(np.percentile(np.array(lat["challenge"]) * 1000, 99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=8, help="client processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "service"))
    from crowdgate.config import Settings
    from crowdgate.demo import ensure_demo
    from crowdgate.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="crowdgate-pair-"))
    rport = free_port()
    redis = start(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(rport),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
        dict(os.environ),
    )
    wait_for_port(rport)
    uri = f"redis://127.0.0.1:{rport}/0"
    env = {
        **os.environ,
        "CROWDGATE_STORE": uri,
        "CROWDGATE_DATA_DIR": str(tmp),
        "CROWDGATE_SECRET_KEY": "bench",
        "CROWDGATE_RATE_LIMIT_ENABLED": "false",
        "CROWDGATE_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "service"),
    }
    store = open_store(uri)
    info = ensure_demo(store, Settings.from_env(env))
    project = store.get_project(info.project)
    project.settings.update(vote_cap=10**6, network_cap=10**6)
    store.save_project(project)
    ports = [free_port(), free_port(), free_port()]
    servers = []
    try:
        for port, workers in zip(
            ports, [args.workers, args.workers, 2 * args.workers], strict=True
        ):
            servers.append(
                start(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "-b",
                        f"127.0.0.1:{port}",
                        "-w",
                        str(workers),
                        *GUNICORN,
                        "crowdgate:create_app()",
                    ],
                    env,
                )
            )
        for port in ports:
            wait_for_port(port)
        results = {
            "one": run_phase(ports[:1], uri, info, args.procs, args.seconds),
            "pair": run_phase(ports[:2], uri, info, args.procs, args.seconds),
            "one-wide": run_phase(ports[2:], uri, info, args.procs, args.seconds),
        }
    finally:
        for proc in servers:
            stop(proc)
        stop(redis)
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"seconds={args.seconds} client_procs={args.procs} gunicorn_workers={args.workers} "
        f"per instance (gthread, 4 threads), cpus={os.cpu_count()}"
    )
    print(
        f"{'phase':<8} {'requests':>8} {'errors':>6} {'req/s':>7} {'passes/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'x one':>6}"
    )
    for phase, r in results.items():
        print(
            f"{phase:<8} {r['requests']:>8} {r['errors']:>6} {r['rps']:>7.0f} "
            f"{r['passes_per_s']:>8.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['rps'] / results['one']['rps']:>6.2f}"
        )


if __name__ == "__main__":
    main()
