"""siteverify's error codes mean what reCAPTCHA's mean, on both stores.

``invalid-input-response``: this site was never given that token (forged, another site's, or
forgotten long after it expired). ``timeout-or-duplicate``: the token was real but is spent or
expired, told apart by the tombstone a redeem leaves.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from seed import seed_project
from test_challenge_flow import solve, verify


def codes(reply) -> list[str]:
    return reply.get_json()["error-codes"]


def test_a_well_formed_token_never_issued_is_invalid_input_response(client, app_store, clock):
    seeded = seed_project(app_store)
    real = solve(client, app_store, clock, seeded.sitekey)
    forged = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    assert codes(verify(client, seeded.secret, forged)) == ["invalid-input-response"]
    assert verify(client, seeded.secret, real).get_json()["success"] is True


def test_a_spent_token_is_timeout_or_duplicate(client, app_store, clock, settings):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    assert verify(client, seeded.secret, token).get_json()["success"] is True
    assert codes(verify(client, seeded.secret, token)) == ["timeout-or-duplicate"]
    clock.advance(settings.token_ttl_s + 5)  # still a duplicate once it would have expired
    assert codes(verify(client, seeded.secret, token)) == ["timeout-or-duplicate"]


def test_an_expired_token_is_timeout_or_duplicate(client, app_store, clock, settings):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    clock.advance(settings.token_ttl_s + 1)
    assert codes(verify(client, seeded.secret, token)) == ["timeout-or-duplicate"]
    assert codes(verify(client, seeded.secret, token)) == ["timeout-or-duplicate"]


def test_another_sites_token_is_invalid_input_response_and_stays_usable(client, app_store, clock):
    ours = seed_project(app_store)
    theirs = seed_project(app_store, pid="other", open_items=9)
    token = solve(client, app_store, clock, theirs.sitekey)
    assert codes(verify(client, ours.secret, token)) == ["invalid-input-response"]
    assert verify(client, theirs.secret, token).get_json()["success"] is True


def test_100_concurrent_replays_give_one_success(app, client, app_store, clock):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    service = app.extensions["crowdgate"].service
    with ThreadPoolExecutor(16) as pool:
        verdicts = list(pool.map(lambda _: service.verify(seeded.secret, token), range(100)))
    assert sum(v["success"] for v in verdicts) == 1
    assert sorted({tuple(v["error-codes"]) for v in verdicts}) == [(), ("timeout-or-duplicate",)]
