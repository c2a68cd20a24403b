"""Fused request hooks run as Flask runs them, and skip the skipped ones on hot requests only."""

from __future__ import annotations

from flask import Flask, request

from crowdgate.web import hooks


def _app(calls: list[str], stop_at: str | None = None) -> tuple[Flask, list]:
    app = Flask("t")

    def before(name: str):
        def fn():
            calls.append(f"before {name}")
            return "stopped" if name == stop_at else None

        return fn

    def after(name: str):
        def fn(response):
            calls.append(f"after {name}")
            return response

        return fn

    def teardown(name: str):
        def fn(exc):
            calls.append(f"teardown {name}")

        return fn

    made = []
    for name in ("a", "b", "c"):
        made += [before(name), after(name), teardown(name)]
        app.before_request(made[-3])
        app.after_request(made[-2])
        app.teardown_request(made[-1])

    @app.post("/hot")
    @app.get("/cold")
    def view():
        calls.append("view")
        return "ok"

    return app, made


def _run(app: Flask, calls: list[str], method: str, path: str) -> tuple[list[str], bytes]:
    calls.clear()
    response = app.test_client().open(path, method=method)
    return list(calls), response.data


def test_fused_hooks_run_in_flasks_order_with_its_rules():
    for stop_at in (None, "b"):
        plain_calls: list[str] = []
        plain, _ = _app(plain_calls, stop_at)
        fused_calls: list[str] = []
        fused, _ = _app(fused_calls, stop_at)
        hooks.fuse(fused)
        assert len(fused.before_request_funcs[None]) == 1
        assert _run(fused, fused_calls, "GET", "/cold") == _run(plain, plain_calls, "GET", "/cold")


def test_skipped_hooks_do_not_run_on_hot_requests_only():
    calls: list[str] = []
    app, made = _app(calls)
    b_hooks = made[3:6]  # before, after and teardown of "b"
    hooks.fuse(app, skip_hot=b_hooks, is_hot=lambda: request.method == "POST")
    hot, _ = _run(app, calls, "POST", "/hot")
    cold, _ = _run(app, calls, "GET", "/cold")
    assert not any(c.endswith(" b") for c in hot)
    assert hot == [c for c in cold if not c.endswith(" b")]
    assert {"before b", "after b", "teardown b"} <= set(cold)
