"""The outcome counters of answers and siteverify follow what the routes answered."""

from __future__ import annotations

from prometheus_client import REGISTRY

from seed import seed_project
from test_challenge_flow import ORIGIN, issue, solve, verify, wrong_answer


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_answers_count_passed_failed_and_reissued(client, app_store, clock):
    seeded = seed_project(app_store)
    passed = count("crowdgate_challenges_total", outcome="passed")
    failed = count("crowdgate_challenges_total", outcome="failed")
    solve(client, app_store, clock, seeded.sitekey)
    body = issue(client, seeded.sitekey).get_json()
    issued = count("crowdgate_challenges_total", outcome="issued")
    reply = client.post(
        f"/api/v1/challenge/{body['challenge']}/answer",
        json={"selected": wrong_answer(app_store, body["challenge"], clock)},
        headers=ORIGIN,
    )
    assert reply.get_json()["success"] is False
    assert count("crowdgate_challenges_total", outcome="passed") == passed + 1
    assert count("crowdgate_challenges_total", outcome="failed") == failed + 1
    # a wrong answer comes with a new grid, which counts as issued
    assert count("crowdgate_challenges_total", outcome="issued") == issued + 1


def test_siteverify_counts_success_and_each_error_code(client, app_store, clock):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    ok = count("crowdgate_siteverify_total", result="success")
    dup = count("crowdgate_siteverify_total", result="timeout-or-duplicate")
    bad = count("crowdgate_siteverify_total", result="bad-request")
    assert verify(client, seeded.secret, token).get_json()["success"] is True
    assert verify(client, seeded.secret, token).get_json()["success"] is False
    client.post("/siteverify", data=b"{not json", content_type="application/json")
    assert count("crowdgate_siteverify_total", result="success") == ok + 1
    assert count("crowdgate_siteverify_total", result="timeout-or-duplicate") == dup + 1
    assert count("crowdgate_siteverify_total", result="bad-request") == bad + 1
