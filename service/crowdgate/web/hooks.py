"""The app's request hooks fused into one hook per stage, in the order Flask would run them.

Flask calls every ``before_request``, ``after_request`` and ``teardown_request`` function of
the app through ``ensure_sync`` (an ``inspect`` check per call): eleven per request here
(request logs, metrics, security headers, Flask-Limiter's three, the hot limits'). Fused,
each stage is one call that runs the same functions in the same order with the same rules
(a ``before`` result ends the stage and answers the request; ``after`` functions run in
reverse order of registration and pass the response on; teardowns run in reverse order
too). Blueprint hooks are left as they are. Functions in ``skip_hot`` (Flask-Limiter's,
which the hot limits replace on the three hot POSTs) are not called on those.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from flask import Flask, Response, request

#: tells whether the current request is one of the hot POSTs (see hot_limits.is_hot)
HotCheck = Callable[[], bool]


def _is_hot_default() -> bool:
    return False


def fuse(app: Flask, skip_hot: Collection[Any] = (), is_hot: HotCheck = _is_hot_default) -> None:
    """Replace the app-level hooks of ``app`` by one function per stage (same order, rules)."""
    before = list(app.before_request_funcs.get(None, []))
    after = list(reversed(app.after_request_funcs.get(None, [])))
    teardown = list(reversed(app.teardown_request_funcs.get(None, [])))
    skipped = {id(fn) for fn in skip_hot}
    cold_before = before
    hot_before = [fn for fn in before if id(fn) not in skipped]
    cold_after, hot_after = after, [fn for fn in after if id(fn) not in skipped]
    cold_down, hot_down = teardown, [fn for fn in teardown if id(fn) not in skipped]

    def run_before() -> Any:
        hot = is_hot()
        request.environ["crowdgate.hot"] = hot
        for fn in hot_before if hot else cold_before:
            result = fn()
            if result is not None:
                return result
        return None

    def run_after(response: Response) -> Response:
        hot = request.environ.get("crowdgate.hot")
        for fn in hot_after if hot else cold_after:
            response = fn(response)
        return response

    def run_teardown(exc: BaseException | None) -> None:
        hot = request.environ.get("crowdgate.hot")
        for fn in hot_down if hot else cold_down:
            fn(exc)

    if before:
        app.before_request_funcs[None] = [run_before]
    if after:
        app.after_request_funcs[None] = [run_after]
    if teardown:
        app.teardown_request_funcs[None] = [run_teardown]
