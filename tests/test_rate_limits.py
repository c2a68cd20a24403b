"""Rate limits: per client on challenges, per secret on siteverify, raw addresses never kept."""

from __future__ import annotations

import pytest

from crowdgate import create_app
from crowdgate.config import Settings
from crowdgate.web.limits import client_prefix
from seed import seed_project


@pytest.fixture
def limited(backend, request, tmp_path, clock):
    from conftest import store_uri

    settings = Settings(
        data_dir=tmp_path,
        store=store_uri(backend, request, tmp_path),
        secret_key="limits",
        cache_ttl_s=0,
        rate_limit_client="3/minute",
        rate_limit_sitekey="5/minute",
        rate_limit_siteverify="4/minute",
    )
    app = create_app(settings, clock=clock)
    yield app
    app.extensions["crowdgate"].store.close()


def _issue(client, sitekey, addr="203.0.113.7"):
    return client.post(
        "/api/v1/challenge",
        json={"sitekey": sitekey},
        headers={"Origin": "https://shop.example"},
        environ_base={"REMOTE_ADDR": addr},
    )


def test_challenges_are_limited_per_client_and_per_sitekey(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    codes = [_issue(client, seeded.sitekey).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert _issue(client, seeded.sitekey).get_json()["code"] == "rate-limited"
    others = [_issue(client, seeded.sitekey, f"198.51.100.{n}").status_code for n in range(3)]
    assert others == [200, 200, 429], "the sitekey's own limit (5/minute) applies across clients"


def test_siteverify_is_limited_per_secret_not_per_address_and_keeps_its_shape(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    form = {"secret": seeded.secret, "response": "shapes.nothing"}
    replies = [client.post("/siteverify", data=form) for _ in range(5)]
    assert [r.status_code for r in replies] == [200, 200, 200, 200, 429]
    assert replies[-1].get_json()["success"] is False
    assert replies[-1].get_json()["error-codes"] == ["rate-limited"]
    other = client.post("/siteverify", data={"secret": "0xother", "response": "a.b"})
    assert other.status_code == 200


def test_limit_keys_never_hold_a_raw_address(redis_proc, tmp_path, clock):
    import redis

    redis_proc.flush()
    app = create_app(
        Settings(data_dir=tmp_path, store=redis_proc.url, secret_key="limits"), clock=clock
    )
    seeded = seed_project(app.extensions["crowdgate"].store)
    assert _issue(app.test_client(), seeded.sitekey, "203.0.113.99").status_code == 200
    keys = [k.decode() for k in redis.Redis(port=redis_proc.port).keys("*cg-limits*")]
    assert keys and not any("203.0.113" in k for k in keys)
    app.extensions["crowdgate"].store.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("junk", "unknown"),
    ],
    ids=["ipv4", "ipv6-64", "v4-mapped", "unparsable"],
)
def test_clients_are_counted_by_address_or_ipv6_prefix(address, expected):
    assert client_prefix(address) == expected


def test_preflights_of_tiles_and_siteverify_count_against_no_limit(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    for _ in range(10):
        assert client.options("/siteverify").status_code == 200
        assert client.options("/recaptcha/api/siteverify").status_code == 200
    form = {"secret": seeded.secret, "response": "shapes.nothing"}
    replies = [client.post("/siteverify", data=form).status_code for _ in range(5)]
    assert replies == [200, 200, 200, 200, 429], "the secret's 4/minute is all real calls"
