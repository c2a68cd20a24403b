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
#: ``_randbelow`` draws one 64-bit word per number below this (larger ones: ``random``'s way)
_WORD = 1 << 64
_WORD_LIMIT = 1 << 48

_generation = 0


def _after_fork() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork)


class _Batch(threading.local):
    """One thread's unread OS bytes (class defaults: a fresh thread starts empty)."""

    buf = b""
    pos = 0
    generation = -1


class BatchedSystemRandom(random.SystemRandom):
    """``SystemRandom`` whose bytes come from per-thread batches of ``os.urandom``.

    ``_randbelow`` is drawn here too, from one 64-bit word per number: ``randrange``,
    ``sample``, ``shuffle`` and ``choice`` call it once per number, and a grid takes a
    hundred (measured 4.8 us a number before, under load).
    """

    def __init__(self) -> None:
        super().__init__()
        self._local = _Batch()

    def _bytes(self, n: int) -> bytes:
        local = self._local
        pos = local.pos
        if pos + n > len(local.buf) or local.generation != _generation:
            local.buf, pos = os.urandom(max(BATCH_BYTES, n)), 0
            local.generation = _generation
        local.pos = pos + n
        return local.buf[pos : pos + n]

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

    def _randbelow(self, n: int) -> int:  # type: ignore[override]
        """Return a uniform int in [0, n) (``n > 0``) from 64 random bits, in one draw.

        ``r % n`` is uniform over the ``2**64 - (2**64 % n)`` lowest values of ``r``; the few
        above are drawn again. ``random``'s rule (the fewest bits, retried while ``>= n``)
        needs up to two draws per number, each a method call.
        """
        if n > _WORD_LIMIT:
            return super()._randbelow(n)  # type: ignore[misc]
        limit = _WORD - _WORD % n
        local = self._local
        while True:
            buf, pos = local.buf, local.pos
            if pos + 8 > len(buf) or local.generation != _generation:
                buf, pos = os.urandom(BATCH_BYTES), 0
                local.buf, local.generation = buf, _generation
            local.pos = pos + 8
            r = int.from_bytes(buf[pos : pos + 8])
            if r < limit:
                return r % n

    def randbytes(self, n: int) -> bytes:
        """Return ``n`` random bytes."""
        return self._bytes(n)
