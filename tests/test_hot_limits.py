"""Hot-route limits: counted in the store's own write, in the counters Flask-Limiter reads."""

from __future__ import annotations

import pytest
from limits import parse

from crowdgate import create_app
from crowdgate.config import Settings
from crowdgate.web.limits import client_key
from seed import seed_project

ADDR = "203.0.113.7"
ORIGIN = {"Origin": "https://shop.example"}


@pytest.fixture
def limited(backend, request, tmp_path, clock):
    from conftest import store_uri

    settings = Settings(
        data_dir=tmp_path,
        store=store_uri(backend, request, tmp_path),
        secret_key="hot-limits",
        cache_ttl_s=0,
        rate_limit_client="3/minute",
        rate_limit_sitekey="50/minute",
        rate_limit_siteverify="4/minute",
    )
    app = create_app(settings, clock=clock)
    yield app
    app.extensions["crowdgate"].store.close()


def _issue(client, sitekey):
    return client.post(
        "/api/v1/challenge",
        json={"sitekey": sitekey},
        headers=ORIGIN,
        environ_base={"REMOTE_ADDR": ADDR},
    )


def _remaining(app, endpoint: str) -> int:
    """What Flask-Limiter itself reads as left of the client's limit on ``endpoint``."""
    limiter = app.extensions["crowdgate_limiter"]
    item = parse(app.extensions["crowdgate"].settings.rate_limit_client)
    with app.test_request_context(environ_base={"REMOTE_ADDR": ADDR}):
        key = client_key()
    return limiter.limiter.get_window_stats(item, "cg-limits", key, endpoint).remaining


def test_the_hot_routes_fold_their_limits_into_the_store(limited):
    hot = limited.extensions["crowdgate_hot_limits"]
    assert hot.place, "the limits live beside the store, so the store counts them"


def test_challenges_count_in_the_counters_flask_limiter_reads(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    assert _remaining(limited, "public.challenge") == 3
    assert _issue(client, seeded.sitekey).status_code == 200
    assert _remaining(limited, "public.challenge") == 2
    assert _issue(client, seeded.sitekey).status_code == 200
    assert _remaining(limited, "public.challenge") == 1


def test_a_refused_challenge_writes_nothing(limited):
    store = limited.extensions["crowdgate"].store
    seeded = seed_project(store)
    client = limited.test_client()
    assert [_issue(client, seeded.sitekey).status_code for _ in range(3)] == [200] * 3
    issued = store.get_stats(seeded.project)["challenges_issued"]
    refused = _issue(client, seeded.sitekey)
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate-limited"
    assert refused.headers["Retry-After"] == "60"
    assert store.get_stats(seeded.project)["challenges_issued"] == issued


def test_requests_that_reach_no_store_write_are_counted_too(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    bad = [
        client.post(
            "/api/v1/challenge",
            data=b"{not json",
            headers=ORIGIN,
            environ_base={"REMOTE_ADDR": ADDR},
        ).status_code
        for _ in range(3)
    ]
    assert bad == [400, 400, 400]
    assert _issue(client, seeded.sitekey).status_code == 429


def test_a_refused_answer_leaves_the_challenge_to_be_answered(limited):
    store = limited.extensions["crowdgate"].store
    seeded = seed_project(store)
    client = limited.test_client()
    challenge = _issue(client, seeded.sitekey).get_json()["challenge"]
    for _ in range(3):
        gone = client.post(
            f"/api/v1/challenge/{seeded.project}.nothing/answer",
            json={"selected": []},
            headers=ORIGIN,
            environ_base={"REMOTE_ADDR": ADDR},
        )
        assert gone.status_code == 410
    refused = client.post(
        f"/api/v1/challenge/{challenge}/answer",
        json={"selected": []},
        headers=ORIGIN,
        environ_base={"REMOTE_ADDR": ADDR},
    )
    assert refused.status_code == 429
    assert store.get_challenge(challenge, 0) is not None, "not consumed by a refused answer"


def test_a_refused_siteverify_keeps_its_shape_and_the_token(limited, clock):
    store = limited.extensions["crowdgate"].store
    seeded = seed_project(store)
    client = limited.test_client()
    form = {"secret": seeded.secret, "response": f"{seeded.project}.nothing"}
    assert [client.post("/siteverify", data=form).status_code for _ in range(4)] == [200] * 4
    refused = client.post("/siteverify", data=form)
    assert refused.status_code == 429
    assert refused.get_json()["error-codes"] == ["rate-limited"]


def test_limits_kept_apart_from_the_store_are_checked_before_the_view(tmp_path, clock):
    settings = Settings(
        data_dir=tmp_path,
        store=f"sqlite:///{tmp_path / 'crowdgate.db'}",
        secret_key="apart",
        cache_ttl_s=0,
        rate_limit_client="2/minute",
        rate_limit_storage="memory://",
    )
    app = create_app(settings, clock=clock)
    seeded = seed_project(app.extensions["crowdgate"].store)
    assert app.extensions["crowdgate_hot_limits"].place == ""
    client = app.test_client()
    assert [_issue(client, seeded.sitekey).status_code for _ in range(3)] == [200, 200, 429]
    app.extensions["crowdgate"].store.close()


def test_a_redis_challenge_makes_three_script_calls_limits_included(redis_proc, tmp_path, clock):
    import redis

    redis_proc.flush()
    app = create_app(
        Settings(data_dir=tmp_path, store=redis_proc.url, secret_key="calls", cache_ttl_s=60),
        clock=clock,
    )
    seeded = seed_project(app.extensions["crowdgate"].store)
    client = app.test_client()
    assert _issue(client, seeded.sitekey).status_code == 200
    info = redis.Redis(port=redis_proc.port)

    def calls() -> int:
        stats = info.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))

    before = calls()
    assert _issue(client, seeded.sitekey).status_code == 200
    # the tile refs are a script call too (one round trip, as their pipeline was)
    assert calls() - before == 3, "the limits and the grid draw in one call, the write, the refs"
    app.extensions["crowdgate"].store.close()


def test_a_refused_redis_challenge_composes_no_grid(redis_proc, tmp_path, clock):
    import redis

    redis_proc.flush()
    settings = Settings(
        data_dir=tmp_path,
        store=redis_proc.url,
        secret_key="calls",
        cache_ttl_s=60,
        rate_limit_client="1/minute",
    )
    app = create_app(settings, clock=clock)
    seeded = seed_project(app.extensions["crowdgate"].store)
    client = app.test_client()
    assert _issue(client, seeded.sitekey).status_code == 200
    info = redis.Redis(port=redis_proc.port)

    def calls() -> dict[str, int]:
        return {k: v["calls"] for k, v in info.info("commandstats").items()}

    before = calls()
    refused = _issue(client, seeded.sitekey)
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate-limited"
    after = calls()
    made = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    # the one call that checked the limits (and refused before drawing); no tile was read,
    # nothing written (INFO itself is the other command seen)
    assert made.pop("cmdstat_evalsha", 0) == 1
    assert "cmdstat_hget" not in made and "cmdstat_set" not in made, made
    app.extensions["crowdgate"].store.close()
