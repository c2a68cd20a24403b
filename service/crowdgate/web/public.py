"""Public routes: the widget script, challenges (with their tiles), answers and siteverify."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson
from flask import Blueprint, Response, g, jsonify, request

from ..challenge import Client
from ..challenge.service import host_allowed
from ..errors import CrowdgateError, NotFound
from ..models import Site
from .alternative_limits import count_alternative
from .body import json_body
from .security import allow_origin, deny_origin, host_of_origin
from .state import cg

bp = Blueprint("public", __name__)

WIDGET_MAX_AGE_S = 3600


@lru_cache(maxsize=1)
def widget_bytes() -> tuple[bytes, bytes, str]:
    """Return the built widget bundle, its gzip encoding and its ETag (made once per process)."""
    try:
        data = resources.files("crowdgate.web").joinpath("static/widget.js").read_bytes()
    except FileNotFoundError:
        data = b""
    return data, gzip.compress(data, 9, mtime=0), hashlib.sha256(data).hexdigest()[:32]


def json_response(doc: dict[str, Any]) -> Response:
    """Return ``doc`` as a JSON response, as ``jsonify`` would shape it.

    orjson, not ``jsonify``'s ``json`` module: a challenge carries its tiles as ~24 KB of
    base64 text, which ``json.dumps`` took ~140 us to encode and orjson ~2 us (measured).
    Non-ASCII text is sent as UTF-8 instead of ``\\u`` escapes, the same JSON.
    """
    return Response(orjson.dumps(doc) + b"\n", mimetype="application/json")


def _client() -> Client:
    # the headers read from the environ (what ``request.headers`` looks them up in): the
    # request proxy once, not once per header
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    return Client(
        address=req.remote_addr or "",
        user_agent=environ.get("HTTP_USER_AGENT", ""),
        origin_host=host_of_origin(environ.get("HTTP_ORIGIN")),
    )


@bp.get("/widget.js")
@bp.get("/recaptcha/api.js")
def widget() -> Response:
    """Serve the widget script with caching headers; usable from any origin."""
    data, packed, etag = widget_bytes()
    if not data:
        raise NotFound("The widget bundle is missing from this installation.", code="no-widget")
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = Response(packed if zipped else data, mimetype="text/javascript")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(etag + ("-gz" if zipped else ""))
    response.headers["Cache-Control"] = f"public, max-age={WIDGET_MAX_AGE_S}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


@bp.route("/api/v1/challenge", methods=["OPTIONS"])
@bp.route("/api/v1/challenge/<path:rest>", methods=["OPTIONS"])
@bp.route("/api/v1/alternative", methods=["OPTIONS"])
def preflight(rest: str = "") -> Response:
    """Answer CORS preflights; the real request is still checked against the site's hosts."""
    allow_origin()
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _page_request(c: Any) -> tuple[dict, Site, Client, str]:
    """Read a page's JSON body and return it with its site, client and checked hostname.

    A browser's Origin must be one of the site's hosts (else 403); the hostname the body names
    must agree with it.
    """
    allow_origin()
    body = json_body(c.settings.max_json_bytes)
    site = c.service.site_for(body.get("sitekey"))  # type: ignore[arg-type]
    client = _client()
    if (
        client.origin_host
        and site.hostnames
        and not host_allowed(client.origin_host, site.hostnames)
    ):
        deny_origin()
    return body, site, client, c.service.resolve_hostname(site, body.get("hostname"), client)


@bp.post("/api/v1/challenge")
def challenge() -> Response:
    """Issue a challenge for ``sitekey`` to the page at ``hostname`` (or the Origin's host).

    A site with ``pow_bits`` first needs ``pow``, a solved puzzle; errors carry a fresh one.
    """
    c = cg()
    body, site, client, host = _page_request(c)
    if c.service.admit(site, body.get("pow")):
        g.pow_solved = True
    issued = c.service.issue_for(site, host, client)
    return json_response(c.service.describe(issued))


@bp.post("/api/v1/alternative")
def alternative() -> Response:
    """The accessible path: without ``pow``, a puzzle; with it solved, a token that casts no votes.

    Each puzzle offered is counted against the alternative's own per-client and per-site limits
    (beside the usual per-client one), and each buys at most one token.
    """
    c = cg()
    body, site, _, host = _page_request(c)
    path = c.service.alternative
    if body.get("pow") is None:
        path.check_allowed(site)
        count_alternative(c.settings, site.sitekey)
        return jsonify(path.offer(site))
    token = path.redeem(site, host, body.get("pow"))
    return jsonify({"success": True, "token": token.token, "expires_in": c.settings.token_ttl_s})


@bp.post("/api/v1/challenge/<challenge_id>/answer")
def answer(challenge_id: str) -> Response:
    """Grade an answer: a token on pass, a fresh challenge on fail."""
    c = cg()
    body = json_body(c.settings.max_json_bytes)
    client = _client()
    result = c.service.answer(challenge_id, body.get("selected"), client)
    if client.origin_host:
        allow_origin()
    if result.success:
        out = {"success": True, "token": result.token, "expires_in": c.settings.token_ttl_s}
    else:
        assert result.next is not None
        out = {
            "success": False,
            "code": "answer-wrong",
            "message": "Some answers were wrong; here is a new challenge.",
            "next": c.service.describe(result.next),
        }
    g.outcome = out  # counted by the metrics hook
    return json_response(out)


@bp.post("/siteverify")
@bp.post("/recaptcha/api/siteverify")
def siteverify() -> Response:
    """Verify a response token (reCAPTCHA/hCaptcha wire format, form or JSON)."""
    c = cg()
    try:
        body = json_body(c.settings.max_json_bytes)
    except CrowdgateError:
        g.outcome = {"success": False, "error-codes": ["bad-request"]}
        return json_response(g.outcome)
    body = {**request.args.to_dict(), **body}
    g.outcome = c.service.verify(body.get("secret"), body.get("response"), body.get("sitekey"))
    return json_response(g.outcome)  # counted by the metrics hook
