"""Real-browser fixtures: headless Chromium, a served crowdgate and host pages on another origin.

crowdgate runs as ``crowdgate serve`` on ``127.0.0.1:P``; the host pages and the demo site run in
this process on ``localhost:Q``, so every widget request is cross-origin, as on a real site.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, render_template_string, request

from crowdgate import manage
from crowdgate.store import Store, open_store
from crowdgate.web.demo_site import DemoSite, create_demo_site, serve_in_thread
from live import Served
from redis_server import free_port
from seed import Seeded, seed_project

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "_artifacts" / "screenshots"
SECRET_KEY = "live-test-secret"  # what tests/live.py gives the served crowdgate
#: axe-core, the accessibility checker run inside test pages (a dev dependency of the widget)
AXE = Path(__file__).parent.parent / "widget_js" / "node_modules" / "axe-core" / "axe.min.js"
UNKNOWN_SITEKEY = "00000000-0000-4000-8000-000000000000"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ kind }}</title>
<link rel="stylesheet" href="/host.css">
<script src="/host.js"></script>
<script src="{{ cg }}/widget.js" async defer></script>
</head><body><main>
<h1>Sign up</h1>
<form action="/submit" method="post">
{% for w in widgets %}
<div id="{{ w.id }}" class="crowdgate" data-sitekey="{{ w.sitekey }}" data-theme="{{ theme }}"
  data-callback="onPass" data-error-callback="onCgError"></div>
{% endfor %}
<button type="submit" id="submit">Send</button>
</form>
<p id="errors"></p><p id="passes"></p><p id="violations"></p>
</main></body></html>
"""

# Runs before the widget: records CSP violations and the callbacks' arguments in the DOM.
HOST_JS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI);
  document.getElementById("violations").textContent = window.cspViolations.join("; ");
});
window.onCgError = (code) => { document.getElementById("errors").textContent += code; };
window.onPass = (token) => { document.getElementById("passes").textContent += "pass;"; };
"""
HOST_CSS = "body { font: 16px system-ui, sans-serif; margin: 24px; }\n"


def chromium_path() -> str:
    """Return Debian's chromium; fail under CI=true when it is missing, else skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed; run `make test` (it installs it) or apt-get it."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Gate:
    """A served crowdgate, its store and the seeded project."""

    server: Served
    store: Store
    seeded: Seeded
    #: a second site of the project that asks 8 bits of proof of work per challenge
    pow_sitekey: str
    pow_secret: str

    @property
    def base(self) -> str:
        return self.server.base


@pytest.fixture(scope="module", name="gate")
def gate_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    """A ``crowdgate serve`` process on SQLite with a project whose site allows localhost."""
    folder = tmp_path_factory.mktemp("gate")
    uri = f"sqlite:///{folder / 'crowdgate.db'}"
    store = open_store(uri)
    seeded = seed_project(store, open_items=60, hostnames=["localhost"])
    gated, gated_secret = manage.create_site(
        store, name="Gated", hostnames=["localhost"], project=seeded.project, pow_bits=8
    )
    server = Served(folder, uri, workers=2)
    yield Gate(server, store, seeded, gated.sitekey, gated_secret)
    server.stop()
    store.close()


def host_app(gate: Gate) -> Flask:
    """Return the host site's app: test pages with a strict CSP of their own.

    No ``img-src`` at all (so ``default-src 'none'`` forbids every image): the tiles come
    inside the challenge response and are painted on canvases.
    """
    app = Flask("crowdgate-test-host")
    csp = (
        f"default-src 'none'; script-src 'self' {gate.base}; connect-src {gate.base}; "
        "style-src 'self'; form-action 'self'; base-uri 'none'"
    )

    @app.after_request
    def _csp(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp
        return response

    @app.get("/page/<kind>")
    def page(kind: str) -> str:
        sitekeys = {"unknown": UNKNOWN_SITEKEY, "pow": gate.pow_sitekey}
        sitekey = sitekeys.get(kind, gate.seeded.sitekey)
        ids = ["one", "two"] if kind == "two" else ["one"]
        widgets = [{"id": i, "sitekey": sitekey} for i in ids]
        theme = request.args.get("theme", "light")
        return render_template_string(PAGE, kind=kind, cg=gate.base, widgets=widgets, theme=theme)

    @app.get("/host.js")
    def host_js() -> Response:
        return Response(HOST_JS, mimetype="text/javascript")

    @app.get("/host.css")
    def host_css() -> Response:
        return Response(HOST_CSS, mimetype="text/css")

    @app.get("/axe.js")
    def axe_js() -> Response:
        # served by the page's own origin, so the strict CSP needs no exception for it
        return Response(AXE.read_bytes(), mimetype="text/javascript")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    return app


@pytest.fixture(scope="module", name="host")
def host_fixture(gate: Gate) -> Iterator[str]:
    """The host pages' base URL, ``http://localhost:Q``."""
    port = free_port()
    server = serve_in_thread(host_app(gate), "127.0.0.1", port)
    yield f"http://localhost:{port}"
    server.shutdown()


@pytest.fixture(scope="module", name="demo_site")
def demo_site_fixture(gate: Gate) -> Iterator[str]:
    """The demo sign-up site in front of the served crowdgate, ``http://localhost:R``."""
    seeded = gate.seeded
    site = DemoSite(gate.base, seeded.sitekey, seeded.secret, seeded.project)
    port = free_port()
    server = serve_in_thread(create_demo_site(site, gate.store, SECRET_KEY), "127.0.0.1", port)
    yield f"http://localhost:{port}"
    server.shutdown()


@pytest.fixture(name="page")
def page_fixture(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; its user agent is unique so its votes count."""
    agent = f"Mozilla/5.0 crowdgate-e2e {request.node.name} {time.time_ns()}"
    context = browser.new_context(user_agent=agent, viewport={"width": 900, "height": 760})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()


def axe_path() -> Path:
    """Return axe-core's script; fail under CI=true when it is missing, else skip."""
    if not AXE.exists():
        message = "axe-core is not installed; run `cd widget_js && npm ci` (make test does)."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return AXE


def axe_violations(page: Any, host: str) -> list[str]:
    """Run axe-core (every rule it runs by default) in the page; return its violations."""
    axe_path()
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(url=host + "/axe.js")
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document);
          // the widget lives in a shadow root: make sure axe looked inside it
          const seen = result.passes.some((rule) =>
            rule.nodes.some((n) => JSON.stringify(n.target).includes(".cg-check")));
          return { seen, violations: result.violations.map((v) => v.id + ": " +
            v.nodes.map((n) => JSON.stringify(n.target)).join(", ")) };
        }"""
    )
    assert found["seen"], "axe-core did not check the widget's shadow root"
    return list(found["violations"])


def shoot(target: Any, name: str) -> Path:
    """Save a screenshot of a page or locator under tests/_artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


def hidden_key(store: Store, challenge_id: str) -> list[tuple[bool, bool | None]]:
    """Return ``(gold, truth)`` per slot of an open challenge, read from the store."""
    challenge = store.get_challenge(challenge_id, time.time())
    assert challenge is not None, f"challenge {challenge_id} is not in the store"
    return [(s.gold, s.truth) for s in challenge.slots]


def right_picks(store: Store, challenge_id: str) -> list[int]:
    """Slots to select to pass: the positive gold ones, and no open slot."""
    return [i for i, (gold, truth) in enumerate(hidden_key(store, challenge_id)) if gold and truth]


def wrong_picks(store: Store, challenge_id: str) -> list[int]:
    """Slots to select to fail: every gold answer inverted."""
    return [
        i for i, (gold, truth) in enumerate(hidden_key(store, challenge_id)) if gold and not truth
    ]


def open_grid(page: Any, widget: str = "#one") -> str:
    """Click a widget's checkbox and return the id of the challenge it loaded."""
    with page.expect_response(
        lambda r: r.url.endswith("/api/v1/challenge") and r.request.method == "POST"
    ) as info:
        page.locator(f"{widget} .cg-check").click()
    wait_images(page, widget)
    return info.value.json()["challenge"]


#: True once every tile canvas of a widget's open grid holds painted pixels (read back, so a
#: blank or undecoded tile never counts as drawn).
DRAWN_JS = """(sel) => {
  const root = document.querySelector(sel + " crowdgate-widget").shadowRoot;
  const canvases = Array.from(root.querySelectorAll(".cg-tile canvas"));
  const painted = (c) => {
    if (!c.width || !c.height) return false;
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  };
  return canvases.length > 0 && !root.querySelector(".cg-panel").hidden
    && canvases.every(painted);
}"""


def wait_images(page: Any, widget: str = "#one") -> None:
    """Wait until the widget's grid shows every tile, decoded and painted."""
    page.wait_for_function(DRAWN_JS, arg=widget)


def token_of(page: Any, widget: str = "#one") -> str:
    """Return the value of a widget's hidden ``crowdgate-response`` input."""
    return page.locator(f"{widget} input[name=crowdgate-response]").input_value()


def wait_token(page: Any, widget: str = "#one") -> str:
    """Wait until a widget's hidden input holds a token and return it."""
    page.wait_for_function(
        "(sel) => document.querySelector(sel + ' input[name=crowdgate-response]').value",
        arg=widget,
    )
    return token_of(page, widget)


def wait_text(page: Any, selector: str) -> str:
    """Wait until an element of the host page has text and return it."""
    page.wait_for_function("(sel) => document.querySelector(sel).textContent", arg=selector)
    return page.inner_text(selector)
