"""Where a hot request's CPU goes: the three hot routes profiled in-process, by part.

Each request is a direct WSGI call into ``create_app()`` (no HTTP server, no client in the
process's CPU), on a real redis-server or SQLite file with the demo project. cProfile, timed by
the thread's CPU clock, splits the time spent in each function into parts by the module it is
in (Flask and Werkzeug, redis-py, sqlite3, the limiter, crowdgate's web layer, store and
challenge code, JSON, logging, metrics...); the profile's own overhead inflates every part by
about the same factor, so the table prints each part's share and scales it to the CPU time per
request measured without the profiler.

    python bench/http_load/breakdown.py --store redis --requests 500
    python bench/http_load/breakdown.py --store sqlite --data-dir /tmp/demo   # reuse a demo
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: (part, substrings of a profiled function's file or name), first match wins
PARTS = [
    ("redis-py", ("site-packages/redis/",)),
    ("socket I/O", ("'_socket.socket'", "sendall", "recv")),
    ("hmac+hashlib", ("hmac.py", "hashlib", "_hashlib")),
    ("ipaddress", ("ipaddress.py",)),
    ("sqlite3", ("sqlite3",)),
    ("limiter", ("flask_limiter", "site-packages/limits/", "hot_limits", "limit_charge")),
    ("metrics", ("prometheus_client", "web/metrics.py")),
    ("logging", ("logging/", "web/logging.py")),
    ("json", ("json/", "_json")),
    ("flask+werkzeug", ("site-packages/flask/", "site-packages/werkzeug/")),
    ("crowdgate web", ("crowdgate/web/",)),
    ("crowdgate store", ("crowdgate/store/",)),
    ("grid+grading", ("crowdgate/challenge/", "crowdgate/consensus", "crowdgate/models")),
    ("random", ("random.py", "getrandbits", "urandom")),
]


def part_of(filename: str, name: str) -> str:
    text = f"{filename}:{name}"
    for part, needles in PARTS:
        if any(n in text for n in needles):
            return part
    return "other (stdlib)"


def environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:8000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "_body": body,
    }
    for key, value in headers.items():
        name = key.upper().replace("-", "_")
        env["CONTENT_TYPE" if name == "CONTENT_TYPE" else "HTTP_" + name] = value
    return env


def call(app, env: dict) -> bytes:
    e = dict(env)
    e["wsgi.input"] = io.BytesIO(e.pop("_body"))
    status: list[str] = []
    chunks = app(e, lambda s, h, exc=None: status.append(s))
    data = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    if not status[0].startswith("200"):
        raise RuntimeError(f"{env['PATH_INFO']} answered {status[0]}: {data[:200]!r}")
    return data


def start_store(store: str, tmp: Path) -> tuple[subprocess.Popen | None, str]:
    """Start a throwaway redis-server in ``tmp`` (or name a SQLite file there); its URI."""
    if store != "redis":
        return None, f"sqlite:///{tmp / 'crowdgate.db'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis_proc = subprocess.Popen(
        [
            *(shutil.which("redis-server") or "redis-server", "--port", str(port)),
            *("--save", "", "--appendonly", "no", "--dir", str(tmp)),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return redis_proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--service", type=Path, default=ROOT / "service")
    parser.add_argument(
        "--top", type=int, default=0, help="also print each route's N costliest functions"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="SQLite only: reuse the demo in this data dir (its crowdgate.db), kept afterwards",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.service.resolve()))
    from crowdgate import create_app
    from crowdgate.config import Settings
    from crowdgate.demo import ensure_demo

    if args.data_dir is not None and args.store != "sqlite":
        parser.error("--data-dir reuses a SQLite demo; use it with --store sqlite")
    tmp = args.data_dir or Path(tempfile.mkdtemp(prefix="crowdgate-breakdown-"))
    redis_proc, uri = start_store(args.store, tmp)
    try:
        settings = Settings(
            data_dir=tmp,
            store=uri,
            secret_key="bench",
            rate_limit_client="100000000/minute",
            rate_limit_sitekey="100000000/minute",
            rate_limit_siteverify="100000000/minute",
        )
        app = create_app(settings)
        import logging

        for handler in logging.getLogger().handlers:  # the access log is written, to nowhere
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(io.StringIO())
        store = app.extensions["crowdgate"].store
        info = ensure_demo(store, settings)
        project = store.get_project(info.project)
        project.settings.update(vote_cap=10**6, network_cap=10**6)
        store.save_project(project)
        run(app, store, info, args.requests, args.top)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
        if args.data_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(app, store, info, n: int, top: int = 0) -> None:
    headers = {"Content-Type": "text/plain", "Origin": "http://localhost"}
    challenge = environ(
        "POST", "/api/v1/challenge", json.dumps({"sitekey": info.sitekey}).encode(), headers
    )

    def challenges(k: int) -> list[str]:
        return [json.loads(call(app, challenge))["challenge"] for _ in range(k)]

    def answers(ids: list[str]) -> list[dict]:
        out = []
        for cid in ids:
            hidden = store.get_challenge(cid, time.time())
            picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
            body = json.dumps({"selected": picks}).encode()
            out.append(environ("POST", f"/api/v1/challenge/{cid}/answer", body, headers))
        return out

    def verifies(tokens: list[str]) -> list[dict]:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return [
            environ("POST", "/siteverify", f"secret={info.secret}&response={t}".encode(), form)
            for t in tokens
        ]

    challenges(50)  # warm caches and connections

    def timed(fn, jobs, profile: bool) -> tuple[list, float, cProfile.Profile | None]:
        prof = cProfile.Profile(time.thread_time) if profile else None
        t0 = time.thread_time()
        if prof:
            prof.enable()
        out = [fn(job) for job in jobs]
        if prof:
            prof.disable()
        return out, (time.thread_time() - t0) / len(jobs) * 1000, prof

    plain: dict[str, float] = {}
    profiles: dict[str, cProfile.Profile] = {}
    for profile in (False, True):
        docs, ms_c, p_c = timed(lambda _: json.loads(call(app, challenge)), range(n), profile)
        jobs = answers([d["challenge"] for d in docs])
        docs, ms_a, p_a = timed(lambda job: json.loads(call(app, job)), jobs, profile)
        checks = verifies([d["token"] for d in docs])
        _, ms_v, p_v = timed(lambda job: call(app, job), checks, profile)
        if profile:
            profiles = {"challenge": p_c, "answer": p_a, "siteverify": p_v}  # type: ignore[dict-item]
        else:
            plain = {"challenge": ms_c, "answer": ms_a, "siteverify": ms_v}
    table: dict[str, dict[str, float]] = {}
    for route, prof in profiles.items():
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        parts: dict[str, float] = {}
        for (filename, _line, name), (_cc, _nc, tottime, _ct, callers) in stats.items():
            if filename == "~" and callers:
                # a builtin (isinstance, len, str.encode...) counts for whoever called it
                spent = sum(c[2] for c in callers.values()) or 1.0
                for (c_file, _c_line, c_name), c in callers.items():
                    part = part_of(c_file, c_name) if c_file != "~" else part_of(filename, name)
                    parts[part] = parts.get(part, 0.0) + tottime * c[2] / spent
                continue
            part = part_of(filename, name)
            parts[part] = parts.get(part, 0.0) + tottime
        total = sum(parts.values())
        table[route] = {p: plain[route] * v / total for p, v in parts.items()}
    names = sorted(
        {p for parts in table.values() for p in parts},
        key=lambda p: -sum(t.get(p, 0) for t in table.values()),
    )
    print(f"CPU ms per request in-process ({n} requests each), by part")
    print(f"{'part':<26}" + "".join(f"{r:>12}" for r in table))
    for part in names:
        print(f"{part:<26}" + "".join(f"{table[r].get(part, 0.0):>12.3f}" for r in table))
    print(f"{'total (unprofiled)':<26}" + "".join(f"{plain[r]:>12.3f}" for r in table))
    for route, prof in profiles.items() if top else ():
        print(f"--- {route}: the {top} costliest functions (own and cumulative time)")
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
