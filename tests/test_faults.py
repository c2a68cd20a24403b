"""Crashes under load: SIGKILL a web worker, the web server, the trainer and Redis in turn.

Redis runs with AOF on (``appendfsync everysec``, the default deploy/compose.yaml ships), so
the claim under test is the one docs/operations.md makes: no vote or token acknowledged to a
client is lost when any one process crashes, and the service answers a clear 503 while Redis
is away and recovers on its own when it is back.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crowdgate.errors import CrowdgateError
from crowdgate.store import Store, open_store
from live import Served, call
from redis_server import RedisProcess
from seed import Seeded, seed_project

pytestmark = pytest.mark.redis

ORIGIN = {"Origin": "https://shop.example"}
#: Passes the load must have acknowledged after each crash and restart.
ACKS_PER_PHASE = 20
PHASE_TIMEOUT_S = 30
SECRET = "fault-test-secret"


@dataclass
class Load:
    """Clients solving challenges in threads; remembers every pass the server acknowledged."""

    base: str
    store: Store
    seeded: Seeded
    acknowledged: list[tuple[str, str, int]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, clients: int = 4) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        return threads

    def _client(self, client: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                pair = self._solve(f"fault-{client}-{n}")
            except (OSError, ValueError, http.client.HTTPException, CrowdgateError):
                with self.lock:
                    self.failures += 1  # the server or Redis is down: nothing was acknowledged
                time.sleep(0.02)
                continue
            if pair is not None:
                with self.lock:
                    self.acknowledged.append(pair)

    def _solve(self, agent: str) -> tuple[str, str, int] | None:
        headers = {**ORIGIN, "User-Agent": agent}
        status, body = call(
            self.base, "/api/v1/challenge", {"sitekey": self.seeded.sitekey}, headers=headers
        )
        self.statuses[status] += 1
        if status != 200:
            return None
        hidden = self.store.get_challenge(body["challenge"], 0)
        picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
        status, answer = call(
            self.base,
            f"/api/v1/challenge/{body['challenge']}/answer",
            {"selected": picks},
            headers=headers,
        )
        self.statuses[status] += 1
        if status != 200 or not answer.get("success"):
            return None
        return body["challenge"], answer["token"], sum(not s.gold for s in hidden.slots)

    def wait_for(self, more: int) -> None:
        """Block until ``more`` further passes are acknowledged."""
        target = len(self.acknowledged) + more
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while len(self.acknowledged) < target:
            assert time.monotonic() < deadline, f"load stalled: {self.statuses}"
            time.sleep(0.05)


class Trainer:
    """A ``crowdgate worker`` process that retrains every second."""

    def __init__(self, data_dir: Path, store_uri: str):
        self.args = [sys.executable, "-m", "crowdgate", "worker", "--data-dir", str(data_dir)]
        self.env = {
            **os.environ,
            "CROWDGATE_STORE": store_uri,
            "CROWDGATE_SECRET_KEY": SECRET,
            "CROWDGATE_WORKER_POLL_S": "0.2",
            "CROWDGATE_RETRAIN_EVERY_S": "1",
        }
        self.log = data_dir / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()[-2000:]
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def worker_pids(master: int) -> list[int]:
    """Return the pids of a gunicorn master's children (its workers)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "everysec")
    yield proc
    proc.stop()


def test_crashes_lose_no_acknowledged_vote_or_token_and_redis_outage_is_a_clear_503(
    aof_redis: RedisProcess, tmp_path: Path
) -> None:
    store = open_store(aof_redis.url, blobs_default=(tmp_path / "blobs").as_uri())
    seeded = seed_project(store, open_items=400)
    project = store.get_project(seeded.project)
    project.settings.update(vote_cap=1000, network_cap=1000)
    store.save_project(project)
    server = Served(tmp_path, aof_redis.url, workers=2, CROWDGATE_SECRET_KEY=SECRET)
    trainer = Trainer(tmp_path, aof_redis.url)
    load = Load(server.base, store, seeded)
    threads = load.run()
    try:
        load.wait_for(ACKS_PER_PHASE)

        os.kill(worker_pids(server.proc.pid)[0], signal.SIGKILL)
        load.wait_for(ACKS_PER_PHASE)

        server.kill()
        server.start()
        load.wait_for(ACKS_PER_PHASE)

        trainer.kill()
        trainer.start()
        load.wait_for(ACKS_PER_PHASE)

        aof_redis.proc.kill()
        aof_redis.proc.wait(10)
        status, body = call(server.base, "/readyz")
        assert (status, body["code"]) == (503, "store-unavailable")
        status, body = call(
            server.base, "/api/v1/challenge", {"sitekey": seeded.sitekey}, headers=ORIGIN
        )
        assert (status, body["code"]) == (503, "store-unavailable")
        assert "Redis" in body["message"]
        assert call(server.base, "/healthz")[0] == 200, "the process itself stays live"
        aof_redis.start()
        load.wait_for(ACKS_PER_PHASE)
        assert call(server.base, "/readyz")[0] == 200
    finally:
        load.stop.set()
        for t in threads:
            t.join(30)
        trainer.stop()
        server.stop()

    assert load.failures > 0, "the web server's crash was seen by the load"
    assert load.statuses[503] > 0, "the Redis outage was seen by the load"
    after = open_store(aof_redis.url)
    votes = after.list_votes(seeded.project)
    per_challenge = Counter(v.challenge for v in votes)
    for challenge_id, token, n_open in load.acknowledged:
        # one vote per open tile; a grid's open tiles are not a fixed number (decoy gold sets)
        assert per_challenge[challenge_id] == n_open, f"votes of {challenge_id} lost"
        assert after.redeem_token(token, 0, seeded.sitekey) is not None, "token lost"
    assert len({(v.item, v.voter) for v in votes}) == len(votes), "a vote was doubled"
    assert after.get_stats(seeded.project)["votes"] == len(votes)
    counts = after.count_items(seeded.project)
    for state, n in counts.items():
        assert len(after.list_items(seeded.project, state=state, limit=10_000)) == n, state
    for item in after.list_items(seeded.project, state="unlabeled", limit=10_000):
        assert item.votes == len(after.list_votes(seeded.project, item.id)), item.id
    after.close()
    store.close()
