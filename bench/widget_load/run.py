"""Widget load time in headless Chromium on loopback, and the widget's gzipped size.

Measures, per run in a fresh browser context (cold cache):

* ``script``: fetch of ``/widget.js`` (resource timing, start to response end);
* ``interactive``: from the start of that fetch to the ``onload`` callback, which the widget
  calls once every container is rendered and its checkbox listens for clicks;
* ``grid``: from the click on the checkbox (a capture listener on the host page) to the frame
  after all the grid's tiles are painted on their canvases, read back pixel by pixel (target:
  under 100 ms). The tiles come inside the challenge response, so this is one request.

With ``--alternative N`` it also times N passes by the accessible path (click on "Check without
images" to the token in the form: the puzzle request, the proof of work in the page, the
redemption), at the server's default difficulty.

By default the runs start once the embedded trainer (``crowdgate serve`` on SQLite starts one)
has finished its first pass over the new demo project: that pass takes seconds of CPU, and a
visitor of a running site meets it only while a retrain is under way. ``--no-wait`` times the
runs from the server's start instead, during that pass (the trainer runs at its default
``CROWDGATE_WORKER_NICE``; set it to 0 to see the cost of a trainer at the server's priority).

The host page is served from ``localhost:Q`` and crowdgate from ``127.0.0.1:P`` (two origins, as
on a real site), with the demo project (scikit-learn digits) and a strict CSP on the host page.

``--decoder both`` interleaves runs that decode the tiles with WebCodecs' ``ImageDecoder`` (the
widget's first choice) and runs with it hidden, so the widget falls back to ``createImageBitmap``
of a ``Blob``: the A/B of the two decoders in one browser and one server.

Usage: ``python bench/widget_load/run.py [--runs 15] [--alternative 0] [--data-dir DIR]
[--no-wait] [--decoder ImageDecoder|createImageBitmap|both]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from flask import Flask, Response

from crowdgate.config import Settings
from crowdgate.demo import ensure_demo
from crowdgate.models import DEFAULT_PROJECT_SETTINGS
from crowdgate.store import open_store
from crowdgate.web.demo_site import serve_in_thread

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

#: tiles in the demo's grids (the project default)
TILES = int(DEFAULT_PROJECT_SETTINGS["grid_size"])

BENCH_JS = """
window.cgBench = {};
window.cgReady = () => { window.cgBench.ready = performance.now(); };
document.addEventListener("click", () => {
  window.cgBench.click = performance.now();
  const root = document.querySelector("crowdgate-widget").shadowRoot;
  // Cheap to poll (reading pixels back would slow the page it measures): the grid is shown,
  // holds all its canvases and the widget says every one is painted. The pixels are checked after.
  const poll = () => {
    const grid = root.querySelector(".cg-grid");
    const tiles = root.querySelectorAll(".cg-tile canvas");
    const shown = tiles.length === TILES && !root.querySelector(".cg-panel").hidden;
    if (shown && grid.getAttribute("aria-busy") === "false") {
      requestAnimationFrame(() => { window.cgBench.grid = performance.now(); });
    } else {
      setTimeout(poll, 1);
    }
  };
  poll();
}, { capture: true, once: true });
""".replace("TILES", str(TILES))

#: how many tile canvases hold painted pixels (read back once, after the timing)
PAINTED_JS = """() => {
  const root = document.querySelector("crowdgate-widget").shadowRoot;
  return Array.from(root.querySelectorAll(".cg-tile canvas")).filter((c) => {
    if (!c.width || !c.height) return false;
    const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  }).length;
}"""

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<script src="/bench.js"></script>
<script src="{cg}/widget.js?onload=cgReady" async defer></script>
</head><body><form><div class="crowdgate" data-sitekey="{sitekey}"></div></form></body></html>
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def host_app(cg: str, sitekey: str) -> Flask:
    app = Flask("widget-load-host")
    csp = f"default-src 'none'; script-src 'self' {cg}; connect-src {cg}; base-uri 'none'"

    @app.get("/")
    def page() -> Response:
        html = PAGE.format(cg=cg, sitekey=sitekey)
        return Response(html, mimetype="text/html", headers={"Content-Security-Policy": csp})

    @app.get("/bench.js")
    def bench_js() -> Response:
        return Response(BENCH_JS, mimetype="text/javascript")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    return app


def start_crowdgate(data_dir: Path, port: int, store_uri: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CROWDGATE_STORE": store_uri,
        "CROWDGATE_RATE_LIMIT_ENABLED": "false",
        "CROWDGATE_LOG_LEVEL": "WARNING",
    }
    args = [sys.executable, "-m", "crowdgate", "serve", "--port", str(port)]
    args += ["--workers", "2", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("crowdgate serve did not start")


def wait_for_first_model(store_uri: str, project: str, timeout_s: float = 900) -> float:
    """Wait until the embedded trainer has stored the project's first model; return seconds."""
    start = time.monotonic()
    store = open_store(store_uri)
    try:
        while not store.list_models(project):
            if time.monotonic() - start > timeout_s:
                raise RuntimeError(f"no model for {project!r} after {timeout_s:.0f} s")
            time.sleep(0.5)
    finally:
        store.close()
    return time.monotonic() - start


def measure(browser, url: str, decoder: str = "ImageDecoder") -> dict[str, float]:
    """Load the page once in a fresh context, open the grid, return the timings in ms."""
    context = browser.new_context()
    if decoder == "createImageBitmap":
        # the widget's fallback path, as in a browser without WebCodecs
        context.add_init_script("delete window.ImageDecoder;")
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => window.cgBench && window.cgBench.ready")
        page.locator(".cg-check").click()
        page.wait_for_function("() => window.cgBench.grid", timeout=10_000)
        painted = page.evaluate(PAINTED_JS)
        if painted != TILES:
            raise RuntimeError(f"only {painted} of {TILES} tiles hold pixels when it was timed")
        marks = page.evaluate(
            """() => {
              const entry = performance.getEntriesByType("resource")
                .find((e) => e.name.includes("/widget.js"));
              const later = performance.getEntriesByType("resource")
                .filter((e) => e.startTime >= window.cgBench.click);
              const ask = later.find((e) => e.name.endsWith("/api/v1/challenge"));
              return { ...window.cgBench, start: entry.startTime, end: entry.responseEnd,
                after: later.length, asked: ask.startTime, answered: ask.responseEnd };
            }"""
        )
    finally:
        context.close()
    return {
        "script": marks["end"] - marks["start"],
        "interactive": marks["ready"] - marks["start"],
        "grid": marks["grid"] - marks["click"],
        # where the grid's time goes: the challenge request, then decoding and painting
        "challenge": marks["answered"] - marks["asked"],
        "draw": marks["grid"] - marks["answered"],
        "requests": marks["after"],
    }


def measure_alternative(browser, url: str) -> dict[str, float]:
    """Open the grid, take the path without images, return click-to-token in ms."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => window.cgBench && window.cgBench.ready")
        page.locator(".cg-check").click()
        page.wait_for_function("() => window.cgBench.grid", timeout=10_000)
        start = page.evaluate("() => performance.now()")
        page.locator(".cg-alt").click()
        page.wait_for_function(
            "() => document.querySelector('input[name=crowdgate-response]').value",
            timeout=180_000,
        )
        end = page.evaluate("() => performance.now()")
    finally:
        context.close()
    return {"alternative": end - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--alternative", type=int, default=0, help="accessible-path passes")
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a demo data dir")
    parser.add_argument(
        "--no-wait", action="store_true", help="time the runs during the trainer's first pass"
    )
    parser.add_argument(
        "--decoder",
        choices=["ImageDecoder", "createImageBitmap", "both"],
        default="ImageDecoder",
        help="the widget's tile decoder; both interleaves the two, run by run",
    )
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="crowdgate-widget-load-"))
    settings = Settings.from_env(data_dir=data_dir, secret_key="widget-load-bench")
    store = open_store(settings.store_uri)
    info = ensure_demo(store, settings)
    store.close()

    port = free_port()
    proc = start_crowdgate(data_dir, port, settings.store_uri)
    cg = f"http://127.0.0.1:{port}"
    host_port = free_port()
    host = serve_in_thread(host_app(cg, info.sitekey), "127.0.0.1", host_port)
    url = f"http://localhost:{host_port}/"
    waited = None
    try:
        if not args.no_wait:
            waited = wait_for_first_model(settings.store_uri, info.project)
        raw = urllib.request.urlopen(cg + "/widget.js").read()
        ask = json.dumps({"sitekey": info.sitekey, "hostname": "localhost"}).encode()
        body_bytes = len(urllib.request.urlopen(cg + "/api/v1/challenge", data=ask).read())
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            measure(browser, url)  # warm up the server's caches and the browser
            decoders = (
                ["ImageDecoder", "createImageBitmap"] if args.decoder == "both" else [args.decoder]
            )
            by_decoder: dict[str, list[dict[str, float]]] = {d: [] for d in decoders}
            for _ in range(args.runs):
                for decoder in decoders:
                    by_decoder[decoder].append(measure(browser, url, decoder))
            alts = [measure_alternative(browser, url) for _ in range(args.alternative)]
            version = browser.version
            browser.close()
    finally:
        host.shutdown()
        os.killpg(proc.pid, 15)
        try:
            proc.wait(60)  # a loaded machine can take long to stop two workers
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()

    print(f"Chromium {version}, {args.runs} runs, cold cache per run, loopback")
    if waited is None:
        print("runs timed from the server's start, during the trainer's first pass")
    else:
        print(f"runs timed after the trainer's first pass ({waited:.1f} s after the start)")
    print("| decoder | measure | median ms | p90 ms | min ms | max ms |")
    print("|---|---|---|---|---|---|")
    for decoder, runs in by_decoder.items():
        for key in ("script", "interactive", "grid", "challenge", "draw"):
            values = sorted(r[key] for r in runs)
            p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
            print(
                f"| {decoder} | {key} | {statistics.median(values):.1f} | {p90:.1f} | "
                f"{values[0]:.1f} | {values[-1]:.1f} |"
            )
    runs = [r for decoder_runs in by_decoder.values() for r in decoder_runs]
    if alts:
        values = sorted(a["alternative"] for a in alts)
        print(
            f"| alternative (click to token) | {statistics.median(values):.1f} | "
            f"{values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]:.1f} | "
            f"{values[0]:.1f} | {values[-1]:.1f} |"
        )
    print(f"requests from click to drawn grid: {sorted({r['requests'] for r in runs})}")
    print(f"challenge response body: {body_bytes} bytes (uncompressed JSON with {TILES} tiles)")
    print(f"widget.js: {len(raw)} bytes raw, {len(gzip.compress(raw, 9))} bytes gzipped (level 9)")
    rounded = {
        d: [{k: round(v, 1) for k, v in r.items()} for r in rs] for d, rs in by_decoder.items()
    }
    print(json.dumps({"runs": rounded}))


if __name__ == "__main__":
    main()
