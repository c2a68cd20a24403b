"""Domain errors: every failure the service reports carries a stable code and a human message."""

from __future__ import annotations

from typing import Any


class CrowdgateError(Exception):
    """Base error with a stable machine ``code``, a sentence for people and an HTTP status."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body sent to clients (subclasses may add fields)."""
        return {"code": self.code, "message": self.message}


class BadRequest(CrowdgateError):
    code = "bad-request"
    status = 400


class NotFound(CrowdgateError):
    code = "not-found"
    status = 404


class Conflict(CrowdgateError):
    code = "conflict"
    status = 409


class Unauthorized(CrowdgateError):
    code = "unauthorized"
    status = 401


class Forbidden(CrowdgateError):
    code = "forbidden"
    status = 403


class Gone(CrowdgateError):
    code = "gone"
    status = 410


class StoreError(CrowdgateError):
    """The store (SQLite or Redis) could not be reached or failed; the request may be retried."""

    code = "store-unavailable"
    status = 503


class ImportRejected(CrowdgateError):
    """One input file was refused during import; ``reason`` is a stable short code."""

    code = "import-rejected"
    status = 400

    def __init__(self, reason: str, message: str):
        super().__init__(message, code=reason)
        self.reason = reason
