"""The accessible path's own limits, counted in the storage Flask-Limiter reads.

They are checked in the view rather than as Flask-Limiter limits because only the request that
asks for a puzzle counts (the one that redeems it does not), and they come on top of the
per-client limit every public route has, so they hold across processes and hosts the same way.
"""

from __future__ import annotations

import logging

from flask import current_app
from limits import parse

from ..config import Settings
from ..errors import CrowdgateError, StoreError
from .limits import client_key

log = logging.getLogger(__name__)

#: the namespace of these counters inside Flask-Limiter's key prefix
SCOPE = "alternative"


class AlternativeLimited(CrowdgateError):
    code = "rate-limited"
    status = 429


def count_alternative(settings: Settings, sitekey: str) -> None:
    """Count one puzzle offer per client and per site; raise ``rate-limited`` past either."""
    limiter = current_app.extensions.get("crowdgate_limiter")
    if limiter is None or not limiter.enabled:
        return
    rules = (
        (settings.rate_limit_alternative, client_key(), "this client"),
        (settings.rate_limit_alternative_site, f"sitekey:{sitekey}", "this site"),
    )
    for rule, key, whose in rules:
        try:
            allowed = limiter.limiter.hit(parse(rule), "cg-limits", SCOPE, key)
        except Exception as exc:  # a limit that cannot be counted must not be skipped
            log.warning("alternative-path limit not counted: %s", exc)
            raise StoreError("The rate-limit storage is unavailable; try again shortly.") from None
        if not allowed:
            raise AlternativeLimited(
                f"The path without images was used too often by {whose} ({rule}); "
                "try again later or solve the image challenge.",
            )
