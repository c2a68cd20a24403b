"""Shared fixtures: a fresh store per test on every backend, an app and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdgate.clock import FrozenClock
from crowdgate.store import Store, open_store
from redis_server import RedisProcess

BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path_factory.mktemp("redis"))
    yield proc
    proc.stop()


def store_uri(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a URI of an empty store of ``backend`` for one test."""
    if backend == "redis":
        proc: RedisProcess = request.getfixturevalue("redis_proc")
        proc.flush()
        return proc.url
    return f"sqlite:///{tmp_path / 'crowdgate.db'}"


def blobs_uri(tmp_path: Path) -> str:
    """Return the blob folder a test's store (and its settings' ``data_dir``) default to."""
    return (tmp_path / "blobs").resolve().as_uri()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store(store_uri(backend, request, tmp_path), blobs_default=blobs_uri(tmp_path))
    yield s
    s.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path):
    from crowdgate.config import Settings

    return Settings(
        data_dir=tmp_path,
        store=store_uri(backend, request, tmp_path),
        secret_key="test-secret-key",
        cache_ttl_s=0,
        rate_limit_enabled=False,
    )


@pytest.fixture
def app(settings, clock: FrozenClock):
    from crowdgate import create_app

    app = create_app(settings, clock=clock)
    yield app
    app.extensions["crowdgate"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_store(app) -> Store:
    return app.extensions["crowdgate"].store
