"""The visitor flow as load: client processes that solve whole captchas in a closed loop.

Each client asks for a challenge, fetches the slot images the reply points to (none when the
reply carries the tiles itself, as one response drawing the grid does), answers it right and
has the token verified, on one keep-alive connection, as a browser and a site's backend would.
It knows the right answer by reading the challenge from the store, as no real visitor can;
that read is the client's own CPU and is counted with it, apart from the app's.

Paced, each client starts a flow on a fixed schedule (open loop) instead of at once after the
last one, so the latencies at a given share of the peak throughput are those of a server that
is not saturated.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import time
from urllib.parse import urlsplit

import numpy as np

KINDS = ("challenge", "image", "answer", "siteverify")
HEADERS = {"Content-Type": "text/plain", "Origin": "http://localhost"}


def image_paths(doc: dict) -> list[str]:
    """Return the paths of slot images a challenge reply makes a client fetch (maybe none).

    Only URLs are fetched: tiles carried in the reply itself (bytes, data: URIs) need no
    further request, so the same client measures a flow of 12 requests or of 3.
    """
    paths = []
    for url in doc.get("images") or []:
        if isinstance(url, str) and url.startswith(("http://", "https://", "/")):
            parts = urlsplit(url)
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def _client(
    port: int,
    uri: str,
    sitekey: str,
    secret: str,
    seconds: float,
    interval: float,
    offset: float,
    out: mp.Queue,
) -> None:
    """Solve captchas for ``seconds``, one every ``interval`` seconds (0: back to back)."""
    import sys

    from crowdgate.store import open_store

    store = open_store(uri)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    solved = errors = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + seconds
    n = 0

    def send(kind: str, method: str, path: str, body: bytes | None, headers: dict) -> bytes:
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        lat[kind].append(time.perf_counter() - t0)
        if reply.status != 200:
            raise RuntimeError(f"{kind} answered {reply.status}: {data[:200]!r}")
        return data

    while True:
        due = start + offset + n * interval
        now = time.perf_counter()
        if due >= end or now >= end:
            break
        if due > now:
            time.sleep(due - now)
        n += 1
        headers = {**HEADERS, "User-Agent": f"flow-{offset}-{n}"}
        try:
            doc = json.loads(
                send(
                    "challenge",
                    "POST",
                    "/api/v1/challenge",
                    json.dumps({"sitekey": sitekey}).encode(),
                    headers,
                )
            )
            for path in image_paths(doc):
                send("image", "GET", path, None, {"User-Agent": headers["User-Agent"]})
            hidden = store.get_challenge(doc["challenge"], time.time())
            picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
            answer = json.loads(
                send(
                    "answer",
                    "POST",
                    f"/api/v1/challenge/{doc['challenge']}/answer",
                    json.dumps({"selected": picks}).encode(),
                    headers,
                )
            )
            verdict = json.loads(
                send(
                    "siteverify",
                    "POST",
                    "/siteverify",
                    f"secret={secret}&response={answer['token']}".encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
            )
            if verdict.get("success"):
                solved += 1
            else:
                errors += 1
        except (RuntimeError, KeyError, AttributeError, OSError) as exc:
            errors += 1
            print(f"flow client: {exc}", file=sys.stderr)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out.put((lat, solved, errors, time.process_time() - cpu0))
    store.close()


def run_flow(
    port: int,
    uri: str,
    sitekey: str,
    secret: str,
    procs: int,
    seconds: float,
    groups: dict[str, int],
    cpu_of,
    rate: float = 0.0,
) -> dict:
    """Run ``procs`` flow clients (paced to ``rate`` solved captchas/s in all, if given)."""
    interval = procs / rate if rate > 0 else 0.0
    out: mp.Queue = mp.Queue()
    clients = [
        mp.Process(
            target=_client,
            args=(port, uri, sitekey, secret, seconds, interval, interval * k / procs, out),
        )
        for k in range(procs)
    ]
    before = {name: cpu_of(pgid) for name, pgid in groups.items()}
    t0 = time.perf_counter()
    for c in clients:
        c.start()
    lat: dict[str, list[float]] = {k: [] for k in KINDS}
    solved = errors = 0
    client_cpu = 0.0
    for _ in clients:
        part, s, e, cpu = out.get()
        for kind, values in part.items():
            lat[kind] += values
        solved += s
        errors += e
        client_cpu += cpu
    elapsed = time.perf_counter() - t0
    for c in clients:
        c.join()
    cpu = {name: cpu_of(pgid) - before[name] for name, pgid in groups.items()}
    cpu["client"] = client_cpu
    requests = sum(len(v) for v in lat.values())
    per_kind = {
        kind: {
            "n": len(v),
            "p50_ms": float(np.percentile(np.array(v) * 1000, 50)) if v else 0.0,
            "p99_ms": float(np.percentile(np.array(v) * 1000, 99)) if v else 0.0,
        }
        for kind, v in lat.items()
    }
    return {
        "solved": solved,
        "errors": errors,
        "solved_per_s": solved / min(elapsed, seconds + 1),
        "requests_per_solved": requests / max(solved, 1),
        "cpu_ms_per_solved": {name: 1000 * v / max(solved, 1) for name, v in cpu.items()},
        "kinds": per_kind,
        "rate": rate,
    }
