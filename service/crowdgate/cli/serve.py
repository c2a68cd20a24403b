"""``crowdgate serve`` and ``crowdgate demo``: run the service under gunicorn."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..config import ConfigError, Settings
from .common import data_dir_option, load_settings, store_for

host_option = click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
)
port_option = click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
workers_option = click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes.",
)


def start_embedded_worker(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start ``crowdgate worker`` beside the server when the settings ask for it.

    ``auto`` means yes on SQLite (one host, nothing else to run) and no on Redis, where the
    operator runs one ``crowdgate worker`` per deployment. The child exits with this process.
    """
    mode = settings.embedded_worker.lower()
    if mode not in ("auto", "true", "false"):
        raise ConfigError("CROWDGATE_EMBEDDED_WORKER must be auto, true or false.")
    if mode == "false" or (mode == "auto" and not settings.store_uri.startswith("sqlite:")):
        return None
    env = {
        **os.environ,
        "CROWDGATE_STORE": settings.store_uri,
        "CROWDGATE_DATA_DIR": str(settings.data_dir),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "crowdgate", "worker", "--parent-pid", str(os.getpid())], env=env
    )
    atexit.register(child.terminate)
    return child


def metrics_folder(settings: Settings, port: int) -> None:
    """Give gunicorn's workers one Prometheus multiprocess folder, emptied at start.

    Must run before crowdgate's metrics are imported (they open their files in it), so that
    /metrics sums every worker instead of showing whichever one answers.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = settings.data_dir / f"metrics-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _child_exit(server: object, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def run_gunicorn(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    wrap: Callable[[Any], Any] | None = None,
) -> None:
    """Serve ``crowdgate:create_app()`` with gunicorn in this process (blocks).

    ``wrap``, when given, wraps the app's WSGI callable (the demo's simulator trust).
    """
    metrics_folder(settings, port)
    from gunicorn.app.base import BaseApplication

    from ..web import create_app

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("child_exit", _child_exit)

        def load(self) -> Any:
            app = create_app(settings)
            if wrap is not None:
                app.wsgi_app = wrap(app.wsgi_app)
            return app

    App().run()


@click.command("serve")
@host_option
@port_option
@workers_option
@data_dir_option
def serve(host: str, port: int, workers: int, data_dir: Path | None) -> None:
    """Run the service (gunicorn; the store from CROWDGATE_STORE or the data directory)."""
    settings = load_settings(data_dir)
    store_for(settings).check()
    os.environ["CROWDGATE_DATA_DIR"] = str(settings.data_dir)
    click.echo(f"crowdgate serving on http://{host}:{port} (store: {settings.store_uri})")
    start_embedded_worker(settings)
    run_gunicorn(settings, host, port, workers)


@click.command("demo")
@host_option
@port_option
@workers_option
@click.option(
    "--site-port",
    default=None,
    type=click.IntRange(1, 65535),
    help="Port of the demo sign-up site (default: --port + 1).",
)
@data_dir_option
def demo(host: str, port: int, workers: int, site_port: int | None, data_dir: Path | None) -> None:
    """Create the demo (digits project, site) if needed, then serve it and its sign-up page."""
    from ..demo import ensure_demo, start_demo_site, start_run
    from ..trusted_simulator import TrustedSimulator, key_hash

    settings = load_settings(data_dir)
    click.echo("preparing the demo project (scikit-learn digits)...")
    store = store_for(settings)
    info = ensure_demo(store, settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    site_port = site_port or port + 1
    page = start_demo_site(store, settings, info, host, site_port, base)
    run = start_run(store, settings, info, base)
    click.echo(f"demo project {info.project!r}: {info.items} images")
    click.echo(f"demo sitekey: {info.sitekey}")
    click.echo(f"demo secret:  {info.secret}  (also in {settings.data_dir / 'demo.json'})")
    click.echo(f"crowdgate:    {base}")
    click.echo(f"demo page:    {page}  (a sign-up form guarded by the widget)")
    click.echo(f"dashboard:    {run.signin_link}")
    click.echo("              (signs you in with one click; the link works once, for 15 minutes)")
    click.echo(f"simulate:     {_simulate_line(data_dir)}")
    click.echo("              (in another terminal: a simulated crowd answers; watch the labels")
    click.echo(f"              settle on {base}/dashboard/projects/{info.project})")
    click.echo(
        f"try: curl -s -X POST {base}/api/v1/challenge -H 'Origin: http://localhost' "
        f'-d \'{{"sitekey": "{info.sitekey}"}}\''
    )
    start_embedded_worker(settings)
    trusted = key_hash(run.simulator_key)
    run_gunicorn(settings, host, port, workers, wrap=lambda app: TrustedSimulator(app, trusted))


def _simulate_line(data_dir: Path | None) -> str:
    """The command that points the simulator at this demo, as the user can type it."""
    program = Path(sys.argv[0])
    shown = str(program) if program.name == "crowdgate" else "crowdgate"
    where = f" --data-dir {data_dir}" if data_dir is not None else ""
    return f"{shown} simulate --demo{where} --challenges 400"
