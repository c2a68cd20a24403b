"""Plain HTTP to a running crowdgate: keep-alive connections per thread, JSON in and out."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

from ..errors import CrowdgateError

DEFAULT_TIMEOUT_S = 30.0


class ServiceError(CrowdgateError):
    """The service answered with an error status; ``code`` is its stable error code."""

    code = "simulate-http"
    status = 502


class Http:
    """HTTP/1.1 to one base URL, one keep-alive connection per thread, reconnecting once."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(
                f"URL {base_url!r} is not an http(s) URL; give one like http://127.0.0.1:8000.",
                code="simulate-url",
                status=400,
            )
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()
        self._open: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, str]:
        """Send one request; return ``(status, body bytes, content type)``."""
        if path.startswith(("http://", "https://")):
            path = urlsplit(path).path
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=body, headers=headers or {})
                reply = conn.getresponse()
                data = reply.read()
                return reply.status, data, reply.getheader("Content-Type", "")
            except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                conn.close()
                self._local.conn = None
                if attempt:
                    raise ServiceError(f"{method} {path} failed: {exc!r}.") from exc
        raise AssertionError("unreachable")

    def json(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Send JSON (or nothing) and return ``(status, parsed JSON reply or None)``."""
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        data = None if body is None else json.dumps(body).encode()
        status, raw, ctype = self.request(method, path, data, hdrs)
        return status, json.loads(raw) if raw and "json" in ctype else None

    def close(self) -> None:
        """Close every connection any thread opened (threads reconnect on their next call)."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()
        self._local = threading.local()


class Admin:
    """The admin API of a running crowdgate, authenticated with one bearer key."""

    def __init__(self, base_url: str, api_key: str, timeout: float = DEFAULT_TIMEOUT_S):
        self.http = Http(base_url, timeout)
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        status, reply = self.http.json(method, "/api/v1/admin" + path, body, self.headers)
        if status >= 400:
            code = reply.get("code", "error") if isinstance(reply, dict) else "error"
            raise ServiceError(f"{method} {path} answered {status}: {reply}.", code=code)
        return reply

    def project(self, project_id: str) -> dict:
        """Return a project with its item counts and stats (``votes``, challenges...)."""
        return self._call("GET", f"/projects/{project_id}")

    def create_project(self, project_id: str, labels: list[str], **fields: Any) -> dict:
        """Create a project (``settings``, ``prompt``, ``name`` as in the admin API)."""
        return self._call("POST", "/projects", {"id": project_id, "labels": labels, **fields})

    def create_site(self, name: str, hostnames: list[str], project: str) -> dict:
        """Create a site; the reply holds its ``sitekey`` and its ``secret`` (once)."""
        body = {"name": name, "hostnames": hostnames, "project": project}
        return self._call("POST", "/sites", body)

    def items(self, project_id: str, state: str | None = None, page: int = 500) -> list[dict]:
        """Return every item of a project (optionally in one state), paging through them."""
        out: list[dict] = []
        while True:
            query = f"?limit={page}&offset={len(out)}" + (f"&state={state}" if state else "")
            batch = self._call("GET", f"/projects/{project_id}/items{query}")["items"]
            out += batch
            if len(batch) < page:
                return out

    def item(self, project_id: str, item_id: str) -> dict:
        """Return one item with its ``vote_log``."""
        return self._call("GET", f"/projects/{project_id}/items/{item_id}")

    def import_file(self, project_id: str, name: str, data: bytes) -> dict:
        """Upload one file (an image, or a zip with a manifest) to a project's import."""
        boundary = uuid.uuid4().hex
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, raw, _ = self.http.request(
            "POST", f"/api/v1/admin/projects/{project_id}/import", body, headers
        )
        reply = json.loads(raw)
        if status >= 400:
            raise ServiceError(
                f"Import answered {status}: {reply}.", code=reply.get("code", "error")
            )
        return reply
