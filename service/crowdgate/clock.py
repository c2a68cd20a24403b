"""Injectable time source so expiry and rotation can be tested without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Return the current Unix time in seconds."""
    return time.time()


class FrozenClock:
    """A clock for tests: returns ``now`` until moved with :meth:`advance`."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds
