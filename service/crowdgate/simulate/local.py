"""Run ``crowdgate serve`` as a child process on a free port, set up the way benchmarks need."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .. import manage
from ..errors import CrowdgateError
from ..store import open_store

#: environment of a benchmark server: it sits behind one (simulated) proxy, so each visitor's
#: ``X-Forwarded-For`` address is its client address, and per-client limits do not throttle
#: the simulated crowd (which is many clients funnelled through one test host).
BENCH_ENV = {
    "CROWDGATE_TRUSTED_PROXIES": "1",
    "CROWDGATE_RATE_LIMIT_CLIENT": "1000000/minute",
    "CROWDGATE_RATE_LIMIT_SITEKEY": "1000000/minute",
}
START_TIMEOUT_S = 60
#: the benchmark servers' secret key (salts voter keys and gold variant seeds)
SECRET = "crowdgate-simulate"


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """A ``crowdgate serve`` child process with its own data directory and an admin API key.

    Parameters
    ----------
    data_dir : Path
        The server's data directory (its SQLite store unless ``env`` names another).
    workers : int
        gunicorn worker processes.
    env : dict
        Extra ``CROWDGATE_*`` variables, over :data:`BENCH_ENV`.
    """

    def __init__(self, data_dir: Path, *, workers: int = 2, env: dict[str, str] | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {
            **os.environ,
            "CROWDGATE_SECRET_KEY": SECRET,
            "CROWDGATE_DATA_DIR": str(self.data_dir),
            **BENCH_ENV,
            **(env or {}),
        }
        store_uri = self.env.get("CROWDGATE_STORE") or f"sqlite:///{self.data_dir / 'crowdgate.db'}"
        store = open_store(store_uri)
        try:
            _, self.api_key = manage.create_apikey(store, "simulate")
        finally:
            store.close()
        self.workers = workers
        self.log = self.data_dir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalServer:
        """Start the server and wait until it answers (raise CrowdgateError if it does not)."""
        args = [sys.executable, "-m", "crowdgate", "serve", "--port", str(self.port)]
        args += ["--workers", str(self.workers), "--data-dir", str(self.data_dir)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + "/openapi.json", timeout=1).read()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise CrowdgateError(
            f"crowdgate serve did not start; its log ends: {self.log.read_text()[-1500:]}",
            code="simulate-server",
        )

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
