"""Security headers, CORS limited to each site's hostnames, and the real client address."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request
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


def origin_host() -> str | None:
    """Return the host of the request's ``Origin`` header, lower-cased, or ``None``."""
    origin = request.headers.get("Origin")
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
        present = {name.lower() for name, _ in h.items()}
        for lower, name, value in DEFAULT_HEADERS:
            if lower not in present:
                h.add(name, value)
        if request.is_secure and "strict-transport-security" not in present:
            h.add("Strict-Transport-Security", HSTS)
        if "cache-control" not in present and response.mimetype == "application/json":
            h.add("Cache-Control", "no-store")
        origin = g.get("cors_origin")
        if origin:
            h["Access-Control-Allow-Origin"] = origin
        if request.path.startswith("/api/v1/challenge"):
            h.add("Vary", "Origin")
        return response
