"""Cryptographic randomness for grids, read from the OS in batches.

``random.SystemRandom`` makes one ``os.urandom`` system call per draw, and a grid takes a few
dozen draws (label, gold, variants, shuffle). ``BatchedSystemRandom`` draws the same OS bytes
4 KiB at a time, per thread, and never hands the same bytes to two processes after a fork.
"""

from __future__ import annotations

import os
import random
import threading

#: Bytes read from the OS per refill.
BATCH_BYTES = 4096
_RECIP_BPF = 2.0**-53

_generation = 0


def _after_fork() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork)


class BatchedSystemRandom(random.SystemRandom):
    """``SystemRandom`` whose bytes come from per-thread batches of ``os.urandom``."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def _bytes(self, n: int) -> bytes:
        local = self._local
        buf: bytes = getattr(local, "buf", b"")
        pos: int = getattr(local, "pos", 0)
        if pos + n > len(buf) or getattr(local, "generation", -1) != _generation:
            buf, pos = os.urandom(max(BATCH_BYTES, n)), 0
            local.buf, local.generation = buf, _generation
        local.pos = pos + n
        return buf[pos : pos + n]

    def random(self) -> float:
        """Return a float in [0, 1) from 53 random bits, as ``SystemRandom.random`` does."""
        return (int.from_bytes(self._bytes(7)) >> 3) * _RECIP_BPF

    def getrandbits(self, k: int) -> int:
        """Return an int of ``k`` random bits."""
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        if k == 0:
            return 0
        n = (k + 7) // 8
        return int.from_bytes(self._bytes(n)) >> (n * 8 - k)

    def randbytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        return self._bytes(n)
