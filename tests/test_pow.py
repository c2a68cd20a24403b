"""The proof-of-work gate: signed stateless puzzles, single use on every store, and HTTP."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from click.testing import CliRunner

from crowdgate import manage
from crowdgate.challenge import ChallengeService
from crowdgate.challenge.pow import (
    PowRejected,
    PowRequired,
    leading_zero_bits,
    make_puzzle,
    solve,
    verify_solution,
)
from crowdgate.cli import main
from crowdgate.clock import FrozenClock
from crowdgate.config import Settings
from crowdgate.models import Site
from crowdgate.store import Store
from seed import seed_project

KEY = "test-secret-key"
NOW = 1_800_000_000.0
ORIGIN = {"Origin": "https://shop.example"}


def site(bits: int = 8, sitekey: str = "sk1") -> Site:
    return Site(
        sitekey=sitekey,
        name="Shop",
        secret_hash="h",
        hostnames=["shop.example"],
        project="shapes",
        pow_bits=bits,
    )


def proof(puzzle: str, bits: int = 8) -> dict[str, str]:
    return {"puzzle": puzzle, "nonce": solve(puzzle, bits)}


def miss(puzzle: str, bits: int = 8) -> str:
    """Return a well-formed nonce that does not solve ``puzzle``."""
    for n in range(1000):
        nonce = f"x{n}"
        if leading_zero_bits(hashlib.sha256(f"{puzzle}:{nonce}".encode()).digest()) < bits:
            return nonce
    raise AssertionError("every nonce solved the puzzle")


def refusal(service: ChallengeService, gated: Site, given: object) -> PowRequired:
    with pytest.raises(PowRequired) as caught:
        service.admit(gated, given)
    return caught.value


@pytest.fixture
def service(store: Store) -> ChallengeService:
    return ChallengeService(store, Settings(secret_key=KEY), clock=FrozenClock(NOW))


def test_leading_zero_bits_counts_across_bytes() -> None:
    assert leading_zero_bits(bytes([0, 0x0F] + [0xFF] * 30)) == 12
    assert leading_zero_bits(bytes([0x80] + [0] * 31)) == 0
    assert leading_zero_bits(bytes(32)) == 256


def test_a_solved_puzzle_verifies_and_its_bits_are_signed() -> None:
    puzzle = make_puzzle(KEY, "sk1", 8, NOW)
    checked = verify_solution(KEY, puzzle, solve(puzzle, 8), "sk1", 8, NOW + 1)
    assert checked.bits == 8 and checked.expires_at > NOW
    assert len(puzzle) < 128 and "=" not in puzzle


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param(lambda p, n: (KEY + "x", p, n, "sk1", 8, NOW), "pow-invalid", id="other-key"),
        pytest.param(lambda p, n: (KEY, p, n, "sk2", 8, NOW), "pow-invalid", id="other-site"),
        pytest.param(lambda p, n: (KEY, p, n, "sk1", 9, NOW), "pow-invalid", id="too-few-bits"),
        pytest.param(lambda p, n: (KEY, p, n, "sk1", 8, NOW + 121), "pow-expired", id="expired"),
        pytest.param(lambda p, n: (KEY, p, miss(p), "sk1", 8, NOW), "pow-invalid", id="wrong"),
        pytest.param(lambda p, n: (KEY, p, "A", "sk1", 8, NOW), "pow-invalid", id="bad-nonce"),
        pytest.param(lambda p, n: (KEY, p, 7, "sk1", 8, NOW), "pow-invalid", id="int-nonce"),
        pytest.param(lambda p, n: (KEY, "x" * 200, n, "sk1", 8, NOW), "pow-invalid", id="long"),
        pytest.param(lambda p, n: (KEY, "!!.??", n, "sk1", 8, NOW), "pow-invalid", id="junk"),
        pytest.param(lambda p, n: (KEY, p[:-2], n, "sk1", 8, NOW), "pow-invalid", id="cut-tag"),
    ],
)
def test_refused_solutions_say_why(change, code: str) -> None:
    puzzle = make_puzzle(KEY, "sk1", 8, NOW)
    with pytest.raises(PowRejected) as caught:
        verify_solution(*change(puzzle, solve(puzzle, 8)))
    assert caught.value.code == code


def test_a_forged_payload_with_more_bits_fails_the_signature() -> None:
    puzzle = make_puzzle(KEY, "sk1", 1, NOW)
    head, _, tag = puzzle.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    raw[1] = 20
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + tag
    with pytest.raises(PowRejected, match="not issued"):
        verify_solution(KEY, forged, "0", "sk1", 1, NOW)


def test_a_respelled_puzzle_is_refused_so_it_cannot_be_spent_twice() -> None:
    puzzle = make_puzzle(KEY, "sk1", 4, NOW)
    respelled = puzzle[:5] + "!" + puzzle[5:]
    with pytest.raises(PowRejected, match="altered"):
        verify_solution(KEY, respelled, solve(respelled, 4), "sk1", 4, NOW)


def test_sites_without_pow_are_admitted_without_a_proof(service: ChallengeService) -> None:
    assert service.admit(site(0), None) is False
    assert service.admit(site(0), {"junk": True}) is False


def test_the_gate_admits_a_solution_once_on_every_store(service: ChallengeService) -> None:
    gated = site()
    first = refusal(service, gated, None)
    assert first.code == "pow-required" and first.status == 403
    assert first.pow["bits"] == 8 and first.pow["expires_in"] == 120
    given = proof(first.pow["puzzle"])
    service.admit(gated, given)
    again = refusal(service, gated, given)
    assert again.code == "pow-replayed"
    assert again.pow["puzzle"] != first.pow["puzzle"]


@pytest.mark.parametrize(
    ("given", "code"),
    [
        pytest.param("a string", "pow-invalid", id="not-an-object"),
        pytest.param({"puzzle": "x.y", "nonce": "0"}, "pow-invalid", id="forged"),
        pytest.param({}, "pow-invalid", id="empty"),
    ],
)
def test_the_gate_refuses_malformed_proofs_with_a_fresh_puzzle(
    service: ChallengeService, given: object, code: str
) -> None:
    refused = refusal(service, site(), given)
    assert refused.code == code and refused.pow["puzzle"]


def test_the_gate_refuses_late_foreign_and_outdated_solutions(service: ChallengeService) -> None:
    clock = service.clock
    assert isinstance(clock, FrozenClock)
    late = proof(make_puzzle(KEY, "sk1", 8, NOW))
    clock.advance(121)
    assert refusal(service, site(), late).code == "pow-expired"
    foreign = proof(make_puzzle(KEY, "sk2", 8, clock()))
    assert refusal(service, site(), foreign).code == "pow-invalid"
    easy = proof(make_puzzle(KEY, "sk1", 4, clock()), 4)
    assert refusal(service, site(8), easy).code == "pow-invalid"
    harder = proof(make_puzzle(KEY, "sk1", 10, clock()), 10)
    service.admit(site(8), harder)


def test_pow_bits_are_validated_with_a_clear_code(store: Store) -> None:
    seeded = seed_project(store, open_items=0, gold_per_label=1)
    for bad in (-1, 25, 1.5, "8", True, None):
        with pytest.raises(Exception) as caught:
            manage.set_pow_bits(store, seeded.sitekey, bad)
        assert getattr(caught.value, "code", "") == "invalid-pow-bits"
        assert "0 (off) to 24" in str(caught.value)
    assert manage.set_pow_bits(store, seeded.sitekey, 12).pow_bits == 12
    assert store.get_site(seeded.sitekey).pow_bits == 12


def test_a_site_stored_before_pow_existed_asks_none() -> None:
    data = site().to_dict()
    del data["pow_bits"]
    assert Site.from_dict(data).pow_bits == 0


# -- HTTP ------------------------------------------------------------------------------------
def ask(client, sitekey: str, **extra):
    return client.post("/api/v1/challenge", json={"sitekey": sitekey, **extra}, headers=ORIGIN)


def test_a_gated_site_hands_out_a_puzzle_and_issues_once_it_is_solved(client, app_store):
    seeded = seed_project(app_store, pow_bits=8, open_items=7, gold_per_label=2)
    first = ask(client, seeded.sitekey)
    body = first.get_json()
    assert first.status_code == 403 and body["code"] == "pow-required"
    assert body["message"] and body["pow"]["bits"] == 8
    assert first.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    given = proof(body["pow"]["puzzle"])
    issued = ask(client, seeded.sitekey, pow=given)
    # 7 open tiles and the gold of the asked label's gold set (fewer than 5 when that set is
    # small: two gold per label here), so the grid's size is not fixed
    assert issued.status_code == 200 and 8 <= issued.get_json()["grid"] <= 12
    replayed = ask(client, seeded.sitekey, pow=given)
    assert replayed.status_code == 403 and replayed.get_json()["code"] == "pow-replayed"
    assert replayed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    fresh = replayed.get_json()["pow"]["puzzle"]
    wrong = ask(client, seeded.sitekey, pow={"puzzle": fresh, "nonce": miss(fresh)})
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "pow-invalid"


def test_a_gated_site_checks_the_origin_before_handing_out_puzzles(client, app_store):
    seeded = seed_project(app_store, pow_bits=8, open_items=6, gold_per_label=2)
    reply = client.post(
        "/api/v1/challenge",
        json={"sitekey": seeded.sitekey},
        headers={"Origin": "https://evil.example"},
    )
    assert reply.status_code == 403 and reply.get_json()["code"] == "origin-not-allowed"
    assert "pow" not in reply.get_json()
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_an_ungated_site_ignores_pow_and_answers_in_one_round_trip(client, app_store):
    seeded = seed_project(app_store, open_items=6, gold_per_label=2)
    assert ask(client, seeded.sitekey).status_code == 200
    assert ask(client, seeded.sitekey, pow={"puzzle": "x", "nonce": "y"}).status_code == 200


def test_admin_api_creates_and_changes_pow_bits(client, app_store):
    seed_project(app_store, open_items=0, gold_per_label=1)
    _, bearer = manage.create_apikey(app_store, "tests")
    auth = {"Authorization": f"Bearer {bearer}"}
    body = {"name": "Gated", "hostnames": ["a.example"], "project": "shapes", "pow_bits": 10}
    created = client.post("/api/v1/admin/sites", json=body, headers=auth)
    assert created.status_code == 201 and created.get_json()["pow_bits"] == 10
    sitekey = created.get_json()["sitekey"]
    bad = client.post("/api/v1/admin/sites", json={**body, "pow_bits": 30}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid-pow-bits"
    url = f"/api/v1/admin/sites/{sitekey}"
    changed = client.patch(url, json={"pow_bits": 0}, headers=auth)
    assert changed.status_code == 200 and changed.get_json()["pow_bits"] == 0
    assert "secret_hash" not in changed.get_json()
    assert client.patch(url, json={"name": "x"}, headers=auth).status_code == 400
    missing = client.patch("/api/v1/admin/sites/nope", json={"pow_bits": 1}, headers=auth)
    assert missing.status_code == 404 and missing.get_json()["code"] == "unknown-sitekey"


def test_cli_creates_and_changes_gated_sites(tmp_path):
    run = CliRunner().invoke
    base = ["--data-dir", str(tmp_path)]
    assert run(main, ["project", "create", "pets", "--labels", "cat,dog", *base]).exit_code == 0
    site_args = ["--name", "S", "--hostnames", "a.example", "--project", "pets", *base]
    made = run(main, ["site", "create", *site_args, "--pow-bits", "12", "--json"])
    assert made.exit_code == 0, made.output
    sitekey = json.loads(made.output)["sitekey"]
    assert json.loads(made.output)["pow_bits"] == 12
    refused = run(main, ["site", "create", *site_args, "--pow-bits", "99"])
    assert refused.exit_code == 2 and "invalid-pow-bits" in refused.output
    changed = run(main, ["site", "set-pow", sitekey, "0", *base])
    assert changed.exit_code == 0 and "pow_bits 0" in changed.output


def test_proofs_of_work_are_counted_in_metrics(client, app_store):
    from prometheus_client import REGISTRY

    def count(result: str) -> float:
        return REGISTRY.get_sample_value("crowdgate_pow_total", {"result": result}) or 0.0

    before = {r: count(r) for r in ("pow-required", "solved", "pow-replayed")}
    seeded = seed_project(app_store, pow_bits=8, open_items=6, gold_per_label=2)
    puzzle = ask(client, seeded.sitekey).get_json()["pow"]["puzzle"]
    given = proof(puzzle)
    assert ask(client, seeded.sitekey, pow=given).status_code == 200
    assert ask(client, seeded.sitekey, pow=given).status_code == 403
    assert {r: count(r) - before[r] for r in before} == {
        "pow-required": 1,
        "solved": 1,
        "pow-replayed": 1,
    }
    plain = seed_project(app_store, pid="plain", open_items=6)
    solved = count("solved")
    assert ask(client, plain.sitekey).status_code == 200
    assert count("solved") == solved, "an ungated site's challenges are not counted as proofs"
