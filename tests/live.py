"""Run ``crowdgate serve`` (gunicorn) as a real process on a free port, and talk HTTP to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from redis_server import free_port


class Served:
    """A ``crowdgate serve`` process group; killable with SIGKILL like a crash."""

    def __init__(self, data_dir: Path, store_uri: str, *, workers: int = 2, **env: str):
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "CROWDGATE_STORE": store_uri,
            "CROWDGATE_SECRET_KEY": "live-test-secret",
            "CROWDGATE_RATE_LIMIT_ENABLED": "false",
            **env,
        }
        self.args = [
            sys.executable,
            "-m",
            "crowdgate",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--data-dir",
            str(data_dir),
        ]
        self.log = data_dir / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                env=self.env,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"crowdgate serve exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.base + "/openapi.json", timeout=1).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise RuntimeError(f"crowdgate serve did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then make sure nothing is left."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def call(
    base: str,
    path: str,
    body: Any = None,
    *,
    form: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """POST JSON (or a form) or GET; return ``(status, parsed JSON body)``."""
    data = None
    hdrs = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "text/plain;charset=UTF-8")
    request = urllib.request.Request(
        base + path, data=data, headers=hdrs, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
