"""The per-thread Redis pool: one connection per thread, recovered after the server drops it."""

from __future__ import annotations

import gc
import threading
import time

import pytest
import redis

from crowdgate.store.redis_pool import thread_client
from redis_server import RedisProcess


def test_each_thread_keeps_one_connection_of_its_own(redis_proc):
    client = thread_client(redis_proc.url)
    seen: dict[str, list[int]] = {}

    def work(name: str) -> None:
        seen[name] = [client.client_id() for _ in range(3)]

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(set(ids)) == 1 for ids in seen.values()), "a thread reuses its connection"
    assert len({ids[0] for ids in seen.values()}) == 3, "threads never share one"
    client.close()


def test_a_connection_the_server_closed_is_replaced_before_use(redis_proc):
    client = thread_client(redis_proc.url)
    before = client.client_id()
    admin = redis.Redis.from_url(redis_proc.url)
    assert admin.client_kill_filter(_id=before) == 1
    # the stock pool polls the socket before handing it out; so does this one
    assert client.set("after-kill", "1") is True
    assert client.client_id() != before
    admin.close()
    client.close()


def test_pipelines_and_scripts_work_over_a_thread_connection(redis_proc):
    client = thread_client(redis_proc.url)
    pipe = client.pipeline(transaction=True)
    pipe.incr("n")
    pipe.incr("n")
    assert pipe.execute() == [1, 2]
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    assert script(keys=["n"]) == 3
    client.close()


def test_it_keeps_redis_py_connection_defaults(redis_proc):
    stock = redis.Redis.from_url(redis_proc.url).connection_pool.get_connection()
    ours = thread_client(redis_proc.url).connection_pool.get_connection()
    assert ours.socket_timeout == stock.socket_timeout
    assert ours.socket_connect_timeout == stock.socket_connect_timeout
    assert ours.retry.get_retries() == stock.retry.get_retries()


def test_a_finished_thread_leaves_no_open_connection(redis_proc):
    client = thread_client(redis_proc.url)
    admin = redis.Redis.from_url(redis_proc.url)
    before = len(admin.client_list())

    def work() -> None:
        client.ping()

    for _ in range(20):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    gc.collect()
    deadline = time.monotonic() + 5
    while len(admin.client_list()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(admin.client_list()) <= before
    admin.close()


def test_closing_the_client_closes_every_thread_connection(redis_proc):
    client = thread_client(redis_proc.url)
    admin = redis.Redis.from_url(redis_proc.url)
    before = len(admin.client_list())
    client.ping()
    assert len(admin.client_list()) == before + 1
    client.close()
    deadline = time.monotonic() + 5
    while len(admin.client_list()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(admin.client_list()) == before
    admin.close()


def test_more_threads_than_redis_py_pool_allows_each_get_a_connection(redis_proc):
    client = thread_client(redis_proc.url)
    failures: list[Exception] = []

    def work() -> None:
        try:
            client.ping()
        except redis.RedisError as exc:
            failures.append(exc)

    for _ in range(150):  # redis-py's pool stops at 100 connections it made
        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert failures == []
    client.close()


def test_connections_recover_after_a_long_outage(tmp_path):
    server = RedisProcess(tmp_path / "redis")
    client = thread_client(server.url, socket_connect_timeout=0.2)
    assert client.ping()
    server.stop()
    failed = 0
    for _ in range(150):
        try:
            client.ping()
        except redis.ConnectionError:
            failed += 1
    assert failed == 150
    server.start()
    try:
        assert client.ping(), "the thread that saw the outage reconnects"
        seen: list[bool] = []
        t = threading.Thread(target=lambda: seen.append(client.ping()))
        t.start()
        t.join()
        assert seen == [True], "and so does a new one"
    finally:
        client.close()
        server.stop()


def test_commands_are_packed_byte_for_byte_as_redis_py_packs_them(redis_proc):
    ours = thread_client(redis_proc.url).connection_pool.get_connection()
    stock = redis.Redis.from_url(redis_proc.url).connection_pool.get_connection()
    assert type(ours._command_packer).__name__ == "HiredisPacker"
    cases = [
        ("SET", "k", "é ü \u2603"),
        ("ZADD", "z", 0.1, "a", 1e16, "b", -1.0, "c", 1 / 3, "d", 5e-324, "e"),
        ("EVALSHA", "ab" * 20, 2, b"k1", "k2", 10**20, -7, float("inf"), 3.5e-7),
        ("SCRIPT LOAD", "return 1"),  # a command name with a space: split, as redis-py does
        ("SET", memoryview(b"xyz"), bytearray(b"abc")),
        ("HSET", "h", "f", ""),
    ]
    for args in cases:
        assert b"".join(ours.pack_command(*args)) == b"".join(stock.pack_command(*args)), args
    for bad in (True, None, object(), [1]):
        with pytest.raises(redis.DataError):
            stock.pack_command("SET", "k", bad)
        with pytest.raises(redis.DataError):
            ours.pack_command("SET", "k", bad)
