"""Security headers, CORS limited to each site's hostnames, and the real client address."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ..config import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'"


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
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Content-Security-Policy", API_CSP)
        h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "interest-cohort=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "application/json":
            h.setdefault("Cache-Control", "no-store")
        origin = g.get("cors_origin")
        if origin:
            h["Access-Control-Allow-Origin"] = origin
        if request.path.startswith("/api/v1/challenge"):
            h.add("Vary", "Origin")
        return response
