"""Probes for orchestrators: ``/healthz`` (the process answers) and ``/readyz`` (the store does).

Both routes, and ``/metrics``, are exempt from rate limits: a kubelet or a Prometheus server
polls them from one address and must never be refused.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify

from . import metrics, openapi
from .state import cg

bp = Blueprint("health", __name__)

#: The OpenAPI entries of the operational routes, merged into ``/openapi.json`` by init_app.
OPENAPI_PATHS = {
    "/healthz": {
        "get": {
            "summary": "Liveness: the process answers",
            "tags": ["operations"],
            "responses": {"200": {"description": "Alive"}},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the store answers",
            "tags": ["operations"],
            "responses": {
                "200": {"description": "Ready"},
                "503": {"description": "Store unavailable"},
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text format)",
            "tags": ["operations"],
            "responses": {"200": {"description": "Metrics"}},
        }
    },
}


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while the process can serve requests; touches nothing else."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Answer 200 when the store answers, else the store error as a 503 JSON body."""
    store = cg().store
    store.check()
    return jsonify({"status": "ready", "store": store.scheme})


def init_app(app: Flask) -> None:
    """Register the probes, document them, and exempt them and ``/metrics`` from rate limits."""
    app.register_blueprint(bp)
    for path, operations in OPENAPI_PATHS.items():
        openapi.SPEC["paths"].setdefault(path, operations)
    for limiter in app.extensions.get("limiter", ()):
        limiter.exempt(bp)
        limiter.exempt(metrics.bp)
