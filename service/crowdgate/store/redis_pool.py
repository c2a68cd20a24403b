"""A Redis connection pool that gives each thread its own connection.

redis-py's ``ConnectionPool`` takes a lock, updates its bookkeeping and polls the socket for
stray data on every command: about 30 µs of CPU per round trip, a third of the cost of a
small command. A gunicorn gthread worker runs a fixed set of threads, each using the store
one command (or one pipeline) at a time, so each thread keeps one connection instead.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import redis

try:
    import hiredis

    # redis-py's own packers, which the fast path below falls back to; private names in
    # redis-py (>= 5.0), so a release that moves them leaves redis-py's packing as it is
    from redis._parsers.encoders import Encoder
    from redis.connection import HiredisRespSerializer, PythonRespSerializer
except ImportError:  # redis-py packs in its own way then
    hiredis = None


class _Held:
    """A thread's connection; when the thread ends, this goes and the connection is closed."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: Any, pid: int) -> None:
        self.conn, self.pid = conn, pid


class ThreadConnectionPool(redis.ConnectionPool):
    """One connection per thread (and per process, after a fork), created on first use.

    Only the thread holds its connection, and it is closed when the thread ends, so threads
    started per task (a threading HTTP server) leave no sockets open behind them.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._local = threading.local()
        self._thread_conns: weakref.WeakSet[Any] = weakref.WeakSet()

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        held: _Held | None = getattr(self._local, "held", None)
        if held is None or held.pid != os.getpid():
            # made here, not by the shared pool: its max_connections count would never go
            # down again for connections that live and die with their thread
            conn = self.connection_class(**self.connection_kwargs)
            with self._lock:
                self._thread_conns.add(conn)
            held = self._local.held = _Held(conn, os.getpid())
            weakref.finalize(held, conn.disconnect)
        conn = held.conn
        # connects a new connection or one dropped after an error; a live one returns at once
        conn.connect()
        try:
            # as the shared pool does: a socket with something to read was closed by the server
            # (restart, idle timeout) or left half-read, so start afresh on a new one
            if conn.can_read():
                raise redis.ConnectionError("stale connection")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()
            conn.connect()
        return conn

    def release(self, connection: Any) -> None:
        if connection.should_reconnect():
            connection.disconnect()

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        with self._lock:
            conns = list(self._thread_conns)
        for conn in conns:
            conn.disconnect()


class HiredisPacker:
    """Packs a command with ``hiredis.pack_command`` directly.

    redis-py's own hiredis serializer first runs every argument through its Python
    ``Encoder.encode`` (a record_pass has ~90); hiredis encodes str, bytes, int and float the
    same way itself (UTF-8, ``repr`` of floats). Anything else (a command name with a space,
    a bool, a memoryview, a type neither knows) goes to redis-py's serializer, which packs
    it or raises its DataError as before.
    """

    def __init__(self, fallback: Any):
        self.fallback = fallback

    def pack(self, *args: Any) -> list[bytes]:
        """Return the command as RESP bytes (a list of one chunk, as redis-py's packers do)."""
        head = args[0]
        if type(head) is str and " " not in head:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass
        return self.fallback.pack(*args)


def _packer(kwargs: dict[str, Any]) -> HiredisPacker | None:
    if hiredis is None:
        return None
    encoder = Encoder(
        kwargs.get("encoding", "utf-8"),
        kwargs.get("encoding_errors", "strict"),
        kwargs.get("decode_responses", False),
    )
    if (encoder.encoding, encoder.encoding_errors) != ("utf-8", "strict"):
        return None  # hiredis encodes text as UTF-8, strictly
    python = PythonRespSerializer(6000, encoder.encode)
    return HiredisPacker(HiredisRespSerializer(python.pack, encoder.encode))


def thread_pool(uri: str, **options: Any) -> ThreadConnectionPool:
    """Return a per-thread pool for ``uri`` with redis-py's own defaults (timeouts, retries)."""
    stock = redis.Redis.from_url(uri, **options).connection_pool
    kwargs = {
        key: value
        for key, value in stock.connection_kwargs.items()
        if not key.startswith(("maint_notifications", "orig_"))
    }
    packer = _packer(kwargs)
    if packer is not None:
        kwargs["command_packer"] = packer
    return ThreadConnectionPool(connection_class=stock.connection_class, **kwargs)


def thread_client(uri: str, **options: Any) -> redis.Redis:
    """Return a client for ``uri`` whose connections are per thread (see the module's doc)."""
    client = redis.Redis(connection_pool=thread_pool(uri, **options))
    # a client given a pool leaves it open on close(); this pool is the client's own
    client.auto_close_connection_pool = True
    return client
