"""The challenge loop through HTTP: issue with tiles, grading, votes, tokens, siteverify."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from crowdgate.challenge import TEST_RESPONSE, TEST_SECRET, TEST_SITEKEY
from crowdgate.models import DEFAULT_PROJECT_SETTINGS
from crowdgate.store import Store
from seed import seed_project

ORIGIN = {"Origin": "https://shop.example"}


def issue(client, sitekey: str, headers=ORIGIN, **extra):
    return client.post("/api/v1/challenge", json={"sitekey": sitekey, **extra}, headers=headers)


def right_answer(store: Store, challenge_id: str, clock) -> list[int]:
    """The correct selection, read from the store's hidden key (never from the response)."""
    challenge = store.get_challenge(challenge_id, clock())
    return [i for i, s in enumerate(challenge.slots) if s.gold and s.truth]


def wrong_answer(store: Store, challenge_id: str, clock) -> list[int]:
    challenge = store.get_challenge(challenge_id, clock())
    return [i for i, s in enumerate(challenge.slots) if s.gold and not s.truth]


def solve(client, store, clock, sitekey: str) -> str:
    body = issue(client, sitekey).get_json()
    answer = client.post(
        f"/api/v1/challenge/{body['challenge']}/answer",
        json={"selected": right_answer(store, body["challenge"], clock)},
        headers=ORIGIN,
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["success"] is True
    return answer.get_json()["token"]


def verify(client, secret: str, response: str, **extra):
    return client.post("/siteverify", data={"secret": secret, "response": response, **extra})


def tiles_of(body: dict) -> list[bytes]:
    """Decode the tiles a challenge response carries."""
    return [base64.b64decode(t, validate=True) for t in body["tiles"]]


def test_challenge_has_gold_of_both_kinds_and_carries_its_tiles(client, app_store, clock):
    seeded = seed_project(app_store)
    reply = issue(client, seeded.sitekey)
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["grid"] == 12 and len(body["tiles"]) == 12
    assert "images" not in body
    assert body["label"] in ("circle", "square", "triangle")
    assert body["prompt"] == f"Select all images with a {body['label']}"
    challenge = app_store.get_challenge(body["challenge"], clock())
    gold = [s for s in challenge.slots if s.gold]
    assert len(gold) == DEFAULT_PROJECT_SETTINGS["gold_per_grid"]
    assert any(s.truth for s in gold) and any(not s.truth for s in gold)
    assert len({s.item for s in challenge.slots}) == 12
    text = reply.get_data(as_text=True)
    assert all(s.item not in text for s in challenge.slots), "no item identity is served"
    for tile in tiles_of(body):
        with Image.open(io.BytesIO(tile)) as img:
            assert img.format in ("WEBP", "PNG") and img.size[0] > 0
    assert reply.headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_the_per_slot_image_route_is_gone(client, app_store):
    seeded = seed_project(app_store)
    ref = issue(client, seeded.sitekey).get_json()["challenge"]
    assert client.get(f"/api/v1/challenge/{ref}/image/0").status_code in (404, 405)


def test_every_slot_is_served_as_a_variant_so_gold_looks_like_the_rest(client, app_store, clock):
    seeded = seed_project(app_store)
    body = issue(client, seeded.sitekey).get_json()
    challenge = app_store.get_challenge(body["challenge"], clock())
    for tile, slot in zip(tiles_of(body), challenge.slots, strict=True):
        # the seeded items have 4 variants (as imports before tile_variants=16 made)
        assert 0 <= slot.variant < 16
        stored = app_store.get_blob(seeded.project, slot.item, f"v{slot.variant % 4}")
        assert _pixels(tile) == _pixels(stored)
        assert stored != app_store.get_blob(seeded.project, slot.item, "thumb")


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB").tobytes()


def test_pass_records_one_vote_per_open_slot_and_token_verifies_once(client, app_store, clock):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    assert (
        app_store.get_stats(seeded.project)["votes"]
        == 12 - DEFAULT_PROJECT_SETTINGS["gold_per_grid"]
    )
    first = verify(client, seeded.secret, token).get_json()
    assert first["success"] is True and first["hostname"] == "shop.example"
    assert first["challenge_ts"].endswith("Z") and first["error-codes"] == []
    again = verify(client, seeded.secret, token).get_json()
    assert again == {"success": False, "error-codes": ["timeout-or-duplicate"]}


def test_siteverify_accepts_json_and_the_recaptcha_path(client, app_store, clock):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    reply = client.post(
        "/recaptcha/api/siteverify", json={"secret": seeded.secret, "response": token}
    )
    assert reply.get_json()["success"] is True


def test_wrong_answer_gives_no_token_no_votes_and_a_new_challenge(client, app_store, clock):
    seeded = seed_project(app_store)
    body = issue(client, seeded.sitekey).get_json()
    reply = client.post(
        f"/api/v1/challenge/{body['challenge']}/answer",
        json={"selected": wrong_answer(app_store, body["challenge"], clock)},
        headers=ORIGIN,
    ).get_json()
    assert reply["success"] is False and reply["code"] == "answer-wrong"
    assert "token" not in reply and reply["next"]["challenge"] != body["challenge"]
    assert len(tiles_of(reply["next"])) == 12, "the next grid comes with its tiles"
    assert app_store.get_stats(seeded.project).get("votes", 0) == 0


def test_challenge_can_be_answered_once(client, app_store, clock):
    seeded = seed_project(app_store)
    body = issue(client, seeded.sitekey).get_json()
    picks = {"selected": right_answer(app_store, body["challenge"], clock)}
    url = f"/api/v1/challenge/{body['challenge']}/answer"
    assert client.post(url, json=picks, headers=ORIGIN).status_code == 200
    again = client.post(url, json=picks, headers=ORIGIN)
    assert again.status_code == 410 and again.get_json()["code"] == "challenge-expired"


def test_expired_challenge_is_refused(client, app_store, clock, settings):
    seeded = seed_project(app_store)
    body = issue(client, seeded.sitekey).get_json()
    picks = {"selected": right_answer(app_store, body["challenge"], clock)}
    clock.advance(settings.challenge_ttl_s + 1)
    reply = client.post(f"/api/v1/challenge/{body['challenge']}/answer", json=picks, headers=ORIGIN)
    assert reply.status_code == 410


def test_token_expires_after_its_lifetime(client, app_store, clock, settings):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    clock.advance(settings.token_ttl_s + 1)
    reply = verify(client, seeded.secret, token).get_json()
    assert reply == {"success": False, "error-codes": ["timeout-or-duplicate"]}


def test_one_voter_cannot_vote_twice_on_an_item(client, app_store, clock):
    seeded = seed_project(app_store, open_items=6)
    solve(client, app_store, clock, seeded.sitekey)
    solve(client, app_store, clock, seeded.sitekey)
    votes = app_store.list_votes(seeded.project)
    assert len(votes) == 6
    assert len({(v.item, v.voter) for v in votes}) == 6


@pytest.mark.parametrize(
    ("secret", "response", "code"),
    [
        ("", "x.y", "missing-input-secret"),
        ("0xwrong", "", "missing-input-response"),
        ("0xwrong", "shapes.abc", "invalid-input-secret"),
        (None, "not-a-token", "invalid-input-response"),
        (None, "shapes.forged", "invalid-input-response"),
    ],
    ids=["no-secret", "no-response", "wrong-secret", "malformed-token", "forged-token"],
)
def test_siteverify_error_codes(client, app_store, secret, response, code):
    seeded = seed_project(app_store)
    reply = verify(client, seeded.secret if secret is None else secret, response)
    assert reply.status_code == 200
    assert reply.get_json() == {"success": False, "error-codes": [code]}


def test_token_of_one_site_does_not_verify_with_another_sites_secret(client, app_store, clock):
    seeded = seed_project(app_store)
    other = seed_project(app_store, pid="other")
    token = solve(client, app_store, clock, seeded.sitekey)
    assert verify(client, other.secret, token).get_json()["success"] is False
    assert verify(client, seeded.secret, token).get_json()["success"] is True


def test_sitekey_that_does_not_match_the_secret_is_refused(client, app_store, clock):
    seeded = seed_project(app_store)
    token = solve(client, app_store, clock, seeded.sitekey)
    reply = verify(client, seeded.secret, token, sitekey="another").get_json()
    assert reply["error-codes"] == ["sitekey-secret-mismatch"]
    again = verify(client, seeded.secret, token, sitekey=seeded.sitekey).get_json()
    assert again["success"] is True, "a mismatched sitekey must not spend the token"


def test_unknown_sitekey_is_a_clear_404(client, app_store):
    reply = issue(client, "no-such-key")
    assert reply.status_code == 404 and reply.get_json()["code"] == "unknown-sitekey"


@pytest.mark.parametrize(
    ("headers", "extra", "code"),
    [
        ({"Origin": "https://evil.example"}, {}, "origin-not-allowed"),
        ({}, {"hostname": "evil.example"}, "hostname-not-allowed"),
        ({}, {}, "missing-hostname"),
    ],
    ids=["foreign-origin", "foreign-hostname", "no-hostname"],
)
def test_challenge_for_a_foreign_page_is_refused(client, app_store, headers, extra, code):
    seeded = seed_project(app_store)
    reply = issue(client, seeded.sitekey, headers=headers, **extra)
    assert reply.get_json()["code"] == code
    assert "Access-Control-Allow-Origin" not in reply.headers


def test_subdomain_of_an_allowed_host_is_allowed(client, app_store):
    seeded = seed_project(app_store)
    reply = issue(client, seeded.sitekey, headers={"Origin": "https://www.shop.example"})
    assert reply.status_code == 200


def test_test_keys_always_pass_and_never_vote(client, app_store):
    reply = issue(client, TEST_SITEKEY, headers={"Origin": "http://anything.test"}).get_json()
    assert all(t.startswith(b"\x89PNG") for t in tiles_of(reply))
    answer = client.post(
        f"/api/v1/challenge/{reply['challenge']}/answer", json={"selected": []}
    ).get_json()
    assert answer["success"] is True
    assert verify(client, TEST_SECRET, answer["token"]).get_json()["success"] is True
    assert verify(client, TEST_SECRET, answer["token"]).get_json()["success"] is False
    assert verify(client, TEST_SECRET, TEST_RESPONSE).get_json()["success"] is True
    assert app_store.list_projects() == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"selected": "0,1"}',
        b'{"selected": [true]}',
        b'{"selected": [-1]}',
        b'{"selected": [99]}',
        b'{"selected": [1.5]}',
    ],
    ids=["empty", "broken-json", "array", "string", "bool", "negative", "out-of-range", "float"],
)
def test_malformed_answers_are_clear_400s(client, app_store, body):
    seeded = seed_project(app_store)
    cid = issue(client, seeded.sitekey).get_json()["challenge"]
    reply = client.post(f"/api/v1/challenge/{cid}/answer", data=body, content_type="text/plain")
    assert reply.status_code in (400, 410)
    assert reply.get_json()["code"] in ("bad-request", "challenge-expired")


def test_challenge_ts_is_when_the_challenge_was_issued(client, app_store, clock):
    from datetime import UTC, datetime

    seeded = seed_project(app_store)
    issued = clock()
    body = issue(client, seeded.sitekey).get_json()
    clock.advance(42)
    picks = {"selected": right_answer(app_store, body["challenge"], clock)}
    token = client.post(
        f"/api/v1/challenge/{body['challenge']}/answer", json=picks, headers=ORIGIN
    ).get_json()["token"]
    verdict = verify(client, seeded.secret, token).get_json()
    stamp = datetime.fromisoformat(verdict["challenge_ts"].replace("Z", "+00:00"))
    assert stamp == datetime.fromtimestamp(issued, UTC).replace(microsecond=0)


def test_widget_is_served_gzipped_cacheable_and_to_any_origin(client):
    import gzip

    plain = client.get("/widget.js")
    packed = client.get("/recaptcha/api.js", headers={"Accept-Encoding": "gzip, br"})
    assert plain.status_code == packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) <= 15 * 1024
    assert plain.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in plain.headers["Cache-Control"]
    again = client.get("/widget.js", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("pick", ["all", "none"], ids=["select-all", "select-none"])
def test_selecting_every_tile_or_none_passes_as_rarely_as_coin_flips(
    client, app_store, clock, pick
):
    # A grid's gold is drawn from the asked label's gold set, half positives, with no forced
    # positive or negative (a forced split would say how many gold tiles to select), so a
    # fixed answer passes when every gold tile is of one kind: about 2 ** -5 with five gold.
    seeded = seed_project(app_store)
    passed = 0
    for _ in range(60):
        body = issue(client, seeded.sitekey).get_json()
        selected = list(range(body["grid"])) if pick == "all" else []
        reply = client.post(
            f"/api/v1/challenge/{body['challenge']}/answer",
            json={"selected": selected},
            headers=ORIGIN,
        ).get_json()
        passed += reply["success"]
    # 60 x 1/32 is about 2; 9 or more would take a pass rate of 1 in 7
    assert passed <= 8


def test_gold_in_only_one_label_cannot_make_a_challenge(client, app_store):
    from crowdgate import manage
    from crowdgate.models import GOLD, Item

    manage.create_project(app_store, "lonely", labels=["cat", "dog"])
    for n in range(5):
        app_store.put_item(
            Item(
                project="lonely",
                id=f"{n:064x}",
                filename=f"{n}.png",
                state=GOLD,
                known_label="cat",
                label="cat",
            ),
            {"thumb": b"x"},
            None,
        )
    site, _ = manage.create_site(app_store, name="s", hostnames=["shop.example"], project="lonely")
    reply = issue(client, site.sitekey)
    assert reply.status_code == 503
    assert reply.get_json()["code"] == "no-challenge-available"
