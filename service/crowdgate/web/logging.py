"""Structured logs: one JSON object per line, each carrying the request id of its request.

A request keeps the ``X-Request-ID`` a proxy sent when it is short and plain, else gets a new
one; the id is echoed in the response header. Every request ends with one access line on the
``crowdgate.access`` logger. No line holds a query string, a body, a token or a client address.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime

import orjson
from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
#: What a caller-supplied request id may look like; anything else is replaced.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")

access_log = logging.getLogger("crowdgate.access")
#: one encoder for every line: ``json.dumps`` with options builds a new one per call
_ENCODER = json.JSONEncoder(default=str)


def request_id() -> str | None:
    """Return the id of the request being handled, or ``None`` outside a request."""
    return g.get("request_id") if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id, extras."""

    #: (epoch second, its ISO text up to the seconds): a second's lines share the date part,
    #: which ``datetime.isoformat`` took 10 us a line to build
    _second: tuple[int, str] = (-1, "")

    def _ts(self, created: float) -> str:
        """Return ``created`` as ISO 8601 in UTC to the millisecond (``isoformat``'s text)."""
        # rounded to the microsecond first, as datetime.fromtimestamp does
        sec = int(created)
        us = round((created - sec) * 1e6)
        if us >= 1_000_000:
            sec, us = sec + 1, us - 1_000_000
        cached = self._second
        if cached[0] != sec:
            cached = (sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
            self._second = cached
        return f"{cached[1]}.{us // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": self._ts(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            doc["request_id"] = rid
        http = getattr(record, "http", None)
        if http:
            doc["http"] = http
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif http:
            # an access line holds only text and numbers: orjson writes it in 2 us where the
            # json encoder took 24 (compact, the same JSON); a line that is not plain ASCII
            # goes through the json encoder, which escapes it as every other line is
            text = orjson.dumps(doc).decode()
            if text.isascii():
                return text
        return _ENCODER.encode(doc)


def use_json_logs() -> None:
    """Give the root logger's plain stream handlers the JSON format; test handlers keep theirs."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(JsonFormatter())


#: the WSGI environ key of the ``X-Request-ID`` header (read directly: one dict lookup)
_REQUEST_ID_ENVIRON = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def _begin() -> None:
    # the proxies are bound once per hook: each ``g.x`` or ``request.x`` is a context lookup
    req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    sent = req.environ.get(_REQUEST_ID_ENVIRON, "")
    ctx.request_id = sent if REQUEST_ID_PATTERN.fullmatch(sent) else secrets.token_hex(16)
    ctx.log_start = time.perf_counter()


def _end(response: Response) -> Response:
    req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    rid = ctx.get("request_id")
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    if access_log.isEnabledFor(logging.INFO):
        start = ctx.get("log_start", time.perf_counter())
        method, path, status = req.method, req.path, response.status_code
        http = {
            "method": method,
            "path": path,
            "endpoint": req.endpoint,
            "status": status,
            "ms": round((time.perf_counter() - start) * 1000, 2),
        }
        # The record is made and handled directly: Logger.info would also walk the stack for
        # the caller's file and line, which no access line prints (a third of its cost). The
        # request id rides on it, so the formatter need not look for the request again.
        access_log.handle(
            access_log.makeRecord(
                access_log.name,
                logging.INFO,
                __file__,
                0,
                "%s %s %s",
                (method, path, status),
                None,
                "_end",
                {"http": http, "request_id": rid} if rid else {"http": http},
            )
        )
    return response


def init_app(app: Flask) -> None:
    """Switch the process to JSON logs at the configured level and tag every request with an id.

    Register it first, so its access line is written after every other hook has run.
    """
    logging.getLogger().setLevel(app.extensions["crowdgate"].settings.log_level)
    use_json_logs()
    app.before_request(_begin)
    app.after_request(_end)
