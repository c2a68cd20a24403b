"""Hypothesis fuzz of every public route: any input gives a 2xx or a 4xx JSON error, never 5xx."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdgate.challenge import TEST_SITEKEY
from seed import seed_project

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(
            ["sitekey", "hostname", "selected", "secret", "response", "sitekey ", "remoteip"]
        ),
        json_values,
        max_size=4,
    ).map(lambda v: json.dumps(v).encode()),
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/octet-stream",
        "",
    ]
)
refs = st.one_of(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="/?#%"), min_size=1, max_size=60
    ),
    st.just("shapes.x"),
    st.just("_test.y"),
)


def check(reply) -> None:
    assert reply.status_code < 500, reply.data[:300]
    if reply.status_code >= 400:
        body = reply.get_json()
        assert isinstance(body, dict) and body.get("code") and body.get("message")


@FUZZ
@given(body=bodies, ctype=content_types)
def test_challenge_never_fails_with_5xx(client, app_store, body, ctype):
    check(
        client.post(
            "/api/v1/challenge",
            data=body,
            content_type=ctype,
            headers={"Origin": "https://shop.example"},
        )
    )


@FUZZ
@given(body=bodies, ctype=content_types, ref=refs)
def test_answer_never_fails_with_5xx(client, app_store, body, ctype, ref):
    check(client.post(f"/api/v1/challenge/{ref}/answer", data=body, content_type=ctype))


@FUZZ
@given(
    body=bodies,
    ctype=content_types,
    path=st.sampled_from(["/siteverify", "/recaptcha/api/siteverify"]),
)
def test_siteverify_never_fails_and_keeps_its_shape(client, app_store, body, ctype, path):
    reply = client.post(path, data=body, content_type=ctype)
    assert reply.status_code < 500
    if reply.status_code == 200:
        verdict = reply.get_json()
        assert verdict["success"] is False and verdict["error-codes"]


@FUZZ
@given(selected=json_values)
def test_answer_to_a_live_challenge_never_fails_with_5xx(client, app_store, selected):
    if app_store.get_project("shapes") is None:
        seed_project(app_store)
    sitekey = app_store.list_sites()[0].sitekey
    for key in (sitekey, TEST_SITEKEY):
        cid = client.post(
            "/api/v1/challenge", json={"sitekey": key, "hostname": "shop.example"}
        ).get_json()["challenge"]
        check(client.post(f"/api/v1/challenge/{cid}/answer", json={"selected": selected}))
