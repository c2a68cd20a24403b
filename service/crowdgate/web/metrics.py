"""Prometheus metrics at ``GET /metrics``, counted in the web layer without touching the core.

Challenge, answer and siteverify outcomes are read from the responses; votes and store latency
come from :class:`TimedStore`, a thin proxy put in front of the store; item counts per state are
read from the store at scrape time, so items settled by the trainer worker show up too.

Under gunicorn every worker is a process with its own counters: set ``PROMETHEUS_MULTIPROC_DIR``
to an empty writable folder before the server starts (``deploy/gunicorn.conf.py`` does) and
``/metrics`` sums all workers, as prometheus_client's multiprocess mode documents.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..errors import CrowdgateError
from ..models import ITEM_STATES
from ..store import Store
from .state import cg

bp = Blueprint("metrics", __name__)

#: Request latency buckets in seconds: a challenge is a few ms, an import can take minutes.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60)
#: Store call latency buckets in seconds: one Redis round trip is ~0.1 ms on loopback.
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2)

REQUEST_SECONDS = Histogram(
    "crowdgate_request_seconds",
    "Time to answer one HTTP request, by Flask endpoint.",
    ["endpoint"],
    buckets=REQUEST_BUCKETS,
)
RESPONSES = Counter(
    "crowdgate_responses_total", "HTTP responses by endpoint and status.", ["endpoint", "status"]
)
CHALLENGES = Counter(
    "crowdgate_challenges_total",
    "Challenges issued, passed and failed (a failed answer also issues a new challenge).",
    ["outcome"],
)
POW = Counter(
    "crowdgate_pow_total",
    "Proofs of work before a challenge: 'solved', or the code of a refusal (pow-required, ...).",
    ["result"],
)
VOTES = Counter("crowdgate_votes_total", "Votes recorded from passed challenges.")
SITEVERIFY = Counter(
    "crowdgate_siteverify_total",
    "siteverify results: 'success', or each error code of a refusal.",
    ["result"],
)
STORE_SECONDS = Histogram(
    "crowdgate_store_seconds",
    "Time of one store call made by the web process, by store method.",
    ["operation"],
    buckets=STORE_BUCKETS,
)
STORE_ERRORS = Counter(
    "crowdgate_store_errors_total", "Store calls that raised, by store method.", ["operation"]
)


class TimedStore:
    """Forward every call to ``store``, timing it and counting the votes ``record_pass`` keeps.

    Parameters
    ----------
    store : Store
        The backend to wrap; it is not modified.
    """

    def __init__(self, store: Store):
        self.wrapped = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.wrapped, name)
        if name.startswith("_") or not callable(attr):
            return attr
        timed = _timed(name, attr)
        # Kept on the instance, so later lookups skip __getattr__ and build nothing.
        setattr(self, name, timed)
        return timed


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    seconds = STORE_SECONDS.labels(name)

    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except CrowdgateError:
            STORE_ERRORS.labels(name).inc()
            raise
        finally:
            seconds.observe(time.perf_counter() - start)
        if name == "record_pass":
            VOTES.inc(len(result))
        return result

    return call


class ItemCollector(Collector):
    """Item counts per project and state, read from the store when Prometheus scrapes."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        items = GaugeMetricFamily(
            "crowdgate_items",
            "Items per project and state (settled = consensus reached).",
            labels=["project", "state"],
        )
        up = GaugeMetricFamily("crowdgate_store_up", "1 when the store answered this scrape.")
        try:
            for project in self.store.list_projects():
                counts = self.store.count_items(project.id)
                for state in ITEM_STATES:
                    items.add_metric([project.id, state], counts.get(state, 0))
        except CrowdgateError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        yield items
        yield up


@bp.get("/metrics")
def metrics() -> Response:
    """Serve every metric in the Prometheus text format (all workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    scraped = CollectorRegistry()
    store = cg().store
    scraped.register(ItemCollector(getattr(store, "wrapped", store)))
    body = generate_latest(counted) + generate_latest(scraped)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


#: labelled children already made: ``labels()`` takes a lock and builds a key per call, and
#: every request counts two (endpoints and statuses are few)
_CHILDREN: dict[tuple[str, ...], Any] = {}


def _child(metric: Any, *values: str) -> Any:
    key = (metric._name, *values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


def _start() -> None:
    g.metrics_start = time.perf_counter()


def _observe(response: Response) -> Response:
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    endpoint = request.endpoint or "unmatched"
    start = ctx.get("metrics_start")
    if start is not None:
        _child(REQUEST_SECONDS, endpoint).observe(time.perf_counter() - start)
    status = response.status_code
    _child(RESPONSES, endpoint, str(status)).inc()
    if status == 200 and endpoint.startswith("public."):
        _count_outcome(endpoint, ctx)
    elif status == 403 and endpoint == "public.challenge":
        _count_pow_refusal(response)
    return response


def _count_pow_refusal(response: Response) -> None:
    body = response.get_json(silent=True)
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and code.startswith("pow-"):
        POW.labels(code).inc()


def _count_outcome(endpoint: str, ctx: Any) -> None:
    """Count a hot route's outcome from what its view left on ``ctx`` (the request's ``g``)."""
    if endpoint == "public.challenge":
        _child(CHALLENGES, "issued").inc()
        if ctx.get("pow_solved"):
            _child(POW, "solved").inc()
        return
    if endpoint not in ("public.answer", "public.siteverify"):
        return
    # the view leaves the body it answered with on ``g``: no parsing of the response again
    body = ctx.get("outcome")
    if not isinstance(body, dict):
        return
    if endpoint == "public.answer":
        if body.get("success"):
            _child(CHALLENGES, "passed").inc()
        else:
            _child(CHALLENGES, "failed").inc()
            _child(CHALLENGES, "issued").inc()
    elif body.get("success"):
        _child(SITEVERIFY, "success").inc()
    else:
        for code in body.get("error-codes") or ["unknown"]:
            SITEVERIFY.labels(str(code)).inc()


def init_app(app: Flask) -> None:
    """Time every request and every store call; serve ``/metrics``.

    Call it right after the store is attached and before the rate limiter, so refused requests
    are timed too.
    """
    services = app.extensions["crowdgate"]
    timed: Any = TimedStore(services.store)
    services.store = timed
    services.service.store = timed
    app.register_blueprint(bp)
    app.before_request(_start)
    app.after_request(_observe)
