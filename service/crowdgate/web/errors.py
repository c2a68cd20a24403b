"""One place where every error becomes a JSON body with a stable code and a message."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from ..errors import CrowdgateError
from .body import guard_input

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def error_response(code: str, message: str, status: int) -> Response:
    """Return ``{"code", "message"}`` as JSON with ``status``."""
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Install the handlers that turn exceptions into JSON errors, and the body guard.

    The guard belongs here: an error answered before the body was read (413, 401, 429) only
    reaches a client that is still sending if the body is drained before the socket closes.
    """
    settings = app.extensions["crowdgate"].settings
    app.wsgi_app = guard_input(app.wsgi_app, settings.body_timeout_s)  # type: ignore[method-assign]

    @app.errorhandler(CrowdgateError)
    def _domain(exc: CrowdgateError) -> Response:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        response = jsonify(exc.to_dict())
        response.status_code = exc.status
        return response

    @app.errorhandler(RateLimitExceeded)
    def _limited(exc: RateLimitExceeded) -> Response:
        message = f"Too many requests ({exc.description}); slow down and retry."
        response = error_response("rate-limited", message, 429)
        if request.endpoint == "public.siteverify":
            # keep siteverify's shape, so reCAPTCHA/hCaptcha client libraries read a failure
            response = jsonify(
                {
                    "success": False,
                    "error-codes": ["rate-limited"],
                    "code": "rate-limited",
                    "message": message,
                }
            )
            response.status_code = 429
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http-error")
        response = error_response(code, exc.description or exc.name, status)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return error_response(
            "internal-error", "The server failed to handle this request; it has been logged.", 500
        )
