"""Security headers on every response, a view's own kept; no session outside the dashboard."""

from __future__ import annotations

import pytest

from crowdgate.web.security import API_CSP

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": API_CSP,
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/openapi.json", 200),
        ("POST", "/api/v1/challenge", 400),
        ("POST", "/siteverify", 200),
        ("GET", "/api/v1/admin/projects", 401),
        ("GET", "/no/such/route", 404),
    ],
)
def test_every_json_response_carries_the_security_headers_once(client, method, path, status):
    reply = client.open(path, method=method)
    assert reply.status_code == status
    for name, value in DEFAULTS.items():
        assert reply.headers.getlist(name) == [value], name
    assert reply.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in reply.headers


def test_https_requests_also_get_hsts(client):
    reply = client.get("/healthz", base_url="https://localhost")
    assert reply.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_view_keeps_the_headers_it_set_itself(client):
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert script.headers.getlist("Cache-Control") == ["public, max-age=3600"]
    assert script.headers.getlist("Cross-Origin-Resource-Policy") == ["cross-origin"]
    page = client.get("/dashboard/login")
    csp = page.headers.getlist("Content-Security-Policy")
    assert len(csp) == 1 and csp[0] != API_CSP


def test_api_routes_neither_read_nor_set_a_session(client):
    client.set_cookie("session", "forged.not-a-signature", path="/")
    reply = client.post("/siteverify", data={"secret": "0xnope", "response": "a.b"})
    assert reply.status_code == 200
    assert "Set-Cookie" not in reply.headers
    assert client.get("/healthz").headers.get("Set-Cookie") is None
