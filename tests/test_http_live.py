"""Real HTTP through gunicorn (`crowdgate serve`): the README walkthrough, races, crashes."""

from __future__ import annotations

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from crowdgate.challenge import TEST_SECRET, TEST_SITEKEY
from crowdgate.store import open_store
from live import Served, call
from seed import seed_project


@pytest.fixture
def served(backend, request, tmp_path):
    from conftest import store_uri

    uri = store_uri(backend, request, tmp_path)
    server = Served(tmp_path, uri, workers=2)
    yield server, uri
    server.stop()


def test_readme_walkthrough_with_test_keys_works_as_written(served):
    server, _ = served
    status, challenge = call(
        server.base, "/api/v1/challenge", {"sitekey": TEST_SITEKEY, "hostname": "localhost"}
    )
    assert status == 200 and challenge["challenge"].startswith("_test.")
    status, answer = call(
        server.base, f"/api/v1/challenge/{challenge['challenge']}/answer", {"selected": [0, 4]}
    )
    assert answer["success"] is True and answer["expires_in"] == 120
    form = {"secret": TEST_SECRET, "response": answer["token"]}
    status, verdict = call(server.base, "/siteverify", form=form)
    assert verdict["success"] is True and verdict["hostname"] == "localhost"
    status, again = call(server.base, "/siteverify", form=form)
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}


def _solve(base: str, store, sitekey: str, ua: str) -> tuple[str, str, int]:
    status, challenge = call(
        base,
        "/api/v1/challenge",
        {"sitekey": sitekey},
        headers={"Origin": "https://shop.example", "User-Agent": ua},
    )
    assert status == 200, challenge
    hidden = store.get_challenge(challenge["challenge"], 4e9 - 1) or store.get_challenge(
        challenge["challenge"], 0
    )
    picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
    status, answer = call(
        base,
        f"/api/v1/challenge/{challenge['challenge']}/answer",
        {"selected": picks},
        headers={"Origin": "https://shop.example", "User-Agent": ua},
    )
    assert status == 200 and answer["success"], answer
    return challenge["challenge"], answer["token"], sum(not s.gold for s in hidden.slots)


def test_concurrent_siteverify_of_one_token_succeeds_exactly_once(served, tmp_path):
    server, uri = served
    store = open_store(uri, blobs_default=(tmp_path / "blobs").as_uri())
    seeded = seed_project(store)
    _, token, _ = _solve(server.base, store, seeded.sitekey, "racer")
    barrier = threading.Barrier(100)

    def verify(_: int) -> bool:
        barrier.wait()
        _, verdict = call(
            server.base,
            "/siteverify",
            form={"secret": seeded.secret, "response": token},
            timeout=30,
        )
        return verdict["success"]

    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(verify, range(100)))
    assert results.count(True) == 1
    store.close()


def test_sigkill_under_load_loses_no_acknowledged_vote_or_token(served, tmp_path):
    server, uri = served
    store = open_store(uri, blobs_default=(tmp_path / "blobs").as_uri())
    seeded = seed_project(store, open_items=400)
    project = store.get_project(seeded.project)
    project.settings.update(vote_cap=1000, network_cap=1000)
    store.save_project(project)
    acknowledged: list[tuple[str, str, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def load(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                pair = _solve(server.base, store, seeded.sitekey, f"load-{worker}-{n}")
            except (OSError, AssertionError, ValueError, http.client.HTTPException):
                continue  # the server died mid-request: nothing was acknowledged
            with lock:
                acknowledged.append(pair)

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = threading.Event()
    while len(acknowledged) < 40 and not deadline.wait(0.05):
        pass
    server.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged) >= 40
    after = open_store(uri)
    votes = after.list_votes(seeded.project)
    by_challenge: dict[str, int] = {}
    for vote in votes:
        by_challenge[vote.challenge] = by_challenge.get(vote.challenge, 0) + 1
    for challenge_id, token, n_open in acknowledged:
        # one vote per open tile; a grid's open tiles are not a fixed number (decoy gold sets)
        assert by_challenge.get(challenge_id) == n_open, f"votes of {challenge_id} lost"
        assert after.redeem_token(token, 0, seeded.sitekey) is not None, "token lost"
    for item in after.list_items(seeded.project, state="unlabeled", limit=1000):
        assert item.votes == len(after.list_votes(seeded.project, item.id))
    server.start()
    status, _ = call(server.base, "/openapi.json")
    assert status == 200
    after.close()
    store.close()


def test_a_chunked_flood_is_refused_without_reading_it_all(served):
    server, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/v1/challenge/x.y/answer")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "text/plain")
    conn.endheaders()
    chunk = b"x" * 65536
    status = None
    try:
        for _ in range(2048):  # up to 128 MiB, far above any limit
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection after refusing: that is the point
    try:
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException):
        status = "closed"
    finally:
        conn.close()
    assert status in (413, "closed")
    assert call(server.base, "/openapi.json")[0] == 200


def test_metrics_sum_every_gunicorn_worker(served):
    server, _ = served
    for _ in range(12):
        call(server.base, "/api/v1/challenge", {"sitekey": TEST_SITEKEY, "hostname": "localhost"})
    import urllib.request

    text = urllib.request.urlopen(server.base + "/metrics", timeout=10).read().decode()
    issued = [
        line
        for line in text.splitlines()
        if line.startswith("crowdgate_responses_total")
        and 'endpoint="public.challenge"' in line
        and 'status="200"' in line
    ]
    total = sum(float(line.rsplit(" ", 1)[1]) for line in issued)
    assert total >= 12, issued
