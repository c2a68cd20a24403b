"""Drive a running crowdgate with a crowd of simulated visitors, over HTTP only."""

from __future__ import annotations

import base64
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ..challenge.pow import solve
from .client import Http, ServiceError
from .perception import GoldMemory, Perceiver, PerceptionError
from .visitors import DEFAULT_MIX, KINDS, GoldKey, Visitor, allocate, choose

#: distinct /24 networks one-time visitors cycle through (each visitor its own, up to this)
ONE_TIME_NETWORKS = 65536
#: the page the simulated widget is embedded in (the demo site allows localhost and 127.0.0.1)
DEFAULT_ORIGIN = "http://localhost"


@dataclass
class Summary:
    """What a run did: grids answered, passed and failed, per kind, and the errors met."""

    challenges: int = 0
    passes: int = 0
    fails: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    #: votes the service recorded during the run (needs an admin key; else None)
    votes_accepted: int | None = None

    def add(self, kind: str, outcome: str) -> None:
        """Count one grid of a visitor of ``kind``: ``pass``, ``fail`` or an error code."""
        row = self.by_kind.setdefault(kind, {"challenges": 0, "passes": 0, "fails": 0})
        if outcome in ("pass", "fail"):
            self.challenges += 1
            row["challenges"] += 1
            self.passes += outcome == "pass"
            self.fails += outcome == "fail"
            row["passes" if outcome == "pass" else "fails"] += 1
        else:
            self.errors[outcome] = self.errors.get(outcome, 0) + 1

    def pass_rate(self, kind: str | None = None) -> float:
        """Return the share of answered grids that passed (of one kind, or of all)."""
        if kind is None:
            return self.passes / self.challenges if self.challenges else 0.0
        row = self.by_kind.get(kind, {})
        return row["passes"] / row["challenges"] if row.get("challenges") else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass_rate"] = round(self.pass_rate(), 4)
        data["seconds"] = round(self.seconds, 2)
        data["challenges_per_s"] = round(self.challenges / self.seconds, 2) if self.seconds else 0
        return data


class Crowd:
    """A population of simulated visitors who answer grids of one site.

    By default the population is fixed and each grid goes to a random member, so members come
    back many times. With ``visits=(lo, hi)`` it is a stream of one-time visitors, as most
    captcha traffic is: each new visitor (kind drawn from ``mix``, own User-Agent and /24)
    answers ``lo`` to ``hi`` grids in a row, then never comes back.

    Parameters
    ----------
    url : str
        Base URL of the running service, e.g. ``http://127.0.0.1:8000``.
    sitekey : str
        The site whose challenges the visitors answer.
    perceiver : Perceiver
        The fitted picture classifier every visitor sees with.
    visitors : int
        Size of the population; each visitor has its own User-Agent and address.
    mix : dict of kind to share
        Shares of ``careful``, ``sloppy``, ``random`` and ``adversarial`` visitors.
    memory : GoldMemory or None
        What adversarial colluders remember of the gold set (none: they remember nothing).
    key : GoldKey or None
        The gold truth echo bots are handed (none: they answer gold tiles as they see them).
    origin : str
        The ``Origin`` header sent, as a browser on the embedding page would.
    forwarded : bool
        Send each visitor's simulated address as ``X-Forwarded-For``; the service honours it
        only when started with ``CROWDGATE_TRUSTED_PROXIES=1`` (as if behind one proxy).
    networks : int or None
        Distinct /24 networks the visitors come from (default: one per visitor).
    headers : dict or None
        Sent with every request, e.g. ``X-Crowdgate-Simulator``, the key ``crowdgate demo``
        prints so that it counts each visitor by its forwarded address.
    concurrency : int
        Visitors answering at the same time (threads).
    visits : (int, int) or None
        One-time visitors answering between ``lo`` and ``hi`` grids each (``visitors`` is
        then ignored); None: the fixed population.
    seed : int
        Seeds the kinds' order, the choice of visitor per grid and every visitor's dice.
    """

    def __init__(
        self,
        url: str,
        sitekey: str,
        perceiver: Perceiver,
        *,
        visitors: int = 50,
        mix: dict[str, float] | None = None,
        memory: GoldMemory | None = None,
        key: GoldKey | None = None,
        origin: str = DEFAULT_ORIGIN,
        forwarded: bool = True,
        networks: int | None = None,
        headers: dict[str, str] | None = None,
        concurrency: int = 4,
        visits: tuple[int, int] | None = None,
        seed: int = 0,
    ):
        self.http = Http(url)
        self.sitekey = sitekey
        self.perceiver = perceiver
        self.memory = memory
        self.key = key
        self.origin = origin
        self.forwarded = forwarded
        self.extra_headers = dict(headers or {})
        self.concurrency = max(1, concurrency)
        self.rng = random.Random(seed)
        self.seed = seed
        self.mix = mix or DEFAULT_MIX
        if visits is not None and not 1 <= visits[0] <= visits[1]:
            raise ServiceError(
                f"visits {visits!r} must be (lo, hi) grids with 1 <= lo <= hi.",
                code="simulate-visits",
                status=400,
            )
        self.visits = visits
        kinds = [] if visits else allocate(self.mix, max(1, visitors), self.rng)
        #: one-time visitors each get their own /24 unless ``networks`` is given
        self.networks = networks or (ONE_TIME_NETWORKS if visits else len(kinds))
        self.visitors = [Visitor.make(i, k, seed, self.networks) for i, k in enumerate(kinds)]
        self._locks = [threading.Lock() for _ in self.visitors]

    def _arrivals(self, challenges: int) -> list[int]:
        """Return the visitor of each of ``challenges`` grids, adding one-time visitors."""
        if self.visits is None:
            return [self.rng.randrange(len(self.visitors)) for _ in range(challenges)]
        order: list[int] = []
        kinds, shares = zip(*sorted(self.mix.items()), strict=True)
        while len(order) < challenges:
            kind = self.rng.choices(kinds, weights=shares)[0]
            index = len(self.visitors)
            self.visitors.append(Visitor.make(index, kind, self.seed, self.networks))
            self._locks.append(threading.Lock())
            order += [index] * self.rng.randint(*self.visits)
        return order[:challenges]

    def kinds(self) -> Counter:
        """Return how many visitors of each kind the crowd has."""
        return Counter(v.kind for v in self.visitors)

    def _headers(self, visitor: Visitor) -> dict[str, str]:
        headers = {**self.extra_headers, "Origin": self.origin, "User-Agent": visitor.user_agent}
        if self.forwarded:
            headers["X-Forwarded-For"] = visitor.address
        return headers

    def _ask(self, headers: dict[str, str]) -> tuple[int, Any]:
        """Ask for a grid; on a site that wants a proof of work, solve its puzzle and ask again."""
        body: dict[str, object] = {"sitekey": self.sitekey}
        status, reply = self.http.json("POST", "/api/v1/challenge", body, headers)
        puzzle = reply.get("pow") if status == 403 and isinstance(reply, dict) else None
        if isinstance(puzzle, dict):
            nonce = solve(str(puzzle.get("puzzle")), int(puzzle.get("bits", 0)))
            body["pow"] = {"puzzle": puzzle.get("puzzle"), "nonce": nonce}
            status, reply = self.http.json("POST", "/api/v1/challenge", body, headers)
        return status, reply

    def attempt(self, visitor: Visitor) -> str:
        """Let ``visitor`` answer one grid; return ``pass``, ``fail`` or an error code."""
        headers = self._headers(visitor)
        grid = visitor.pending
        visitor.pending = None
        if grid is None:
            status, grid = self._ask(headers)
            if status != 200:
                return _code(status, grid)
        try:
            # the tiles come inside the challenge response, as the widget gets them
            tiles = [base64.b64decode(t, validate=True) for t in grid["tiles"]]
            vectors = self.perceiver.vectors(tiles)
        except (PerceptionError, ValueError, TypeError, KeyError):
            return "undecodable-tile"
        picks = choose(visitor, grid["label"], vectors, self.perceiver, self.memory, self.key)
        path = f"/api/v1/challenge/{grid['challenge']}/answer"
        status, reply = self.http.json("POST", path, {"selected": picks}, headers)
        if status != 200:
            return _code(status, reply)
        if reply.get("success"):
            return "pass"
        visitor.pending = reply.get("next")
        return "fail"

    def run(self, challenges: int) -> Summary:
        """Have randomly chosen visitors answer ``challenges`` grids; return the tally."""
        order = self._arrivals(challenges)
        summary = Summary(by_kind={k: {"challenges": 0, "passes": 0, "fails": 0} for k in KINDS})
        lock = threading.Lock()

        def one(index: int) -> None:
            visitor = self.visitors[index]
            with self._locks[index]:
                try:
                    outcome = self.attempt(visitor)
                except ServiceError as exc:
                    outcome = exc.code
            with lock:
                summary.add(visitor.kind, outcome)

        start = time.perf_counter()
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                list(pool.map(one, order))
        finally:
            self.http.close()
        summary.seconds = time.perf_counter() - start
        summary.by_kind = {k: v for k, v in summary.by_kind.items() if self.kinds()[k]}
        return summary


def _code(status: int, reply: Any) -> str:
    if isinstance(reply, dict) and isinstance(reply.get("code"), str):
        return reply["code"]
    return f"http-{status}"
