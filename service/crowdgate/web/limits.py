"""Rate limits on every route: per client address, and per sitekey on challenge issuance."""

from __future__ import annotations

import logging

from flask import Flask, current_app, request
from flask_limiter import Limiter

from ..config import Settings
from .body import peek_field

log = logging.getLogger(__name__)


def client_key() -> str:
    """Limit key for one client: its address (after the trusted-proxy fix), never stored."""
    return request.remote_addr or "unknown"


def sitekey_key() -> str:
    """Limit key for one site: the sitekey the request body names."""
    settings: Settings = current_app.extensions["crowdgate"].settings
    sitekey = peek_field("sitekey", settings.max_json_bytes)
    return f"sitekey:{sitekey}" if isinstance(sitekey, str) else "sitekey:none"


def storage_uri(settings: Settings) -> str:
    """Return where limit counters live: explicit, else the Redis store, else process memory."""
    if settings.rate_limit_storage:
        return settings.rate_limit_storage
    uri = settings.store_uri
    if uri.startswith(("redis://", "rediss://", "redis+cluster://")):
        return uri
    return "memory://"


def init_app(app: Flask, settings: Settings, sitekey_views: list) -> Limiter:
    """Attach a limiter: the per-client limit on every route, per-sitekey on ``sitekey_views``."""
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
    for view in sitekey_views:
        limiter.limit(settings.rate_limit_sitekey, key_func=sitekey_key, override_defaults=False)(
            view
        )
    return limiter
