"""The SQLite rate-limit storage: exact counts shared by processes, windows that end."""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
import urllib.error
import urllib.request

import pytest
from limits import parse, storage
from limits.strategies import FixedWindowRateLimiter

from crowdgate.challenge import TEST_SITEKEY
from crowdgate.web.limit_storage import SqliteLimitStorage, limits_uri
from live import Served


@pytest.fixture
def uri(tmp_path):
    return limits_uri(tmp_path / "crowdgate.db")


def test_the_uri_names_a_file_beside_the_store(tmp_path):
    assert limits_uri(tmp_path / "crowdgate.db") == (
        f"crowdgate+sqlite://{(tmp_path / 'crowdgate-limits.db').resolve()}"
    )


def test_limits_finds_the_storage_by_its_scheme(uri):
    assert isinstance(storage.storage_from_string(uri), SqliteLimitStorage)


def test_counts_grow_within_a_window_and_restart_after_it(uri):
    s = SqliteLimitStorage(uri)
    assert [s.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert s.incr("k", 60, amount=2) == 5
    assert s.get("k") == 5
    assert time.time() < s.get_expiry("k") <= time.time() + 60
    assert s.incr("gone", 0) == 1, "a zero-second window has ended at once"
    assert s.get("gone") == 0
    assert s.incr("gone", 60) == 1, "the next increment opens a new window"
    s.clear("k")
    assert s.get("k") == 0
    assert s.reset() == 1
    assert s.check()


def test_a_fixed_window_limiter_refuses_past_the_limit(uri):
    limiter = FixedWindowRateLimiter(SqliteLimitStorage(uri))
    item = parse("3/minute")
    assert [limiter.hit(item, "client") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.hit(item, "another client")


def _hammer(uri: str, n: int) -> None:
    s = SqliteLimitStorage(uri)
    for _ in range(n):
        s.incr("shared", 60)


def test_concurrent_processes_lose_no_increment(uri):
    SqliteLimitStorage(uri)
    ctx = mp.get_context("spawn" if sys.platform == "darwin" else "fork")
    procs = [ctx.Process(target=_hammer, args=(uri, 250)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert SqliteLimitStorage(uri).get("shared") == 1000


@pytest.mark.timeout(120)
def test_two_servers_on_one_sqlite_store_count_a_client_once(tmp_path):
    limit = 10
    store = f"sqlite:///{tmp_path / 'crowdgate.db'}"
    env = {
        "CROWDGATE_RATE_LIMIT_ENABLED": "true",
        "CROWDGATE_RATE_LIMIT_CLIENT": f"{limit}/minute",
    }
    servers = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(Served(tmp_path / name, store, workers=2, **env))
        body = f'{{"sitekey": "{TEST_SITEKEY}", "hostname": "localhost"}}'.encode()
        statuses = [
            (n % 2, _post(servers[n % 2].base + "/api/v1/challenge", body))
            for n in range(2 * limit)
        ]
    finally:
        for server in servers:
            server.stop()
    assert [s for _, s in statuses].count(200) == limit
    assert all(s == 429 for _, s in statuses[limit:])
    assert {i for i, s in statuses if s == 429} == {0, 1}, "both servers refuse"


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
