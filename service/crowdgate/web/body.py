"""Request bodies: read with a deadline, drained when refused, parsed once (JSON or form).

JSON is accepted under any content type, as the widget sends text/plain.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from flask import Request, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import BadRequest

_MISSING = object()


def json_body(max_bytes: int) -> dict[str, Any]:
    """Return the request body as a JSON object (cached on ``g``); raise BadRequest if it is not."""
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    cached = ctx.get("json_body", _MISSING)
    if cached is not _MISSING:
        if isinstance(cached, BadRequest):
            raise cached
        return cached
    try:
        body = _parse(request._get_current_object(), max_bytes)  # type: ignore[attr-defined]
    except BadRequest as exc:
        ctx.json_body = exc
        raise
    ctx.json_body = body
    return body


def _too_large(max_bytes: int) -> BadRequest:
    return BadRequest(
        f"The request body is larger than {max_bytes} bytes.", code="payload-too-large", status=413
    )


def _parse(request: Request, max_bytes: int) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:  # a chunked body past the app's own limit
        raise _too_large(max_bytes) from exc
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    stripped = raw.strip()
    mimetype = request.mimetype
    if not stripped.startswith(b"{") and mimetype == "application/x-www-form-urlencoded":
        return _form(raw)
    if not stripped.startswith(b"{") and mimetype == "multipart/form-data":
        return {k: v for k, v in request.form.items()}
    if not stripped:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("The request body is not valid JSON.", code="bad-request") from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="bad-request")
    return body


def _form(raw: bytes) -> dict[str, str]:
    """Return a urlencoded body's fields (the first value of each), as ``request.form`` does.

    Werkzeug's own rules (``formparser._parse_urlencoded``: UTF-8, blank values kept, bad
    escapes kept quoted, an undecodable body read as no fields), without building its parser
    and ``MultiDict`` for siteverify's two fields on every call.
    """
    try:
        pairs = parse_qsl(raw.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    except ValueError:
        return {}
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def peek_field(name: str, max_bytes: int) -> Any:
    """Return one field of the body, or ``None`` if the body cannot be parsed."""
    try:
        return json_body(max_bytes).get(name)
    except BadRequest:
        return None


# -- the raw request stream ------------------------------------------------------------------

#: bytes of a request body the app did not read (refused as too large, or never wanted) that
#: are read and thrown away after the answer is sent. Closing a socket with unread bytes makes
#: the kernel send a reset, and a client still sending its body then loses the answer; a
#: client sending more than this should be stopped by the reverse proxy (deploy/README.md).
DRAIN_MAX_BYTES = 32 * 1024 * 1024
#: bytes per second a body must keep up on average after the first ``body_timeout_s``; a
#: client trickling slower is answered 400 ``body-timeout`` instead of holding a thread
MIN_BODY_RATE = 64 * 1024


class BodyTimeout(BadRequest):
    """The client sent its request body too slowly (or stopped sending it)."""

    code = "body-timeout"


class GuardedInput:
    """``wsgi.input`` with a read deadline, which knows whether the body was read to its end.

    Under gunicorn the socket is in ``environ["gunicorn.socket"]``: each read gets a timeout of
    what is left of the deadline, and the socket's own timeout is put back after it, so the
    answer's writes are never cut short by it.
    """

    def __init__(self, environ: dict[str, Any], idle_s: float):
        self.stream = environ["wsgi.input"]
        self.sock = environ.get("gunicorn.socket")
        raw = environ.get("CONTENT_LENGTH") or ""
        self.length = int(raw) if raw.isdigit() else None
        self.idle_s = idle_s
        self.started = time.monotonic()
        self.got = 0
        self.ended = self.length == 0
        self.timed_out = False
        #: when a drain must stop, however fast the bytes still come
        self.cutoff = float("inf")

    def _deadline(self) -> float:
        return min(self.started + self.idle_s + self.got / MIN_BODY_RATE, self.cutoff)

    def _read(self, method: str, size: int) -> bytes:
        if self.ended:
            return b""
        if self.timed_out:
            raise BodyTimeout("The request body did not arrive in time.")
        left = self._deadline() - time.monotonic()
        if left <= 0:
            self.timed_out = True
            raise BodyTimeout("The request body did not arrive in time.")
        prior = self.sock.gettimeout() if self.sock is not None else None
        try:
            if self.sock is not None:
                self.sock.settimeout(min(left, self.idle_s))
            data: bytes = getattr(self.stream, method)(size)
        except TimeoutError as exc:
            self.timed_out = True
            raise BodyTimeout(
                "The request body did not arrive in time; send it at once, or "
                "check the client's network."
            ) from exc
        finally:
            if self.sock is not None:
                with contextlib.suppress(OSError):
                    self.sock.settimeout(prior)
        self.got += len(data)
        if (not data and size != 0) or (self.length is not None and self.got >= self.length):
            self.ended = True
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all when negative or ``None``)."""
        return self._read("read", -1 if size is None else size)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line of at most ``size`` bytes."""
        return self._read("readline", -1 if size is None else size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read the remaining lines."""
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def drain(self, max_bytes: int = DRAIN_MAX_BYTES) -> bool:
        """Read and drop what is left of the body, within bounds; ``True`` if it all came.

        At most ``max_bytes`` and ``idle_s`` seconds: a refused body must not hold a thread
        longer than a slow one may.
        """
        self.cutoff = time.monotonic() + self.idle_s
        dropped = 0
        try:
            while not self.ended and not self.timed_out and dropped < max_bytes:
                dropped += len(self._read("read", 64 * 1024))
        # BodyTimeout, socket errors, and the server's own for a client gone away (NoMoreData)
        except Exception:
            return False
        return self.ended


class _DrainAfter:
    """A response body whose ``close`` then drains the request body (after the answer went)."""

    def __init__(self, inner: Iterable[bytes], body: GuardedInput):
        self.inner = inner
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.inner)

    def close(self) -> None:
        try:
            self.body.drain()
        finally:
            close = getattr(self.inner, "close", None)
            if close is not None:
                close()


def guard_input(wsgi_app: Callable[..., Any], idle_s: float) -> Callable[..., Any]:
    """Wrap a WSGI app: bodies get a deadline, and an unread body is drained after the answer.

    Without this, an early answer (413 for a body over the limit, 429, 401) is followed by a
    close with the body unread, and the client, still sending, sees a connection reset
    instead of the answer.
    """

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        has_body = (environ.get("CONTENT_LENGTH") or "0") != "0" or "chunked" in environ.get(
            "HTTP_TRANSFER_ENCODING", ""
        ).lower()
        if not has_body:
            return wsgi_app(environ, start_response)
        body = GuardedInput(environ, idle_s)
        environ["wsgi.input"] = body
        result = wsgi_app(environ, start_response)
        if body.ended or body.timed_out:
            return result
        return _DrainAfter(result, body)

    return app
