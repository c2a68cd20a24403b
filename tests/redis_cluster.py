"""Start a private three-master Redis Cluster on loopback (``redis-cli --cluster create``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from redis_server import redis_server_binary

#: A cluster node also listens on its port + 10000 (the cluster bus), so ports stay below this.
MAX_NODE_PORT = 55_000
MASTERS = 3


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def node_port(taken: set[int]) -> int:
    """Return a free port whose cluster-bus port (port + 10000) is free too."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < MAX_NODE_PORT and port not in taken and _is_free(port + 10_000):
            return port
    raise RuntimeError("No free port pair (port, port + 10000) was found on 127.0.0.1.")


class RedisClusterProcess:
    """Three ``redis-server --cluster-enabled yes`` masters joined into one cluster."""

    def __init__(self, workdir: Path, masters: int = MASTERS):
        server = redis_server_binary()
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.skip("redis-cli is not installed; it comes with redis-server (apt redis-tools).")
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        for _ in range(masters):
            port = node_port(set(self.ports))
            folder = workdir / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            args = [
                server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            self.procs.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
            self.ports.append(port)
        for port in self.ports:
            self._wait_ping(port)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self._wait_ok()

    @property
    def url(self) -> str:
        """The store URI that selects the cluster client."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def _wait_ping(self, port: int) -> None:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node {port} did not start") from None
                time.sleep(0.05)
        client.close()

    def _wait_ok(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = []
            for port in self.ports:
                client = redis.Redis(port=port)
                states.append(client.cluster("info").get("cluster_state"))
                client.close()
            if all(state == "ok" for state in states):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the Redis Cluster on {self.ports} never reached cluster_state:ok")

    def client(self) -> RedisCluster:
        """Return a cluster client (the caller closes it)."""
        return RedisCluster(host="127.0.0.1", port=self.ports[0])

    def flush(self) -> None:
        """Empty every master, so each test starts from nothing."""
        for port in self.ports:
            client = redis.Redis(port=port)
            client.flushall()
            client.close()

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
