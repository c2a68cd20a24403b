"""Two ``crowdgate serve`` instances (gunicorn, three workers each) sharing one Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crowdgate.challenge import TEST_SITEKEY
from crowdgate.models import DEFAULT_PROJECT_SETTINGS
from crowdgate.store import Store, open_store
from live import Served, call
from redis_server import RedisProcess
from seed import seed_project

pytestmark = pytest.mark.redis

ORIGIN = {"Origin": "https://shop.example"}
WORKERS = 3
#: The per-client limit the rate-limited pair runs with.
CLIENT_LIMIT = 10


def serve_pair(root: Path, url: str, **env: str) -> tuple[Served, Served]:
    """Start two instances on their own ports and data folders, both on the Redis at ``url``."""
    return (
        Served(_folder(root / "a"), url, workers=WORKERS, **env),
        Served(_folder(root / "b"), url, workers=WORKERS, **env),
    )


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def pair(
    redis_proc: RedisProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, Served, Store]]:
    redis_proc.flush()
    where = tmp_path_factory.mktemp("pair")
    a, b = serve_pair(where, redis_proc.url)
    store = open_store(redis_proc.url, blobs_default=(where / "blobs").as_uri())
    yield a, b, store
    store.close()
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seeded(pair):
    return seed_project(pair[2])


def issue(server: Served, sitekey: str) -> dict:
    status, body = call(server.base, "/api/v1/challenge", {"sitekey": sitekey}, headers=ORIGIN)
    assert status == 200, body
    return body


def right_answer(store: Store, challenge_id: str) -> list[int]:
    hidden = store.get_challenge(challenge_id, 0)
    return [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]


def test_challenge_issued_by_one_instance_is_answered_through_the_other(pair, seeded) -> None:
    a, b, store = pair
    challenge = issue(a, seeded.sitekey)
    assert len(challenge["tiles"]) == 12 and all(challenge["tiles"]), "the grid came with it"
    status, answer = call(
        b.base,
        f"/api/v1/challenge/{challenge['challenge']}/answer",
        {"selected": right_answer(store, challenge["challenge"])},
        headers=ORIGIN,
    )
    assert status == 200 and answer["success"] is True, answer
    votes = [v for v in store.list_votes(seeded.project) if v.challenge == challenge["challenge"]]
    assert len(votes) == 12 - DEFAULT_PROJECT_SETTINGS["gold_per_grid"]
    form = {"secret": seeded.secret, "response": answer["token"]}
    assert call(a.base, "/siteverify", form=form)[1]["success"] is True
    assert call(b.base, "/siteverify", form=form)[1]["error-codes"] == ["timeout-or-duplicate"]


def test_token_verifies_once_across_both_instances_under_a_race(pair, seeded) -> None:
    a, b, store = pair
    challenge = issue(b, seeded.sitekey)
    _, answer = call(
        a.base,
        f"/api/v1/challenge/{challenge['challenge']}/answer",
        {"selected": right_answer(store, challenge["challenge"])},
        headers=ORIGIN,
    )
    form = {"secret": seeded.secret, "response": answer["token"]}
    barrier = threading.Barrier(40)

    def verify(n: int) -> bool:
        barrier.wait()
        return call((a, b)[n % 2].base, "/siteverify", form=form, timeout=30)[1]["success"]

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(verify, range(40)))
    assert results.count(True) == 1


def test_both_instances_are_ready_on_the_shared_store(pair) -> None:
    a, b, _ = pair
    for server in (a, b):
        assert call(server.base, "/readyz") == (200, {"status": "ready", "store": "redis"})


def test_rate_limit_holds_across_both_instances(redis_proc: RedisProcess, tmp_path) -> None:
    redis_proc.flush()
    a, b = serve_pair(
        tmp_path,
        redis_proc.url,
        CROWDGATE_RATE_LIMIT_ENABLED="true",
        CROWDGATE_RATE_LIMIT_CLIENT=f"{CLIENT_LIMIT}/minute",
    )
    body = {"sitekey": TEST_SITEKEY, "hostname": "localhost"}
    try:
        statuses = [
            (n % 2, call((a, b)[n % 2].base, "/api/v1/challenge", body)[0])
            for n in range(2 * CLIENT_LIMIT)
        ]
    finally:
        a.stop()
        b.stop()
    assert [s for _, s in statuses].count(200) == CLIENT_LIMIT
    assert all(s == 429 for _, s in statuses[CLIENT_LIMIT:])
    assert {i for i, s in statuses if s == 429} == {0, 1}, "both instances refuse"
