"""Let ``crowdgate demo`` count each simulated visitor by its own address.

Every visitor of ``crowdgate simulate`` comes from 127.0.0.1, so the per-client rate limit
(rightly) refuses most of a simulated crowd. Trusting ``X-Forwarded-For`` in general
(``CROWDGATE_TRUSTED_PROXIES``) would let any client pick its own address. Instead the demo
makes a random simulator key at start, keeps only its hash, and this middleware honours the
forwarded address of a request only when it carries that key in ``X-Crowdgate-Simulator``.
Requests without it (every real visitor) are counted exactly as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

HEADER = "X-Crowdgate-Simulator"
_ENVIRON_KEY = "HTTP_X_CROWDGATE_SIMULATOR"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def key_hash(key: str) -> str:
    """Return the SHA-256 hex digest kept in place of a simulator key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class TrustedSimulator:
    """WSGI middleware: requests with the simulator key are counted by their forwarded address."""

    def __init__(self, app: WsgiApp, simulator_key_hash: str):
        self.app = app
        self.simulator_key_hash = simulator_key_hash

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Rewrite ``REMOTE_ADDR`` from ``X-Forwarded-For`` for the simulator only."""
        sent = environ.pop(_ENVIRON_KEY, None)
        if sent is not None and hmac.compare_digest(key_hash(sent), self.simulator_key_hash):
            forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
            # no usable address forwarded: counted as the connection's own
            with contextlib.suppress(ValueError):
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(forwarded))
        return self.app(environ, start_response)
