"""The JSON log lines: the access line's fast path writes the same JSON as the json encoder."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

from crowdgate.web.logging import JsonFormatter


def _record(http: dict | None, msg: str = "POST %s %s", args: tuple = ("/x", 200)):
    extra = {"http": http, "request_id": "ab" * 16} if http is not None else None
    return logging.getLogger("crowdgate.access").makeRecord(
        "crowdgate.access", logging.INFO, __file__, 0, msg, args, None, "f", extra
    )


def test_timestamps_are_isoformats_to_the_millisecond() -> None:
    """The cached date part and the rounding give datetime's own text, at any instant."""
    fmt, rng = JsonFormatter(), random.Random(7)
    stamps = [1.8e9 + rng.random() * 1e7 for _ in range(20000)]
    stamps += [1_800_000_000.9999996, 1_800_000_000.0005, 1_800_000_059.99995, 0.5]
    for t in stamps:
        assert fmt._ts(t) == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def test_access_lines_are_the_json_encoders_json() -> None:
    """An access line (orjson) parses to what the json encoder writes; non-ASCII is escaped."""
    fmt = JsonFormatter()
    http = {"method": "POST", "path": "/api/v1/challenge", "endpoint": "public.challenge"}
    http |= {"status": 200, "ms": 1.25}
    for record in (
        _record(http),
        _record({**http, "path": "/caf\u00e9"}, args=("/caf\u00e9", 404)),
    ):
        line = fmt.format(record)
        assert line.isascii()
        doc = json.loads(line)
        assert doc["http"] == record.http
        assert doc["message"] == record.getMessage()
        assert doc["request_id"] == "ab" * 16
        assert doc["logger"] == "crowdgate.access" and doc["level"] == "INFO"
    plain = fmt.format(_record(None, "no %s", ("http",)))
    assert json.loads(plain)["message"] == "no http"
