"""The server-side libraries docs/verify-libraries.md names, against a real `crowdgate serve`.

Each passes a real token once and refuses its replay, configured with the one setting the
page gives. django-recaptcha only builds https:// URLs, so it goes through a TLS front this
test starts (a certificate from trustme's throwaway CA, trusted through SSL_CERT_FILE).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crowdgate.store import open_store
from live import Served, call
from seed import seed_project

CLIENTS = Path(__file__).with_name("verify_clients.py")
LIBRARIES = ["flask-wtf", "django-recaptcha", "django-hcaptcha", "django-hcaptcha-field"]


class TlsFront:
    """Terminate TLS on a local port and pass the bytes to crowdgate (like a proxy would)."""

    def __init__(self, upstream_port: int, folder: Path):
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        self.ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self.context)
        self.upstream = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
        except (OSError, ssl.SSLError):
            raw.close()
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join(30)
        client.close()
        upstream.close()

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> Iterator[tuple[Served, object, TlsFront]]:
    folder = tmp_path_factory.mktemp("libraries")
    uri = f"sqlite:///{folder / 'crowdgate.db'}"
    store = open_store(uri)
    seeded = seed_project(store, open_items=40, hostnames=["shop.example"])
    server = Served(folder, uri, workers=2)
    front = TlsFront(server.port, folder)
    yield server, seeded, front, store
    front.close()
    server.stop()
    store.close()


def _token(server: Served, store, sitekey: str) -> str:
    headers = {"Origin": "https://shop.example"}
    _, challenge = call(server.base, "/api/v1/challenge", {"sitekey": sitekey}, headers=headers)
    hidden = store.get_challenge(challenge["challenge"], 0)
    picks = [i for i, s in enumerate(hidden.slots) if s.gold and s.truth]
    path = f"/api/v1/challenge/{challenge['challenge']}/answer"
    _, answer = call(server.base, path, {"selected": picks}, headers=headers)
    return answer["token"]


def _run(library: str, base: str, sitekey: str, secret: str, token: str, ca: Path) -> dict:
    env = {**os.environ, "SSL_CERT_FILE": str(ca)}
    out = subprocess.run(
        [sys.executable, str(CLIENTS), library, base, sitekey, secret, token],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("library", LIBRARIES)
def test_library_accepts_a_real_token_once_with_its_one_setting(gate, library):
    server, seeded, front, store = gate
    base = f"https://localhost:{front.port}" if library == "django-recaptcha" else server.base
    token = _token(server, store, seeded.sitekey)
    first = _run(library, base, seeded.sitekey, seeded.secret, token, front.ca_file)
    assert first == {"valid": True}
    replay = _run(library, base, seeded.sitekey, seeded.secret, token, front.ca_file)
    assert replay == {"valid": False}, replay
    forged = _run(library, base, seeded.sitekey, "0xnot-the-secret", token, front.ca_file)
    assert forged == {"valid": False}, forged


NODE_VERIFY = """
async function verify(token) {
  const body = new URLSearchParams({ secret: process.env.CROWDGATE_SECRET, response: token });
  const reply = await fetch(process.env.GATE + "/siteverify", { method: "POST", body });
  const verdict = await reply.json();
  return verdict.success === true;
}
verify(process.argv[1]).then(async (first) => {
  console.log(JSON.stringify({ first, again: await verify(process.argv[1]) }));
});
"""


def test_the_plain_node_fetch_of_the_docs_verifies_once(gate):
    import shutil

    server, seeded, _, store = gate
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    token = _token(server, store, seeded.sitekey)
    env = {**os.environ, "GATE": server.base, "CROWDGATE_SECRET": seeded.secret}
    out = subprocess.run(
        [node, "-e", NODE_VERIFY, token], capture_output=True, text=True, timeout=30, env=env
    )
    assert json.loads(out.stdout) == {"first": True, "again": False}, out.stderr
