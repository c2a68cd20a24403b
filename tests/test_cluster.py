"""The Redis store on a real three-master Redis Cluster: the contract, the flow, the limits."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import test_store_contract as contract
import test_store_counters as counters_contract
from crowdgate.config import Settings
from crowdgate.models import DEFAULT_PROJECT_SETTINGS
from crowdgate.store import Store, open_store
from live import Served, call
from redis_cluster import RedisClusterProcess
from seed import seed_project

pytestmark = pytest.mark.redis

CONTRACT = [
    fn
    for module in (contract, counters_contract)
    for name, fn in vars(module).items()
    if name.startswith("test_")
]
ORIGIN = {"Origin": "https://shop.example"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcess]:
    proc = RedisClusterProcess(tmp_path_factory.mktemp("cluster"))
    yield proc
    proc.stop()


@pytest.fixture
def store(cluster: RedisClusterProcess, tmp_path: Path) -> Iterator[Store]:
    cluster.flush()
    s = open_store(cluster.url, blobs_default=(tmp_path / "blobs").as_uri())
    yield s
    s.close()


def _app(cluster: RedisClusterProcess, tmp_path: Path, **overrides: object):
    from crowdgate import create_app

    settings = Settings(
        data_dir=tmp_path, store=cluster.url, secret_key="cluster-secret", **overrides
    )
    return create_app(settings)


@pytest.mark.parametrize("case", CONTRACT, ids=[fn.__name__[5:] for fn in CONTRACT])
def test_store_contract_holds_on_redis_cluster(
    case: Callable[..., None], store: Store, request: pytest.FixtureRequest
) -> None:
    names = inspect.signature(case).parameters
    case(**{n: store if n == "store" else request.getfixturevalue(n) for n in names})


def test_cluster_uri_selects_the_cluster_client(store: Store) -> None:
    from redis.cluster import RedisCluster

    assert isinstance(store.r, RedisCluster)  # type: ignore[attr-defined]


def sample(name: str, **labels: str) -> float:
    """Return the current value of one metric of this process (0 if never incremented)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_challenge_answer_and_siteverify_flow_runs_on_the_cluster(cluster, tmp_path) -> None:
    cluster.flush()
    before = {
        "votes": sample("crowdgate_votes_total"),
        "passed": sample("crowdgate_challenges_total", outcome="passed"),
        "success": sample("crowdgate_siteverify_total", result="success"),
        "duplicate": sample("crowdgate_siteverify_total", result="timeout-or-duplicate"),
    }
    app = _app(cluster, tmp_path, rate_limit_enabled=False)
    store = app.extensions["crowdgate"].store
    seeded = seed_project(store)
    client = app.test_client()
    issued = client.post("/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN)
    assert issued.status_code == 200, issued.get_json()
    challenge_id = issued.get_json()["challenge"]
    hidden = store.get_challenge(challenge_id, 0)
    picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
    answer = client.post(
        f"/api/v1/challenge/{challenge_id}/answer", json={"selected": picks}, headers=ORIGIN
    )
    assert answer.get_json()["success"] is True, answer.get_json()
    form = {"secret": seeded.secret, "response": answer.get_json()["token"]}
    assert client.post("/siteverify", data=form).get_json()["success"] is True
    again = client.post("/siteverify", data=form).get_json()
    assert again["error-codes"] == ["timeout-or-duplicate"]
    assert len(store.list_votes(seeded.project)) == 12 - DEFAULT_PROJECT_SETTINGS["gold_per_grid"]
    assert client.get("/readyz").status_code == 200
    after = {
        "votes": sample("crowdgate_votes_total"),
        "passed": sample("crowdgate_challenges_total", outcome="passed"),
        "success": sample("crowdgate_siteverify_total", result="success"),
        "duplicate": sample("crowdgate_siteverify_total", result="timeout-or-duplicate"),
    }
    assert {k: after[k] - before[k] for k in before} == {
        "votes": 12 - DEFAULT_PROJECT_SETTINGS["gold_per_grid"],
        "passed": 1,
        "success": 1,
        "duplicate": 1,
    }
    store.close()


def test_crowdgate_serve_on_the_cluster_issues_answers_and_verifies_over_http(
    cluster, tmp_path
) -> None:
    cluster.flush()
    store = open_store(cluster.url)
    seeded = seed_project(store)
    server = Served(tmp_path, cluster.url, workers=2)
    try:
        status, issued = call(
            server.base, "/api/v1/challenge", {"sitekey": seeded.sitekey}, headers=ORIGIN
        )
        assert status == 200, issued
        hidden = store.get_challenge(issued["challenge"], 0)
        picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
        _, answer = call(
            server.base,
            f"/api/v1/challenge/{issued['challenge']}/answer",
            {"selected": picks},
            headers=ORIGIN,
        )
        assert answer["success"] is True, answer
        form = {"secret": seeded.secret, "response": answer["token"]}
        assert call(server.base, "/siteverify", form=form)[1]["success"] is True
        assert call(server.base, "/siteverify", form=form)[1]["success"] is False
        assert call(server.base, "/readyz") == (200, {"status": "ready", "store": "redis"})
    finally:
        server.stop()
        store.close()


def test_every_key_of_a_project_hashes_to_one_slot(cluster, tmp_path) -> None:
    cluster.flush()
    app = _app(cluster, tmp_path, rate_limit_enabled=False)
    store = app.extensions["crowdgate"].store
    seeded = seed_project(store)
    client = app.test_client()
    for _ in range(3):
        body = client.post("/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN)
        challenge_id = body.get_json()["challenge"]
        hidden = store.get_challenge(challenge_id, 0)
        picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
        client.post(
            f"/api/v1/challenge/{challenge_id}/answer", json={"selected": picks}, headers=ORIGIN
        )
    client.post("/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN)
    rc = cluster.client()
    keys = [k.decode() for k in rc.scan_iter(match="cg:{p:shapes}:*", count=1000)]
    assert any(":ch:" in k for k in keys) and any(":tok:" in k for k in keys)
    assert len({rc.keyslot(k) for k in keys}) == 1
    rc.close()
    store.close()


def test_rate_limit_counters_live_on_the_cluster(cluster, tmp_path) -> None:
    cluster.flush()
    app = _app(cluster, tmp_path, rate_limit_client="3/minute")
    client = app.test_client()
    statuses = [client.get("/openapi.json").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    rc = cluster.client()
    assert any(rc.scan_iter(match="LIMITS:*cg-limits*", count=1000))
    rc.close()
    assert client.get("/healthz").status_code == 200, "probes are never rate limited"
    app.extensions["crowdgate"].store.close()


def test_socket_timeouts_in_the_cluster_uri_reach_the_store_and_the_limiter(cluster, tmp_path):
    cluster.flush()
    from crowdgate import create_app

    uri = cluster.url + "?socket_timeout=2&socket_connect_timeout=1"
    app = create_app(
        Settings(data_dir=tmp_path, store=uri, secret_key="s", rate_limit_client="2/minute")
    )
    store = app.extensions["crowdgate"].store
    node = store.r.get_default_node().redis_connection
    assert node.connection_pool.connection_kwargs["socket_timeout"] == 2
    client = app.test_client()
    assert [client.get("/openapi.json").status_code for _ in range(3)] == [200, 200, 429]
    store.close()


def test_a_redis_cluster_holding_old_blobs_is_served_then_migrated_without_losing_a_byte(
    cluster: RedisClusterProcess, tmp_path: Path
) -> None:
    from legacy_store import fill_redis

    cluster.flush()
    client = cluster.client()
    try:
        blobs = fill_redis(cluster.url, client=client)
        assert len(list(client.scan_iter("*:blob:*", target_nodes=client.ALL_NODES))) == 6
        store = open_store(cluster.url, blobs=(tmp_path / "blobs").as_uri())
        for (project, item, kind), data in blobs.items():
            assert store.get_blob(project, item, kind) == data  # read where the old version put it
        assert store.migrate_blobs(batch=4) == 6
        assert store.migrate_blobs() == 0  # resumable and idempotent: nothing is moved twice
        assert list(client.scan_iter("*:blob:*", target_nodes=client.ALL_NODES)) == []
        assert store.blob_hash_keys() == 0  # type: ignore[attr-defined]
        for (project, item, kind), data in blobs.items():
            assert store.get_blob(project, item, kind) == data
        store.close()
    finally:
        client.close()
