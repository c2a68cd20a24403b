"""Rate-limit counters that a hot store write is charged with, in the same round trip.

The web layer decides which counters a challenge, answer or siteverify request is checked
against (the very keys Flask-Limiter's fixed-window strategy counts in the ``limits`` storage)
and leaves them here as the request's pending charge. The first store write of that request
that can fold them in (``put_challenge``, ``take_challenge``, ``redeem_token``) takes the charge
and checks it in the same Lua call (Redis) or transaction (SQLite): counters are incremented in
order, the first one past its amount refuses the request, and then the write is not made. A
context variable carries the charge so the core's signatures stay as they are; it is set and
cleared per request by :mod:`crowdgate.web.hot_limits`, and nothing outside a request sees one.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from ..errors import CrowdgateError

#: Fixed-window increment on a ``counters`` table, as crowdgate's SQLite limits storage keeps
#: it (``?1`` key, ``?2`` amount, ``?3`` now, ``?4`` window seconds); ``{table}`` is its name.
COUNTER_INCR = """
INSERT INTO {table} (key, count, expires) VALUES (?1, ?2, ?3 + ?4)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN expires <= ?3 THEN excluded.count ELSE count + excluded.count END,
    expires = CASE WHEN expires <= ?3 THEN excluded.expires ELSE expires END
RETURNING count
"""


@dataclass(frozen=True)
class Counter:
    """One fixed-window counter: its key in the limits storage, window and allowed amount."""

    key: str
    window_s: int
    amount: int
    #: what the web layer needs to describe a refusal (the ``limits`` item); opaque here
    source: object = field(default=None, compare=False)


@dataclass
class Charge:
    """The counters one request is checked against, taken by at most one store write."""

    counters: tuple[Counter, ...]
    #: the storage the counters live in (the limits file on SQLite); the store checks it
    place: str = ""
    taken: bool = False


class LimitRefused(CrowdgateError):
    """A counter of the request's charge went past its amount; the write was not made."""

    code = "rate-limited"
    status = 429

    def __init__(self, counter: Counter):
        super().__init__("Too many requests; slow down and retry.")
        self.counter = counter


_PENDING: ContextVar[Charge | None] = ContextVar("crowdgate_limit_charge", default=None)


def set_pending(charge: Charge | None) -> None:
    """Make ``charge`` the current request's pending charge (``None`` clears it)."""
    _PENDING.set(charge)


def pending() -> Charge | None:
    """Return the current request's charge, taken or not, or ``None``."""
    return _PENDING.get()


def take(place: str) -> Charge | None:
    """Return the pending charge for a write to ``place`` and mark it taken, else ``None``."""
    charge = _PENDING.get()
    if charge is None or charge.taken or charge.place != place:
        return None
    charge.taken = True
    return charge
