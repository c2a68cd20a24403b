"""Rate limits: per client on every route, per sitekey on issuance, per secret on siteverify.

Client keys are keyed hashes of the client's address (its /64 for IPv6, where one subscriber
holds a whole prefix), so the limiter's storage never holds a raw address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from functools import lru_cache

from flask import Flask, current_app, request
from flask_limiter import Limit, Limiter

from ..config import Settings
from ..store.redis_pool import thread_pool
from ..store.sqlite import file_of
from .body import peek_field
from .limit_storage import limits_uri

log = logging.getLogger(__name__)

#: prefix length by which IPv6 clients are counted (a subscriber's usual allocation)
IPV6_CLIENT_PREFIX = 64


# Pure, and parsed on every hot request: cached, bounded (see voter.network_prefix).
@lru_cache(maxsize=4096)
def client_prefix(address: str) -> str:
    """Return what one client is counted by: the IPv4 address or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def _digest(kind: str, value: str) -> str:
    return _keyed(current_app.extensions["crowdgate"].settings.secret_key, kind, value)


def _keyed(secret_key: str, kind: str, value: str) -> str:
    digest = hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{kind}:{digest}"


# The client's keyed hash, on every request: cached by address prefix, bounded, like
# client_prefix (site secrets are not kept: their digests are made per request).
_client_digest = lru_cache(maxsize=4096)(_keyed)


def client_key() -> str:
    """Limit key for one client (after the trusted-proxy fix), as a keyed hash."""
    secret = current_app.extensions["crowdgate"].settings.secret_key
    return client_key_of(secret, request.remote_addr or "")


def client_key_of(secret_key: str, address: str) -> str:
    """Return :func:`client_key` for a client at ``address`` under ``secret_key``."""
    return _client_digest(secret_key, "c", client_prefix(address))


def sitekey_key() -> str:
    """Limit key for one site: the sitekey the request body names."""
    settings: Settings = current_app.extensions["crowdgate"].settings
    sitekey = peek_field("sitekey", settings.max_json_bytes)
    return f"sitekey:{sitekey}" if isinstance(sitekey, str) else "sitekey:none"


def secret_key() -> str:
    """Limit key for siteverify: the (hashed) secret of the site asking."""
    settings: Settings = current_app.extensions["crowdgate"].settings
    secret = peek_field("secret", settings.max_json_bytes) or request.args.get("secret")
    return _digest("s", secret if isinstance(secret, str) else "")


def storage_uri(settings: Settings) -> str:
    """Return where limit counters live: explicit, else beside the store (Redis or SQLite)."""
    if settings.rate_limit_storage:
        return settings.rate_limit_storage
    uri = settings.store_uri
    if uri.startswith(("redis://", "rediss://", "redis+cluster://")):
        return uri
    if uri.startswith("sqlite:"):
        return limits_uri(file_of(uri))
    return "memory://"


CHALLENGE = "public.challenge"
SITEVERIFY = "public.siteverify"
#: routes counted per site as well as (challenge) or instead of (siteverify) per client
PER_SITE = frozenset({CHALLENGE, SITEVERIFY})
#: routes whose automatic OPTIONS answers were never counted (their limits sat on the view)
UNCOUNTED_PREFLIGHT = frozenset({SITEVERIFY})


def _uncounted_preflight() -> bool:
    return request.method == "OPTIONS" and request.endpoint in UNCOUNTED_PREFLIGHT


def site_key() -> str:
    """Limit key for the site a request speaks for: its secret on siteverify, else its sitekey."""
    return secret_key() if request.endpoint == SITEVERIFY else sitekey_key()


def route_limits(settings: Settings) -> list[Limit]:
    """Return the two limits every request is checked against: per client and per site.

    Both are Flask-Limiter default limits whose value depends on the route, so each request
    is checked once, in Flask-Limiter's ``before_request`` hook, against at most two counters
    (a decorated view is checked in the hook and again in its wrapper, and Flask-Limiter
    builds every default limit afresh per request: about 0.1 ms for nothing).
    """

    def per_client() -> str:
        return settings.rate_limit_client

    def per_site() -> str:
        # siteverify is server-to-server from the site's backend: counted per site secret only
        if request.endpoint == SITEVERIFY:
            return settings.rate_limit_siteverify
        return settings.rate_limit_sitekey

    return [
        Limit(
            per_client,
            key_function=client_key,
            exempt_when=lambda: request.endpoint == SITEVERIFY or _uncounted_preflight(),
        ),
        # a visitor's challenge counts against their own limit and their site's
        Limit(
            per_site,
            key_function=site_key,
            exempt_when=lambda: request.endpoint not in PER_SITE or _uncounted_preflight(),
        ),
    ]


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter with every route's limits."""
    uri = storage_uri(settings)
    if uri == "memory://" and settings.rate_limit_enabled:
        log.info(
            "rate limits are counted per process (memory://); leave "
            "CROWDGATE_RATE_LIMIT_STORAGE empty to share them through the store"
        )
    options: dict[str, object] = {}
    if uri.startswith(("redis://", "rediss://")):
        # per-thread connections: no pool lock and socket poll on every limit check
        options["connection_pool"] = thread_pool(uri)
    limiter = Limiter(
        key_func=client_key,
        app=app,
        default_limits=route_limits(settings),
        storage_uri=uri,
        storage_options=options,  # type: ignore[arg-type]
        headers_enabled=False,
        swallow_errors=True,
        key_prefix="cg-limits",
        enabled=settings.rate_limit_enabled,
    )
    # Flask-Limiter holds the app's limiter only weakly: the app keeps it alive.
    app.extensions["crowdgate_limiter"] = limiter
    return limiter
