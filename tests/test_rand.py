"""Batched OS randomness for grids: uniform enough, per thread, and never shared across a fork."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from crowdgate.challenge.rand import BATCH_BYTES, BatchedSystemRandom


def test_draws_cover_their_range_evenly():
    rng = BatchedSystemRandom()
    counts = Counter(rng.randrange(9) for _ in range(18_000))
    assert set(counts) == set(range(9))
    # 2,000 expected per value; 6 standard deviations (about 250) either side
    assert all(1_700 < n < 2_300 for n in counts.values()), counts
    floats = [rng.random() for _ in range(10_000)]
    assert all(0.0 <= x < 1.0 for x in floats)
    assert 0.45 < sum(floats) / len(floats) < 0.55


@pytest.mark.parametrize("bits", [1, 7, 8, 9, 31, 64, 200])
def test_getrandbits_gives_exactly_k_bits(bits):
    rng = BatchedSystemRandom()
    values = [rng.getrandbits(bits) for _ in range(300)]
    assert all(0 <= v < 2**bits for v in values)
    assert max(values).bit_length() == bits, "the top bit is set in some draw"


def test_two_threads_never_read_the_same_bytes():
    rng = BatchedSystemRandom()
    got: list[bytes] = []

    def draw() -> None:
        got.append(rng.randbytes(64))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 4


def test_a_forked_child_does_not_repeat_its_parents_draws():
    rng = BatchedSystemRandom()
    rng.randbytes(16)  # the batch is filled before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, rng.randbytes(32))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 32)
    assert child != rng.randbytes(32)


def test_large_requests_refill_the_batch():
    rng = BatchedSystemRandom()
    assert len(rng.randbytes(BATCH_BYTES * 2)) == BATCH_BYTES * 2
    assert len({rng.randbytes(BATCH_BYTES - 1) for _ in range(3)}) == 3
