"""Security headers, CORS limited to each site's hostnames, and the real client address."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'"
#: Added to every response that does not set its own: (lower-cased name, name, value).
DEFAULT_HEADERS = tuple(
    (name.lower(), name, value)
    for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", API_CSP),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "interest-cohort=()"),
    )
)
HSTS = "max-age=31536000; includeSubDomains"
#: the default headers' names, lower-cased: each is added only if the view set none itself
OWN = frozenset(lower for lower, _, _ in DEFAULT_HEADERS)
#: the constant (name, value) pairs ``_headers`` appends, made once through Werkzeug's checks
#: here and added to each response's list in one step (one by one: ~4 us a response)
_DEFAULTS = tuple(Headers([(name, value) for _, name, value in DEFAULT_HEADERS]))
_HSTS = tuple(Headers([("Strict-Transport-Security", HSTS)]))
_NO_STORE = tuple(Headers([("Cache-Control", "no-store")]))
_VARY = tuple(Headers([("Vary", "Origin")]))


def host_of_origin(origin: str | None) -> str | None:
    """Return the host of an ``Origin`` header's value, lower-cased, or ``None``."""
    if not origin or origin == "null":
        return None
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def allow_origin() -> None:
    """Let the page that sent this request read the answer (the view decided it may)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        g.cors_origin = origin


def deny_origin() -> None:
    """Withdraw a CORS grant made earlier in this request."""
    g.pop("cors_origin", None)


def init_app(app: Flask, settings: Settings) -> None:
    """Trust proxy headers only as configured, and add headers to every response."""
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        # Werkzeug's Headers keep (name, value) pairs in ``_list``: the constant pairs go in
        # there at once (checked when made, above), and a value from the request through
        # the checking setter
        pairs: list[tuple[str, str]] = h._list  # type: ignore[attr-defined]
        present = {name.lower() for name, _ in pairs}
        req = request._get_current_object()  # type: ignore[attr-defined]
        if present.isdisjoint(OWN):
            pairs += _DEFAULTS
        else:
            for lower, name, value in DEFAULT_HEADERS:
                if lower not in present:
                    h.add(name, value)
        if req.is_secure and "strict-transport-security" not in present:
            pairs += _HSTS
        if "cache-control" not in present and response.mimetype == "application/json":
            pairs += _NO_STORE
        origin = g.get("cors_origin")
        if origin:
            h["Access-Control-Allow-Origin"] = origin
        if req.path.startswith("/api/v1/challenge"):
            pairs += _VARY
        return response
