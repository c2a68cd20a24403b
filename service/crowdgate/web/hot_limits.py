"""Rate limits of the three hot routes, counted in the same round trip as their store write.

A challenge, an answer and a siteverify are each checked against the counters Flask-Limiter
would check for them (same keys, built by ``limits``' own ``key_for``, in the same ``limits``
storage, with the same fixed-window rule and the same order), but the counting is folded into
the request's first store write (see :mod:`crowdgate.store.limit_charge`): one Lua call on
Redis, one transaction on SQLite, instead of a round trip per limit before it. Flask-Limiter
keeps every other route, and its hooks step aside on these three.

A hot request that ends without reaching such a write (a bad body, an unknown sitekey, a
refused proof of work) is counted afterwards through Flask-Limiter's own strategy, and answered
429 instead if that count is past a limit, so every request is counted exactly once, as before.
Where the limits live apart from the store (an explicit ``CROWDGATE_RATE_LIMIT_STORAGE``, or
Redis Cluster, whose limit keys sit in other slots) the counters are checked before the view,
through Flask-Limiter's strategy, as it would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter._limits import RuntimeLimit
from limits import RateLimitItem, parse_many

from ..config import Settings
from ..store import limit_charge
from ..store.limit_charge import Charge, Counter, LimitRefused
from .limit_storage import SqliteLimitStorage
from .limits import (
    CHALLENGE,
    PER_SITE,
    SITEVERIFY,
    client_key,
    client_key_of,
    site_key,
    storage_uri,
)

log = logging.getLogger(__name__)

ANSWER = "public.answer"
#: endpoints whose POSTs are limited here; their other methods stay with Flask-Limiter
HOT = frozenset({CHALLENGE, ANSWER, SITEVERIFY})
#: the ``key_prefix`` the app's Limiter is made with (see limits.init_app)
KEY_PREFIX = "cg-limits"
#: request counters kept per process (by endpoint, client and site); all dropped when full
COUNTERS_KEPT = 4096


@lru_cache(maxsize=64)
def _items(limit_string: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit_string))


def is_hot() -> bool:
    """Return True if the current request is one of the three hot POSTs."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    return req.method == "POST" and req.endpoint in HOT


class HotLimits:
    """Builds each hot request's counters and sees that they are counted exactly once."""

    def __init__(self, limiter: Limiter, settings: Settings, place: str):
        self.limiter = limiter
        self.settings = settings
        #: where the store folds charges in ('' when it cannot: counted before the view)
        self.place = place
        storage = limiter.storage
        self.storage_key: Callable[[str], str] = getattr(storage, "prefixed_key", str)
        #: counters by (endpoint, client key, site key): the same keys and limits each time
        self._counters: dict[tuple[str, str, str], tuple[Counter, ...]] = {}

    def limits_for_request(self) -> list[tuple[RateLimitItem, list[str]]]:
        """Return ``(item, args)`` of every limit the request is checked against, in order.

        The order is Flask-Limiter's: sorted by window length, per client before per site.
        """
        endpoint = request.endpoint or ""
        found: list[tuple[RateLimitItem, list[str]]] = []
        if endpoint != SITEVERIFY:
            key = client_key()
            found += [
                (item, [KEY_PREFIX, key, endpoint])
                for item in _items(self.settings.rate_limit_client)
            ]
        if endpoint in PER_SITE:
            per_site = (
                self.settings.rate_limit_siteverify
                if endpoint == SITEVERIFY
                else self.settings.rate_limit_sitekey
            )
            key = site_key()
            found += [(item, [KEY_PREFIX, key, endpoint]) for item in _items(per_site)]
        return sorted(found, key=lambda pair: pair[0])

    def before(self) -> None:
        """Leave the request's charge for its store write, or count it now if none can take it."""
        if not request.environ.get("crowdgate.hot"):
            return
        if not self.place:
            refused = self.hit(self.limits_for_request())
            if refused is not None:
                raise _exceeded(refused)
            return
        limit_charge.set_pending(Charge(self.counters_for_request(), place=self.place))

    def counters_for_request(self) -> tuple[Counter, ...]:
        """Return the request's counters (made once per endpoint, client and site, then kept)."""
        req = request._get_current_object()  # type: ignore[attr-defined]
        endpoint, secret = req.endpoint or "", self.settings.secret_key
        key = (
            endpoint,
            "" if endpoint == SITEVERIFY else client_key_of(secret, req.remote_addr or ""),
            site_key() if endpoint in PER_SITE else "",
        )
        counters = self._counters.get(key)
        if counters is None:
            counters = tuple(
                Counter(
                    self.storage_key(item.key_for(*args)),
                    item.get_expiry(),
                    item.amount,
                    (item, args),
                )
                for item, args in self.limits_for_request()
            )
            if len(self._counters) >= COUNTERS_KEPT:
                self._counters.clear()
            self._counters[key] = counters
        return counters

    def hit(self, found: list[tuple[RateLimitItem, list[str]]]) -> RateLimitItem | None:
        """Count ``found`` through Flask-Limiter's strategy; return the first limit past, if any."""
        try:
            for item, args in found:
                if not self.limiter.limiter.hit(item, *args):
                    return item
        except Exception:  # the limiter is set to swallow storage errors: so are these
            log.exception("Failed to rate limit. Swallowing error")
        return None

    def after(self, response: Response) -> Response:
        """Count a charge no store write took; answer 429 instead if it went past a limit."""
        charge = limit_charge.pending()
        if charge is None or charge.taken:
            return response
        charge.taken = True
        refused = self.hit([c.source for c in charge.counters])  # type: ignore[misc]
        if refused is None:
            return response
        return current_app.make_response(current_app.handle_user_exception(_exceeded(refused)))

    def refused(self, exc: LimitRefused) -> Any:
        """Turn a refusal from the store into the same 429 Flask-Limiter's breach gives."""
        item, _ = exc.counter.source  # type: ignore[misc]
        return current_app.handle_user_exception(_exceeded(item))


def _exceeded(item: RateLimitItem) -> RateLimitExceeded:
    return RateLimitExceeded(RuntimeLimit(item, key_func=str, scope=None))


def _fold_place(app: Flask, limiter: Limiter, settings: Settings) -> str:
    """Return where the store can fold charges in, if the limits live in it; else ''."""
    store = app.extensions["crowdgate"].store
    place = getattr(store, "limits_place", "")
    if not place:
        return ""
    storage = limiter.storage
    if isinstance(storage, SqliteLimitStorage):
        return place if str(storage.path) == place else ""
    uri = storage_uri(settings)
    return place if uri == settings.store_uri == place else ""


def limiter_hooks(app: Flask) -> list[Callable[..., Any]]:
    """Return Flask-Limiter's app-level hooks, which step aside on the hot POSTs."""
    limiter: Limiter | None = app.extensions.get("crowdgate_limiter")
    found: list[Callable[..., Any]] = []
    if limiter is None:
        return found
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for fn in hooks.get(None, []):
            bound = fn.args[0] if isinstance(fn, partial) and fn.args else None
            if (bound or getattr(fn, "__self__", None)) is limiter:
                found.append(fn)
    return found


def init_app(app: Flask) -> None:
    """Limit the hot routes here (web/hooks.py makes Flask-Limiter's hooks step aside on them)."""
    limiter: Limiter | None = app.extensions.get("crowdgate_limiter")
    settings: Settings = app.extensions["crowdgate"].settings
    if limiter is None or not limiter.enabled:
        return
    hot = HotLimits(limiter, settings, _fold_place(app, limiter, settings))
    app.extensions["crowdgate_hot_limits"] = hot
    app.before_request(hot.before)
    app.after_request(hot.after)
    app.teardown_request(lambda _exc: limit_charge.set_pending(None))
    app.register_error_handler(LimitRefused, hot.refused)
