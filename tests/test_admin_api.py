"""The admin API: bearer keys, projects, sites, keys, items, and imports refused with reasons."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image

from crowdgate import manage
from crowdgate.web.openapi import SPEC
from seed import seed_project, shape_png


@pytest.fixture
def auth(app_store) -> dict[str, str]:
    _, bearer = manage.create_apikey(app_store, "tests")
    return {"Authorization": f"Bearer {bearer}"}


def test_admin_routes_need_a_valid_key(client, app_store):
    assert client.get("/api/v1/admin/projects").status_code == 401
    reply = client.get("/api/v1/admin/projects", headers={"Authorization": "Bearer nope"})
    assert reply.status_code == 401 and reply.get_json()["code"] == "unauthorized"


def test_revoked_key_stops_working(client, app_store):
    record, bearer = manage.create_apikey(app_store, "temp")
    headers = {"Authorization": f"Bearer {bearer}"}
    assert client.get("/api/v1/admin/projects", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/admin/keys/{record.id}", headers=headers).status_code == 200
    assert client.get("/api/v1/admin/projects", headers=headers).status_code == 401


def test_keys_are_listed_without_the_key_or_its_hash(client, auth):
    created = client.post("/api/v1/admin/keys", json={"name": "ci"}, headers=auth).get_json()
    assert created["key"].startswith("cgk_")
    listed = client.get("/api/v1/admin/keys", headers=auth).get_json()["keys"]
    assert {k["name"] for k in listed} == {"tests", "ci"}
    assert all("key" not in k and "key_hash" not in k for k in listed)


def test_project_create_list_and_get(client, auth):
    reply = client.post(
        "/api/v1/admin/projects",
        headers=auth,
        json={
            "id": "pets",
            "labels": ["cat", "dog"],
            "prompt": "Select all images with a {label}",
            "settings": {"min_votes": 5},
        },
    )
    assert reply.status_code == 201
    assert reply.get_json()["settings"]["min_votes"] == 5
    random_project = client.post(
        "/api/v1/admin/projects",
        headers=auth,
        json={
            "id": "baseline",
            "labels": ["a", "b"],
            "settings": {"selector": "random", "live_reliability": 0.9},
        },
    ).get_json()
    assert random_project["settings"]["selector"] == "random"
    assert random_project["settings"]["live_reliability"] == 0.9
    again = client.post(
        "/api/v1/admin/projects", headers=auth, json={"id": "pets", "labels": ["cat", "dog"]}
    )
    assert again.status_code == 409 and again.get_json()["code"] == "project-exists"
    got = client.get("/api/v1/admin/projects/pets", headers=auth).get_json()
    assert got["counts"] == {"unlabeled": 0, "settled": 0, "gold": 0}
    listed = client.get("/api/v1/admin/projects", headers=auth).get_json()["projects"]
    assert [p["id"] for p in listed] == ["baseline", "pets"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"id": "Bad Id", "labels": ["a", "b"]}, "invalid-project-id"),
        ({"id": "ok", "labels": ["a"]}, "invalid-labels"),
        ({"id": "ok", "labels": ["a", "a"]}, "invalid-labels"),
        ({"id": "ok", "labels": "not-a-list"}, "invalid-labels"),
        ({"id": "ok", "labels": ["a", "b"], "settings": {"threshold": 2}}, "invalid-settings"),
        ({"id": "ok", "labels": ["a", "b"], "settings": {"nope": 1}}, "invalid-settings"),
        ({"id": "ok", "labels": ["a", "b"], "prompt": "no placeholder"}, "bad-request"),
        ({"id": 5, "labels": ["a", "b"]}, "invalid-project-id"),
        ({"id": "ok", "labels": ["a", "b"], "settings": {"selector": "smart"}}, "invalid-settings"),
        (
            {"id": "ok", "labels": ["a", "b"], "settings": {"live_reliability": 1}},
            "invalid-settings",
        ),
    ],
    ids=[
        "bad-id",
        "one-label",
        "repeated-label",
        "labels-string",
        "threshold-range",
        "unknown-setting",
        "prompt-without-label",
        "numeric-id",
        "unknown-selector",
        "certain-reliability",
    ],
)
def test_invalid_project_is_a_400_with_a_code(client, auth, body, code):
    reply = client.post("/api/v1/admin/projects", json=body, headers=auth)
    assert reply.status_code == 400
    assert reply.get_json()["code"] == code
    assert reply.get_json()["message"].endswith(".")


def test_site_secret_is_shown_once_and_rotation_replaces_it(client, auth, app_store):
    seed_project(app_store)
    created = client.post(
        "/api/v1/admin/sites",
        headers=auth,
        json={"name": "blog", "hostnames": ["blog.example"], "project": "shapes"},
    ).get_json()
    assert created["secret"].startswith("0x")
    listed = client.get("/api/v1/admin/sites", headers=auth).get_json()["sites"]
    assert all("secret" not in s and "secret_hash" not in s for s in listed)
    rotated = client.post(
        f"/api/v1/admin/sites/{created['sitekey']}/rotate-secret", headers=auth
    ).get_json()
    assert rotated["secret"] != created["secret"]
    old = client.post("/siteverify", data={"secret": created["secret"], "response": "x.y"})
    assert old.get_json()["error-codes"] == ["invalid-input-secret"]
    new = client.post("/siteverify", data={"secret": rotated["secret"], "response": "x.y"})
    # the new secret is known: a token never issued is then invalid-input-response
    assert new.get_json()["error-codes"] == ["invalid-input-response"]


@pytest.mark.parametrize(
    "hostnames",
    [["https://blog.example"], ["blog.example:8080"], [], ["*.example"], "a b"],
    ids=["url", "port", "empty", "wildcard", "space"],
)
def test_site_hostnames_must_be_bare_names(client, auth, app_store, hostnames):
    seed_project(app_store)
    reply = client.post(
        "/api/v1/admin/sites",
        headers=auth,
        json={"name": "x", "hostnames": hostnames, "project": "shapes"},
    )
    assert reply.status_code == 400 and reply.get_json()["code"] == "invalid-hostnames"


def test_items_page_by_key_walks_every_item_once(client, auth, app_store):
    seeded = seed_project(app_store, open_items=5)
    seen, after = [], 0
    while after is not None:
        page = client.get(
            f"/api/v1/admin/projects/shapes/items?state=unlabeled&limit=2&after={after}",
            headers=auth,
        ).get_json()
        seen += [i["id"] for i in page["items"]]
        after = page["next"]
    assert seen == seeded.open
    bad = client.get("/api/v1/admin/projects/shapes/items?after=-1", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad-request"


def test_items_page_and_item_detail(client, auth, app_store):
    seeded = seed_project(app_store, open_items=5)
    page = client.get(
        "/api/v1/admin/projects/shapes/items?state=unlabeled&limit=2", headers=auth
    ).get_json()
    assert [i["id"] for i in page["items"]] == seeded.open[:2]
    item = client.get(
        f"/api/v1/admin/projects/shapes/items/{seeded.open[0]}", headers=auth
    ).get_json()
    assert item["state"] == "unlabeled" and item["vote_log"] == []
    image = client.get(f"/api/v1/admin/projects/shapes/items/{seeded.open[0]}/image", headers=auth)
    assert image.status_code == 200
    bad = client.get("/api/v1/admin/projects/shapes/items?limit=0", headers=auth)
    assert bad.status_code == 400


def _png_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(buf, "PNG")
    return buf.getvalue()


def _zip_slip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape.png", shape_png("circle", 1))
        zf.writestr("fine.png", shape_png("square", 2))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bomb.png", _png_bomb(), "decompression-bomb"),
        ("cut.png", shape_png("circle", 3)[:200], "truncated"),
        ("notes.png", b"this is not an image at all", "not-an-image"),
        ("upload.zip", _zip_slip(), "unsafe-path"),
    ],
    ids=["decompression-bomb", "truncated", "non-image", "zip-slip"],
)
def test_hostile_uploads_are_refused_with_their_reason(client, auth, app_store, name, data, reason):
    seed_project(app_store)
    before = app_store.count_items("shapes")
    reply = client.post(
        "/api/v1/admin/projects/shapes/import",
        headers=auth,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 200, reply.get_json()
    report = reply.get_json()
    reasons = [p["reason"] for p in report["problems"]]
    assert reason in reasons, report
    after = app_store.count_items("shapes")
    expected_new = 1 if name.endswith(".zip") else 0
    assert sum(after.values()) - sum(before.values()) == expected_new


def test_upload_of_good_images_adds_items(client, auth, app_store):
    seed_project(app_store)
    files = [(io.BytesIO(shape_png("circle", 900 + i)), f"new{i}.png") for i in range(3)]
    reply = client.post(
        "/api/v1/admin/projects/shapes/import",
        headers=auth,
        data={"file": files},
        content_type="multipart/form-data",
    )
    assert reply.get_json()["added"] == 3


def test_openapi_describes_every_route(app):
    documented = {(path, method) for path, ops in SPEC["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {path} is undocumented"


def test_models_are_listed_and_retrain_runs_through_the_api(client, auth, app_store, tmp_path):
    from digits_project import make_digits_project

    make_digits_project(app_store, tmp_path / "img", n=120)
    assert client.get("/api/v1/admin/projects/digits/models", headers=auth).get_json() == {
        "models": []
    }
    record = client.post("/api/v1/admin/projects/digits/retrain", headers=auth).get_json()
    assert record["version"] == 1 and record["metrics"]["mode"] in ("committee", "cold-start")
    models = client.get("/api/v1/admin/projects/digits/models", headers=auth).get_json()
    assert [m["version"] for m in models["models"]] == [1]
    summary = client.get("/api/v1/admin/projects/digits", headers=auth).get_json()
    assert summary["model"]["version"] == 1
    app_store.acquire_lock("trainer:digits", "elsewhere", 60)
    busy = client.post("/api/v1/admin/projects/digits/retrain", headers=auth)
    assert busy.status_code == 409 and busy.get_json()["code"] == "lock-held"


def test_uploads_with_odd_names_are_imported_not_crashed(client, auth, app_store):
    seed_project(app_store)
    files = [
        (io.BytesIO(shape_png("circle", 700)), ".."),
        (io.BytesIO(shape_png("square", 701)), "same.png"),
        (io.BytesIO(shape_png("triangle", 702)), "same.png"),
    ]
    reply = client.post(
        "/api/v1/admin/projects/shapes/import",
        headers=auth,
        data={"file": files},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["added"] == 3


def test_large_bodies_need_an_authenticated_import(client, auth, app_store):
    import numpy as np

    seed_project(app_store)
    noise = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG")
    big = buf.getvalue()
    assert len(big) > 300 * 1024
    anonymous = client.post("/api/v1/challenge", data=big, content_type="text/plain")
    assert anonymous.status_code == 413
    assert anonymous.get_json()["code"] == "payload-too-large"
    reply = client.post(
        "/api/v1/admin/projects/shapes/import",
        headers=auth,
        data={"file": (io.BytesIO(big), "noise.png")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 200 and reply.get_json()["added"] == 1
