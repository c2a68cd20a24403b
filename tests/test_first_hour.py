"""A newcomer's first hour: a one-time dashboard link, and a simulated crowd the demo trusts."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crowdgate import create_app, signin
from crowdgate.config import Settings
from crowdgate.trusted_simulator import HEADER, TrustedSimulator, key_hash
from redis_server import free_port
from seed import seed_project

ROOT = Path(__file__).resolve().parents[1]


def _link_path(link: str) -> str:
    return link.removeprefix("http://127.0.0.1:8000")


def test_a_signin_link_signs_in_once(client, app_store, app):
    record, link = signin.signin_link(
        app_store,
        app.extensions["crowdgate"].settings.secret_key,
        "http://127.0.0.1:8000",
        clock=app.extensions["crowdgate"].clock,
    )
    reply = client.get(_link_path(link))
    assert reply.status_code == 302 and reply.headers["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    assert record.name == signin.KEY_NAME and "key_hash" not in record.public_dict()
    other = app.test_client()
    again = other.get(_link_path(link))
    assert again.status_code == 401 and "already used" in again.get_data(as_text=True)
    assert other.get("/dashboard/").status_code == 302


def test_a_signin_link_expires_and_cannot_be_forged(client, app_store, app, clock):
    state = app.extensions["crowdgate"]
    _, late = signin.signin_link(app_store, state.settings.secret_key, "http://x", clock=clock)
    _, link = signin.signin_link(app_store, state.settings.secret_key, "", clock=clock)
    grant = link.split("grant=")[1]
    key_id, expiry, nonce, mac = grant.split(".")
    forged = [
        f"{key_id}.{int(expiry) + 3600}.{nonce}.{mac}",  # a longer life
        f"{key_id}.{expiry}.{nonce}.{'0' * len(mac)}",  # a guessed signature
        signin.make_grant(key_id, "another-secret", clock()),  # another service's key
        "",
        "a.b.c",
    ]
    for bad in forged:
        assert client.get(f"/dashboard/signin?grant={bad}").status_code == 401, bad
    clock.advance(signin.LINK_TTL_S + 1)
    assert client.get(_link_path(late.removeprefix("http://x"))).status_code == 401
    assert client.get("/dashboard/").status_code == 302


def test_a_signin_link_of_a_revoked_key_signs_nobody_in(client, app_store, app):
    from crowdgate import manage

    state = app.extensions["crowdgate"]
    record, link = signin.signin_link(app_store, state.settings.secret_key, "", clock=state.clock)
    manage.revoke_apikey(app_store, record.id)
    assert client.get(link).status_code == 401


@pytest.fixture
def limited(backend, request, tmp_path, clock):
    from conftest import store_uri

    settings = Settings(
        data_dir=tmp_path,
        store=store_uri(backend, request, tmp_path),
        secret_key="limits",
        cache_ttl_s=0,
        rate_limit_client="3/minute",
    )
    app = create_app(settings, clock=clock)
    app.wsgi_app = TrustedSimulator(app.wsgi_app, key_hash("the-demo-key"))
    yield app
    app.extensions["crowdgate"].store.close()


def _issue(client, sitekey, n, extra):
    return client.post(
        "/api/v1/challenge",
        json={"sitekey": sitekey},
        headers={"Origin": "https://shop.example", "X-Forwarded-For": f"198.51.{n}.7", **extra},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).status_code


@pytest.mark.parametrize(
    ("extra", "codes"),
    [
        ({HEADER: "the-demo-key"}, [200, 200, 200, 200, 200]),
        ({}, [200, 200, 200, 429, 429]),
        ({HEADER: "a-guess"}, [200, 200, 200, 429, 429]),
    ],
    ids=["simulator-key", "no-key", "wrong-key"],
)
def test_only_the_demos_simulator_is_counted_by_its_forwarded_address(limited, extra, codes):
    seeded = seed_project(limited.extensions["crowdgate"].store)
    client = limited.test_client()
    assert [_issue(client, seeded.sitekey, n, extra) for n in range(5)] == codes


def _readme_simulate_command() -> list[str]:
    """The `crowdgate simulate` line of the README's first-hour section, as written."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your first hour", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in section.splitlines() if ln.strip().startswith(".venv/bin/"))
    return shlex.split(line.split("#", 1)[0])


@pytest.mark.slow
def test_the_newcomer_path_in_the_readme_works_as_written(tmp_path):
    """`crowdgate demo`, its sign-in link, then the README's simulate command: labels settle."""
    port = free_port()
    env = {**os.environ, "CROWDGATE_DATA_DIR": str(tmp_path)}
    env.pop("CROWDGATE_STORE", None)
    env.pop("CROWDGATE_SECRET_KEY", None)
    log = tmp_path / "demo.log"
    bin_dir = Path(sys.executable).parent
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [
                str(bin_dir / "crowdgate"),
                "demo",
                "--port",
                str(port),
                "--site-port",
                str(free_port()),
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        while "dashboard:" not in log.read_text() or not _answers(port):
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        printed = log.read_text()
        link = re.search(r"dashboard:\s+(\S+)", printed).group(1)
        assert link.startswith(f"http://127.0.0.1:{port}/dashboard/signin?grant=")
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with browser.open(link, timeout=30) as page:
            assert page.url.endswith("/dashboard/") and "digits" in page.read().decode()
        with pytest.raises(urllib.error.HTTPError) as reused:
            urllib.request.urlopen(link, timeout=30)
        assert reused.value.code == 401
        reused.value.close()

        command = _readme_simulate_command()
        assert command[:3] == [".venv/bin/crowdgate", "simulate", "--demo"]
        done = subprocess.run(
            [str(bin_dir / "crowdgate"), *command[1:], "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        assert summary["errors"].get("rate-limited", 0) == 0, summary["errors"]
        assert summary["passes"] > summary["challenges"] / 2, summary
        with browser.open(f"http://127.0.0.1:{port}/dashboard/projects/digits", timeout=30) as page:
            html = page.read().decode()
        assert "digits" in html
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(30)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
