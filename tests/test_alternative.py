"""The accessible path: a proof-of-work pass without images, its limits and its switch."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crowdgate import create_app, manage
from crowdgate.challenge import TEST_SECRET, TEST_SITEKEY
from crowdgate.challenge.pow import solve
from crowdgate.cli import main
from crowdgate.config import Settings
from seed import seed_project

ORIGIN = {"Origin": "https://shop.example"}
#: small enough that the tests solve puzzles in milliseconds; the default is 18
BITS = 6


@pytest.fixture
def settings(backend, request, tmp_path):
    from conftest import store_uri

    return Settings(
        data_dir=tmp_path,
        store=store_uri(backend, request, tmp_path),
        secret_key="test-secret-key",
        cache_ttl_s=0,
        rate_limit_enabled=False,
        alternative_pow_bits=BITS,
    )


def ask(client, sitekey: str, pow: dict | None = None, headers=ORIGIN, addr="203.0.113.7"):
    body = {"sitekey": sitekey, **({"pow": pow} if pow is not None else {})}
    return client.post(
        "/api/v1/alternative", json=body, headers=headers, environ_base={"REMOTE_ADDR": addr}
    )


def solved(client, sitekey: str, **kw) -> dict:
    offer = ask(client, sitekey, **kw)
    assert offer.status_code == 200, offer.get_json()
    puzzle = offer.get_json()
    return {"puzzle": puzzle["puzzle"], "nonce": solve(puzzle["puzzle"], puzzle["bits"])}


def verify(client, secret: str, token: str) -> dict:
    return client.post("/siteverify", data={"secret": secret, "response": token}).get_json()


def test_a_solved_puzzle_buys_one_token_that_verifies_once_and_casts_no_votes(client, app_store):
    seeded = seed_project(app_store)
    offer = ask(client, seeded.sitekey).get_json()
    assert offer["bits"] == BITS and offer["expires_in"] == 300
    proof = {"puzzle": offer["puzzle"], "nonce": solve(offer["puzzle"], offer["bits"])}
    reply = ask(client, seeded.sitekey, proof)
    assert reply.status_code == 200 and reply.get_json()["success"] is True
    token = reply.get_json()["token"]
    first = verify(client, seeded.secret, token)
    assert first["success"] is True and first["path"] == "alternative"
    assert first["hostname"] == "shop.example"
    assert verify(client, seeded.secret, token)["error-codes"] == ["timeout-or-duplicate"]
    assert app_store.list_votes(seeded.project) == []
    assert app_store.get_stats(seeded.project).get("alternative_passes") == 1


def test_a_grid_token_is_reported_as_the_grid_path(client, app_store, clock):
    seeded = seed_project(app_store)
    body = client.post(
        "/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN
    ).get_json()
    assert body["alternative"] is True, "the widget is told to offer the path"
    hidden = app_store.get_challenge(body["challenge"], clock())
    picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
    answer = client.post(
        f"/api/v1/challenge/{body['challenge']}/answer", json={"selected": picks}, headers=ORIGIN
    ).get_json()
    assert verify(client, seeded.secret, answer["token"])["path"] == "grid"


def test_a_solution_is_spent_once(client, app_store):
    seeded = seed_project(app_store)
    proof = solved(client, seeded.sitekey)
    assert ask(client, seeded.sitekey, proof).status_code == 200
    again = ask(client, seeded.sitekey, proof)
    assert again.status_code == 403 and again.get_json()["code"] == "pow-replayed"


def test_a_grid_puzzle_cannot_buy_an_alternative_token(client, app_store):
    # the site asks more work before a grid than the alternative's floor: its puzzle would be
    # hard enough, but it was handed out without counting against the alternative's limits
    seeded = seed_project(app_store, pow_bits=BITS + 2)
    refused = client.post("/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN)
    puzzle = refused.get_json()["pow"]
    proof = {"puzzle": puzzle["puzzle"], "nonce": solve(puzzle["puzzle"], puzzle["bits"])}
    reply = ask(client, seeded.sitekey, proof)
    assert reply.status_code == 403 and reply.get_json()["code"] == "pow-invalid"


def test_the_alternative_never_costs_less_work_than_the_sites_grid(client, app_store):
    seeded = seed_project(app_store, pow_bits=BITS + 3)
    assert ask(client, seeded.sitekey).get_json()["bits"] == BITS + 3


@pytest.mark.parametrize(
    "proof, code",
    [
        ({"puzzle": "x.y", "nonce": "0"}, "pow-invalid"),
        ({"puzzle": 3, "nonce": []}, "pow-invalid"),
        ("not an object", "bad-request"),
    ],
)
def test_bad_solutions_get_a_clear_code(client, app_store, proof, code):
    seeded = seed_project(app_store)
    reply = ask(client, seeded.sitekey, proof)
    assert reply.status_code in (400, 403) and reply.get_json()["code"] == code


def test_a_foreign_origin_is_refused(client, app_store):
    seeded = seed_project(app_store)
    reply = ask(client, seeded.sitekey, headers={"Origin": "https://evil.example"})
    assert reply.status_code == 403
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_a_site_can_turn_the_path_off(client, app_store):
    seeded = seed_project(app_store)
    proof = solved(client, seeded.sitekey)
    manage.set_alternative(app_store, seeded.sitekey, False)
    for reply in (ask(client, seeded.sitekey), ask(client, seeded.sitekey, proof)):
        assert reply.status_code == 403 and reply.get_json()["code"] == "alternative-off"
    body = client.post(
        "/api/v1/challenge", json={"sitekey": seeded.sitekey}, headers=ORIGIN
    ).get_json()
    assert body["alternative"] is False


def test_the_test_sitekey_passes_by_the_alternative_without_votes(client, app_store):
    headers = {"Origin": "http://anything.test"}
    proof = solved(client, TEST_SITEKEY, headers=headers)
    token = ask(client, TEST_SITEKEY, proof, headers=headers).get_json()["token"]
    assert verify(client, TEST_SECRET, token)["path"] == "alternative"
    assert app_store.list_projects() == []


@pytest.fixture
def limited(settings, clock):
    from dataclasses import replace

    app = create_app(
        replace(
            settings,
            rate_limit_enabled=True,
            rate_limit_alternative="2/hour",
            rate_limit_alternative_site="3/hour",
        ),
        clock=clock,
    )
    yield app
    app.extensions["crowdgate"].store.close()


def test_offers_are_limited_per_client_and_per_site(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    codes = [ask(client, seeded.sitekey, addr="203.0.113.7").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert ask(client, seeded.sitekey, addr="203.0.113.7").get_json()["code"] == "rate-limited"
    # another client gets one more before the site's own cap (3 per hour) stops everyone
    codes = [ask(client, seeded.sitekey, addr=f"198.51.100.{i}").status_code for i in (1, 2)]
    assert codes == [200, 429]


def test_a_solution_is_redeemed_without_counting_another_offer(limited):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    proofs = [solved(client, seeded.sitekey) for _ in range(2)]
    assert [ask(client, seeded.sitekey, p).status_code for p in proofs] == [200, 200]


def test_admin_api_turns_the_path_off_and_new_sites_have_it_on(client, app_store):
    seeded = seed_project(app_store)
    _, bearer = manage.create_apikey(app_store, "ops")
    auth = {"Authorization": f"Bearer {bearer}"}
    url = f"/api/v1/admin/sites/{seeded.sitekey}"
    off = client.patch(url, json={"alternative": False}, headers=auth)
    assert off.status_code == 200 and off.get_json()["alternative"] is False
    bad = client.patch(url, json={"alternative": "no"}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad-request"
    made = client.post(
        "/api/v1/admin/sites",
        json={"name": "B", "hostnames": ["b.example"], "project": seeded.project},
        headers=auth,
    )
    assert made.get_json()["alternative"] is True


def test_cli_creates_a_site_without_the_path_and_turns_it_on(tmp_path):
    run = CliRunner().invoke
    base = ["--data-dir", str(tmp_path)]
    assert run(main, ["project", "create", "pets", "--labels", "cat,dog", *base]).exit_code == 0
    site_args = ["--name", "S", "--hostnames", "a.example", "--project", "pets", *base]
    made = run(main, ["site", "create", *site_args, "--no-alternative", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["alternative"] is False
    on = run(main, ["site", "set-alternative", created["sitekey"], "on", *base])
    assert on.exit_code == 0 and "alternative on" in on.output
