"""The demo sign-up site against a served crowdgate: CSP, siteverify over HTTP, the explanation."""

from __future__ import annotations

import re
import time

import pytest

from browser import SECRET_KEY, Gate, right_picks, wrong_picks
from browser import gate_fixture as gate_fixture  # registers the `gate` fixture
from crowdgate.challenge.voter import voter_keys
from crowdgate.models import DEFAULT_PROJECT_SETTINGS, GOLD, UNLABELED
from crowdgate.web.demo_site import DemoSite, create_demo_site, pass_votes
from live import call

ORIGIN = "http://localhost:5000"


@pytest.fixture
def demo(gate: Gate):
    seeded = gate.seeded
    site = DemoSite(gate.base, seeded.sitekey, seeded.secret, seeded.project)
    return create_demo_site(site, gate.store, SECRET_KEY).test_client()


def solve(gate: Gate, agent: str, *, right: bool = True) -> tuple[str, dict]:
    """Answer one grid over HTTP as a browser on ``localhost`` would; return (challenge, reply)."""
    headers = {"Origin": ORIGIN, "User-Agent": agent}
    _, challenge = call(
        gate.base, "/api/v1/challenge", {"sitekey": gate.seeded.sitekey}, headers=headers
    )
    cid = challenge["challenge"]
    picks = right_picks(gate.store, cid) if right else wrong_picks(gate.store, cid)
    _, reply = call(
        gate.base, f"/api/v1/challenge/{cid}/answer", {"selected": picks}, headers=headers
    )
    return cid, reply


def post_signup(demo, token: str, agent: str):
    return demo.post(
        "/signup",
        data={"name": "Ada", "crowdgate-response": token},
        headers={"User-Agent": agent},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )


def test_signup_page_loads_the_widget_from_crowdgate_under_a_strict_csp(demo, gate):
    reply = demo.get("/")
    html = reply.get_data(as_text=True)
    csp = reply.headers["Content-Security-Policy"]
    assert f'<script src="{gate.base}/widget.js" async defer></script>' in html
    assert f'data-sitekey="{gate.seeded.sitekey}"' in html
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert f"script-src {gate.base};" in csp and "form-action 'self'" in csp
    assert re.findall(r"<script(?![^>]*\ssrc=)", html) == []
    assert " style=" not in html and "<style" not in html


def test_signup_without_a_token_asks_to_solve_the_grid(demo):
    reply = demo.post("/signup", data={"name": "Ada"})
    assert reply.status_code == 400
    assert "Tick the checkbox" in reply.get_data(as_text=True)


def test_pass_is_verified_once_and_its_votes_are_explained(demo, gate):
    agent = f"demo-pass {time.time_ns()}"
    cid, reply = solve(gate, agent)
    page = post_signup(demo, reply["token"], agent)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Welcome, Ada!" in html
    verdict, replay = re.findall(r'<pre id="\w+">(.*?)</pre>', html, re.S)
    assert '"success": true' in verdict and "timeout-or-duplicate" in replay
    votes = [v for v in gate.store.list_votes(gate.seeded.project) if v.challenge == cid]
    assert votes and html.count('<tr class="voted">') == len(votes)
    for vote in votes:
        item = gate.store.get_item(gate.seeded.project, vote.item)
        assert f"/item/{vote.item}" in html
        assert item is not None and item.state == UNLABELED
    assert "you got 100% of them right" in html
    gold_shown = re.findall(r"/gold/([0-9a-f]{64})", html)
    assert len(gold_shown) == DEFAULT_PROJECT_SETTINGS["gold_per_grid"] and set(gold_shown) <= set(
        gate.seeded.gold
    )
    assert demo.get(f"/gold/{gold_shown[0]}").status_code == 200


def test_gold_tiles_the_demo_did_not_explain_are_not_served(demo, gate):
    shown = [g for g in gate.seeded.gold if demo.get(f"/gold/{g}").status_code == 200]
    assert len(shown) < len(gate.seeded.gold)
    assert demo.get("/gold/unknown").status_code == 404


def test_votes_of_another_visitor_in_the_same_second_are_not_shown(gate):
    mine, _ = solve(gate, "visitor-a")
    theirs, _ = solve(gate, "visitor-b")
    votes = gate.store.list_votes(gate.seeded.project)
    second = int(next(v.ts for v in votes if v.challenge == mine))
    voter, _ = voter_keys(SECRET_KEY, "127.0.0.1", "visitor-a", time.time())
    found = pass_votes(gate.store, gate.seeded.project, voter, second)
    assert found and {v.challenge for v in found} == {mine}
    assert theirs not in {v.challenge for v in found}


@pytest.mark.parametrize(
    "token",
    ["shapes.forged-token-that-was-never-issued", "not-a-token"],
    ids=["forged", "malformed"],
)
def test_an_unverifiable_token_refuses_the_signup(demo, token):
    page = post_signup(demo, token, "demo-forged")
    html = page.get_data(as_text=True)
    assert page.status_code == 403 and "Not verified" in html
    assert "invalid-input-response" in html or "timeout-or-duplicate" in html
    assert 'id="labels"' not in html


def test_failed_grid_gives_no_token_to_post(gate):
    _, reply = solve(gate, "demo-fail", right=False)
    assert reply["success"] is False and "token" not in reply


def test_progress_page_shows_the_project_counts(demo, gate):
    solve(gate, f"demo-progress {time.time_ns()}")
    html = demo.get("/progress").get_data(as_text=True)
    stats = gate.store.get_stats(gate.seeded.project)
    assert f'<td id="passed">{stats["challenges_passed"]}</td>' in html
    assert f'<td id="votes">{stats["votes"]}</td>' in html
    assert "<progress" in html


def test_only_non_gold_images_are_served(demo, gate):
    gold = next(iter(gate.seeded.gold))
    assert gate.store.get_item(gate.seeded.project, gold).state == GOLD
    assert demo.get(f"/item/{gold}").status_code == 404
    assert demo.get("/item/unknown").status_code == 404
    reply = demo.get(f"/item/{gate.seeded.open[0]}")
    assert reply.status_code == 200 and reply.data
