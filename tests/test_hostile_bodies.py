"""Oversized and slow request bodies under `crowdgate serve`: always answered, never reset.

A client that sends its whole body before reading (as urllib, requests and most server-side
libraries do) only sees an early 413 if the server reads the body before it closes: a socket
closed with unread bytes sends a reset, and the reset throws the answer away.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from live import Served

#: 1.5 MiB: far past the body limits (16 KiB JSON, 256 KiB any body) and past what the kernel
#: buffers on loopback, so a close with the body unread resets the connection
BIG = 1536 * 1024
PER_KIND = 100

#: every public route, with a body of every kind (GET routes get one too: a client may send it)
ROUTES = [
    ("POST", "/api/v1/challenge"),
    ("POST", "/api/v1/challenge/shapes.nosuchchallenge/answer"),
    ("POST", "/siteverify"),
    ("POST", "/recaptcha/api/siteverify"),
    ("POST", "/api/v1/alternative"),
    ("GET", "/widget.js"),
    ("GET", "/recaptcha/api.js"),
]
KINDS = ["json", "form", "multipart", "chunked"]


def _body(kind: str) -> tuple[dict[str, str], bytes]:
    pad = "a" * BIG
    if kind == "json":
        return {"Content-Type": "application/json"}, json.dumps({"sitekey": pad}).encode()
    if kind == "form":
        return {"Content-Type": "application/x-www-form-urlencoded"}, f"secret={pad}".encode()
    if kind == "multipart":
        data = (
            '--b0und\r\nContent-Disposition: form-data; name="response"\r\n\r\n'
            f"{pad}\r\n--b0und--\r\n"
        ).encode()
        return {"Content-Type": "multipart/form-data; boundary=b0und"}, data
    raw = json.dumps({"response": pad}).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(raw[i : i + 65536]), raw[i : i + 65536])
        for i in range(0, len(raw), 65536)
    )
    return {
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }, chunks + b"0\r\n\r\n"


def _request(port: int, method: str, path: str, kind: str, body: tuple[dict, bytes]) -> str:
    """Send the whole request, then read the answer; return its status or what went wrong."""
    headers, data = body
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if "Transfer-Encoding" not in headers:
        head += f"Content-Length: {len(data)}\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head.encode() + b"\r\n" + data)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
    except ConnectionResetError:
        return "reset"
    except BrokenPipeError:
        return "broken-pipe"
    except OSError as exc:
        return type(exc).__name__
    status_line, _, rest = reply.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return "no-answer"
    status = int(parts[1])
    if status >= 400:
        _, _, payload = rest.partition(b"\r\n\r\n")
        try:
            reply_body = json.loads(payload)
        except ValueError:
            return f"{status}-not-json"
        if not (reply_body.get("code") or reply_body.get("error-codes")):
            return f"{status}-no-code"
    return str(status)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile")
    server = Served(data, f"sqlite:///{data / 'crowdgate.db'}", workers=2)
    yield server
    server.stop()


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_oversized_bodies_of_every_kind_are_answered_without_a_reset(served, method, path):
    bodies = {kind: _body(kind) for kind in KINDS}
    jobs = [(kind, bodies[kind]) for kind in KINDS for _ in range(PER_KIND)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(
            pool.map(lambda job: (job[0], _request(served.port, method, path, *job)), jobs)
        )
    seen = Counter(outcomes)
    bad = {k: n for k, n in seen.items() if not k[1].isdigit() or int(k[1]) >= 500}
    assert not bad, f"{method} {path}: {dict(seen)}"
    assert sum(seen.values()) == PER_KIND * len(KINDS)


def _stalled(port: int, path: str) -> tuple[float, int, dict]:
    """Send headers and a tenth of the body, then wait; return (seconds, status, JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\n\r\n{"secret": "'.encode()
        )
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        waited = time.monotonic() - started
    head, _, payload = reply.partition(b"\r\n\r\n")
    return waited, int(head.split()[1]), json.loads(payload)


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A server with a 1 s body timeout and a low client rate limit."""
    data = tmp_path_factory.mktemp("strict")
    server = Served(
        data,
        f"sqlite:///{data / 'db'}",
        CROWDGATE_BODY_TIMEOUT_S="1",
        CROWDGATE_RATE_LIMIT_ENABLED="true",
        CROWDGATE_RATE_LIMIT_CLIENT="5/minute",
    )
    yield server
    server.stop()


def test_a_stalled_body_is_answered_then_closed(strict):
    waited, status, body = _stalled(strict.port, "/api/v1/challenge")
    assert (status, body["code"]) == (400, "body-timeout") and 0.9 < waited < 10
    # siteverify keeps its wire format for verification libraries
    waited, status, body = _stalled(strict.port, "/siteverify")
    assert (status, body) == (200, {"success": False, "error-codes": ["bad-request"]})
    assert waited < 10


def test_oversized_bodies_past_the_rate_limit_are_answered_429_without_a_reset(strict):
    body = _body("json")
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(
            pool.map(
                lambda _: _request(strict.port, "POST", "/api/v1/challenge", "json", body),
                range(40),
            )
        )
    seen = Counter(outcomes)
    assert set(seen) <= {"413", "429"} and seen["429"] >= 30, dict(seen)


class _Endless:
    """A body that never ends, arriving fast: 64 KiB every 10 ms."""

    def read(self, size: int = -1) -> bytes:
        time.sleep(0.01)
        return b"x" * 65536


def test_a_drain_stops_after_the_body_timeout_however_fast_the_bytes_come():
    from crowdgate.web.body import GuardedInput

    body = GuardedInput({"wsgi.input": _Endless(), "CONTENT_LENGTH": str(10**12)}, idle_s=0.3)
    started = time.monotonic()
    assert body.drain() is False
    assert time.monotonic() - started < 1.5
