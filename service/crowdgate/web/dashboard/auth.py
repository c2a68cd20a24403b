"""Dashboard sign-in with an admin API key, a hardened session cookie and CSRF tokens.

The session (Flask's signed cookie) holds only the key's id, the sign-in time and the CSRF
token: never a key or a secret. The cookie is HttpOnly, SameSite=Strict, limited to
``/dashboard`` and Secure whenever the request came over HTTPS. Every POST must carry the
session's CSRF token in the ``csrf_token`` field, and a cross-origin ``Origin`` is refused.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, Request, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers.response import Response

from ... import manage, signin
from ...errors import Forbidden
from ..state import cg
from ..uploads import allow_large_body

#: Seconds a dashboard sign-in lasts.
SESSION_TTL_S = 12 * 3600
OPEN_ENDPOINTS = {"dashboard.login", "dashboard.signin", "dashboard.static"}


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure per request and scoped to the dashboard."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request and request.is_secure)

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict"

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_path(self, app: Flask) -> str:
        return "/dashboard"

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # Only the dashboard has sessions: elsewhere Flask gets a null session and skips the
        # cookie's signature check on every API request.
        if not request.path.startswith("/dashboard"):
            return None
        return super().open_session(app, request)


UPLOAD_ENDPOINTS = frozenset({"dashboard.import_files"})


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _same_origin(req: Request) -> bool:
    origin = req.headers.get("Origin")
    if not origin:
        return True
    host = urlsplit(req.host_url)
    sent = urlsplit(origin)
    return (sent.scheme, sent.netloc) == (host.scheme, host.netloc)


def check_request() -> Response | None:
    """Refuse a POST without the session's CSRF token; send signed-out visitors to sign in."""
    if request.method == "OPTIONS":
        return None  # Flask's answer: 200 with the Allow header, the same signed in or out
    if request.method == "POST":
        # Only a signed-in session may send a large body (the import form); anyone else's
        # body is read under the app's small default limit before being refused.
        if request.endpoint in UPLOAD_ENDPOINTS and session.get("key_id"):
            allow_large_body(cg().settings.max_upload_bytes)
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
            raise Forbidden(
                "This form is missing its security token or came from another site; "
                "reload the dashboard page and submit it again.",
                code="csrf-failed",
            )
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    key_id = session.get("key_id")
    now = cg().clock()
    live = {k.id: k for k in cg().store.list_apikeys() if not k.revoked}
    if key_id not in live or now - session.get("at", 0) > SESSION_TTL_S:
        session.pop("key_id", None)
        return redirect(url_for("dashboard.login"))
    g.dashboard_key = live[key_id]
    return None


def login() -> Response | str | tuple[str, int]:
    """Show the sign-in form, or sign in with the admin key it posts."""
    if request.method == "POST":
        record = manage.authenticate(cg().store, request.form.get("key", "").strip())
        if record is None:
            return render_template(
                "dashboard/login.html",
                error="That key is not a valid admin API key. Create one with "
                "`crowdgate apikey create --name dashboard`.",
            ), 401
        session.clear()
        session.update(key_id=record.id, at=cg().clock())
        csrf_token()
        return redirect(url_for("dashboard.projects"))
    return render_template("dashboard/login.html", error=None)


def signin_link() -> Response | tuple[str, int]:
    """Sign in with a one-time link (``crowdgate signin`` or ``crowdgate demo`` prints it)."""
    state = cg()
    grant = request.args.get("grant", "")
    record = signin.redeem_grant(state.store, state.settings.secret_key, grant, state.clock())
    if record is None:
        return render_template(
            "dashboard/login.html",
            error="That sign-in link has expired or was already used (each link works once, "
            "for 15 minutes). Print a new one with `crowdgate signin`, or sign in with an "
            "admin API key.",
        ), 401
    session.clear()
    session.update(key_id=record.id, at=state.clock())
    csrf_token()
    return redirect(url_for("dashboard.projects"))


def logout() -> Response:
    """Forget the session and go back to the sign-in form."""
    session.clear()
    return redirect(url_for("dashboard.login"))
