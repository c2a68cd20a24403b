"""Rate limits: per client on every route, per sitekey on issuance, per secret on siteverify.

Client keys are keyed hashes of the client's address (its /64 for IPv6, where one subscriber
holds a whole prefix), so the limiter's storage never holds a raw address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter

from ..config import Settings
from .body import peek_field

log = logging.getLogger(__name__)

#: prefix length by which IPv6 clients are counted (a subscriber's usual allocation)
IPV6_CLIENT_PREFIX = 64


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
    secret = current_app.extensions["crowdgate"].settings.secret_key.encode()
    return f"{kind}:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:24]


def client_key() -> str:
    """Limit key for one client (after the trusted-proxy fix), as a keyed hash."""
    return _digest("c", client_prefix(request.remote_addr or ""))


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
    """Return where limit counters live: explicit, else the Redis store, else process memory."""
    if settings.rate_limit_storage:
        return settings.rate_limit_storage
    uri = settings.store_uri
    if uri.startswith(("redis://", "rediss://", "redis+cluster://")):
        return uri
    return "memory://"


def route_limits(settings: Settings) -> dict[str, tuple[str, Callable[[], str], bool]]:
    """Return endpoint -> (limit, key function, replaces the per-client default)."""
    return {
        # a visitor's challenge counts against their own limit and their site's
        "public.challenge": (settings.rate_limit_sitekey, sitekey_key, False),
        # nine tiles per grid: their own, higher per-client limit
        "public.slot_image": (settings.rate_limit_images, client_key, True),
        # server-to-server from the site's backend: counted per site secret, not per address
        "public.siteverify": (settings.rate_limit_siteverify, secret_key, True),
    }


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter, then wrap the views that have limits of their own."""
    uri = storage_uri(settings)
    if uri == "memory://" and settings.rate_limit_enabled:
        log.info("rate limits are counted per process (memory://); use Redis to share them")
    limiter = Limiter(
        key_func=client_key,
        app=app,
        default_limits=[settings.rate_limit_client],
        storage_uri=uri,
        headers_enabled=False,
        swallow_errors=True,
        key_prefix="cg-limits",
        enabled=settings.rate_limit_enabled,
    )
    # Flask-Limiter checks a decorated view inside the decorator's wrapper and skips it in
    # its middleware, so the wrapper must be the function Flask calls.
    for endpoint, (limit, key, replaces) in route_limits(settings).items():
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.limit(
            limit, key_func=key, override_defaults=replaces
        )(view)
    # Flask-Limiter's view wrappers hold the limiter only weakly: the app keeps it alive.
    app.extensions["crowdgate_limiter"] = limiter
    return limiter
