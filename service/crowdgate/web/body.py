"""Parse request bodies once: JSON (any content type, as the widget sends text/plain) or form."""

from __future__ import annotations

import json
from typing import Any

from flask import g, request

from ..errors import BadRequest

_MISSING = object()


def json_body(max_bytes: int) -> dict[str, Any]:
    """Return the request body as a JSON object (cached on ``g``); raise BadRequest if it is not."""
    cached = g.get("json_body", _MISSING)
    if cached is not _MISSING:
        if isinstance(cached, BadRequest):
            raise cached
        return cached
    try:
        body = _parse(max_bytes)
    except BadRequest as exc:
        g.json_body = exc
        raise
    g.json_body = body
    return body


def _parse(max_bytes: int) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > max_bytes:
        raise BadRequest(
            f"The request body is larger than {max_bytes} bytes.",
            code="payload-too-large",
            status=413,
        )
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise BadRequest(
            f"The request body is larger than {max_bytes} bytes.",
            code="payload-too-large",
            status=413,
        )
    stripped = raw.strip()
    if not stripped.startswith(b"{") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
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


def peek_field(name: str, max_bytes: int) -> Any:
    """Return one field of the body, or ``None`` if the body cannot be parsed."""
    try:
        return json_body(max_bytes).get(name)
    except BadRequest:
        return None
