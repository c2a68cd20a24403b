"""The application factory: it wires extensions and blueprints and does no work itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask

from ..clock import Clock, system_clock
from ..config import Settings
from ..store import Store
from . import (
    admin,
    errors,
    export_api,
    health,
    hooks,
    hot_limits,
    limits,
    metrics,
    openapi,
    public,
    security,
    state,
)
from . import logging as request_logs
from .dashboard import bp as dashboard_bp

#: bytes any request body may have unless a view raises the limit after authentication
DEFAULT_BODY_LIMIT = 256 * 1024
#: functions whose ``ensure_sync`` answer is kept (views and hooks: a few dozen)
SYNC_KEPT = 1024


class CrowdgateFlask(Flask):
    """Flask, remembering ``ensure_sync``'s answer per function.

    Flask asks it of the view and of every hook on every request, each time through
    ``inspect.iscoroutinefunction``; whether a function is a coroutine function never changes,
    and Flask's documentation names this method as the one to override.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``func``, or its wrapper if it is an ``async def`` (as Flask does)."""
        try:
            sync = self._sync.get(func)
        except TypeError:  # an unhashable callable: asked afresh each time
            return super().ensure_sync(func)
        if sync is None:
            sync = super().ensure_sync(func)
            if len(self._sync) < SYNC_KEPT:
                self._sync[func] = sync
        return sync


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, clock: Clock | None = None
) -> Flask:
    """Return the crowdgate WSGI application configured from ``settings`` or the environment."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    app = CrowdgateFlask("crowdgate", static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Small by default: only authenticated import views raise it (see web/uploads.py).
        MAX_CONTENT_LENGTH=max(DEFAULT_BODY_LIMIT, settings.max_json_bytes),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state.init_app(app, settings, store=store, clock=clock or system_clock)
    request_logs.init_app(app)
    metrics.init_app(app)
    security.init_app(app, settings)
    errors.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(export_api.bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(openapi.bp)
    limits.init_app(app, settings)
    hot_limits.init_app(app)
    health.init_app(app)
    # last: every app-level hook is registered by now
    hooks.fuse(app, skip_hot=hot_limits.limiter_hooks(app), is_hot=hot_limits.is_hot)
    return app
