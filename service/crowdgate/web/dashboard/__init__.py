"""The dataset owner's dashboard at ``/dashboard/``: server-rendered pages, no front-end build.

Pages: projects, a project's statistics and charts, an item browser, exports, import, sites
and API keys. Sign-in, session cookie and CSRF are in :mod:`.auth`; charts are server-side SVG
from :mod:`.charts`. Every response carries a strict Content-Security-Policy: no inline script
or style, everything from this origin (thumbnails are inline ``data:`` images).
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from ...errors import CrowdgateError
from . import auth

CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="../templates",
    static_folder="../static/dashboard",
    static_url_path="/static",
)


@bp.record_once
def _install_session(state: BlueprintSetupState) -> None:
    state.app.session_interface = auth.DashboardSessionInterface()
    state.app.jinja_env.globals["csrf_token"] = auth.csrf_token


bp.before_request(auth.check_request)
bp.add_url_rule("/login", "login", auth.login, methods=["GET", "POST"])
bp.add_url_rule("/logout", "logout", auth.logout, methods=["POST"])
bp.add_url_rule("/signin", "signin", auth.signin_link, methods=["GET"])


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    # Browsers send ``Origin: null`` on form posts under ``no-referrer``; the CSRF check
    # compares the Origin, so the dashboard's own pages use ``same-origin`` instead.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(CrowdgateError)
def _domain_error(exc: CrowdgateError) -> tuple[str, int]:
    return render_template("dashboard/error.html", code=exc.code, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    status = exc.code or 500
    return render_template(
        "dashboard/error.html", code=str(status), message=exc.description or exc.name
    ), status


from . import pages, settings_pages  # noqa: E402, F401  (routes register on import)

__all__ = ["bp"]
