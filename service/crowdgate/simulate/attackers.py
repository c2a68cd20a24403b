"""Bots that try to pass grids without reading the images, driven over HTTP like any client.

Each attacker sees only what a client sees: the served tile bytes, the asked label and whether
its answer passed. In the simulator a memorizer may also be handed each tile's item identity
(an ``oracle``), which stands for an attacker whose image recognition is perfect. Every grid is
asked from a fresh address, so per-visitor defences see a stranger each time.

Kinds (``ATTACKS``):

* ``random``: clicks each tile with probability 1/2;
* ``one-click``: clicks exactly one tile, at random (a grid has few gold positives);
* ``bytes``: remembers tiles by the SHA-256 of their bytes, learns from pass/fail;
* ``phash``: remembers tiles by a 64-bit 8x8 DCT perceptual hash, learns from pass/fail;
* ``recognizer``: perfect recognition (item identity), learns from pass/fail;
* ``recognizer-blind``: perfect recognition, no pass/fail: it learns only from the labels
  the tiles are asked under (the label seen most often with a tile is taken as its answer).

A memorizer answers a tile it knows from a passed grid by what passed; a tile it has seen
only asked under labels by the most frequent of them that no pass ruled out (so a gold tile
seen under its two labels, one ruled out, is known: the attacker knows the decoy scheme of
docs/defences.md); a tile it has never seen by a coin flip. With feedback it also learns
from a failed grid in which it was sure of every tile but one: that one was answered wrong.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from .client import Http, ServiceError

RANDOM_CLICKER, ONE_CLICK, BYTES, PHASH, RECOGNIZER, RECOGNIZER_BLIND = (
    "random",
    "one-click",
    "bytes",
    "phash",
    "recognizer",
    "recognizer-blind",
)
ATTACKS = (RANDOM_CLICKER, ONE_CLICK, BYTES, PHASH, RECOGNIZER, RECOGNIZER_BLIND)
#: attacks that need each tile's item identity from the simulator
NEEDS_ORACLE = (RECOGNIZER, RECOGNIZER_BLIND)

#: maps a challenge id to its slots' item ids (the simulator's perfect recognition)
Oracle = Callable[[str], list[str]]


def phash(data: bytes) -> int:
    """Return the 64-bit perceptual hash of an image: signs of its 8x8 low DCT frequencies."""
    with Image.open(io.BytesIO(data)) as im:
        grey = np.asarray(im.convert("L").resize((32, 32), Image.Resampling.LANCZOS), np.float64)
    n = np.arange(32)
    basis = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 64)  # DCT-II rows
    low = (basis @ grey @ basis.T)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


@dataclass
class Memorizer:
    """A bot that remembers tiles by a key and answers from what it remembers."""

    kind: str
    feedback: bool
    rng: random.Random
    #: key -> labels the tile was asked under
    asked: dict[Any, Counter] = field(default_factory=dict)
    #: key -> the label a passed grid showed the tile to be (or not to be)
    known: dict[Any, str] = field(default_factory=dict)
    not_label: dict[Any, set[str]] = field(default_factory=dict)

    def keys(self, tiles: list[bytes], items: list[str] | None) -> list[Any]:
        """Return the memory key of each tile."""
        if self.kind == BYTES:
            return [hashlib.sha256(t).digest() for t in tiles]
        if self.kind == PHASH:
            return [phash(t) for t in tiles]
        if items is None:
            raise ValueError(f"Attack {self.kind!r} needs the simulator's item identities.")
        return list(items)

    def _answer(self, label: str, key: Any) -> tuple[bool, bool]:
        """Return (select the tile, sure of it) for a tile in a grid asking ``label``."""
        if key in self.known:
            return self.known[key] == label, True
        ruled_out = self.not_label.get(key, set())
        if label in ruled_out:
            return False, True
        seen = self.asked.get(key)
        if not seen:
            return self.rng.random() < 0.5, False
        left = {lab: n for lab, n in seen.items() if lab not in ruled_out}
        if ruled_out and len(left) == 1:
            # seen under two labels, one ruled out: the other is its class
            return label in left, True
        if not left:
            return False, False
        top = max(left.values())
        return left.get(label, 0) == top, False

    def choose(self, label: str, keys: list[Any]) -> list[int]:
        """Return the slots to select in a grid asking ``label``."""
        return [i for i, key in enumerate(keys) if self._answer(label, key)[0]]

    def learn(self, label: str, keys: list[Any], picks: list[int], passed: bool) -> None:
        """Remember the asked label of every tile, and with feedback what the outcome showed."""
        chosen = set(picks)
        unsure = [i for i, key in enumerate(keys) if not self._answer(label, key)[1]]
        for key in keys:
            self.asked.setdefault(key, Counter())[label] += 1
        if not self.feedback:
            return
        if not passed:
            if len(unsure) == 1:
                # sure of every other tile, so this one was gold and answered wrong
                i = unsure[0]
                if i in chosen:
                    self.not_label.setdefault(keys[i], set()).add(label)
                else:
                    self.known[keys[i]] = label
            return
        for i, key in enumerate(keys):
            if i in chosen:
                self.known[key] = label
            else:
                self.not_label.setdefault(key, set()).add(label)


@dataclass
class Clicker:
    """Clicks every tile with probability 1/2 (or exactly one tile) and learns nothing."""

    rng: random.Random
    kind: str = RANDOM_CLICKER

    def keys(self, tiles: list[bytes], items: list[str] | None) -> list[Any]:
        return [None] * len(tiles)

    def choose(self, label: str, keys: list[Any]) -> list[int]:
        if self.kind == ONE_CLICK:
            return [self.rng.randrange(len(keys))] if keys else []
        return [i for i in range(len(keys)) if self.rng.random() < 0.5]

    def learn(self, label: str, keys: list[Any], picks: list[int], passed: bool) -> None:
        return None


class Player(Protocol):
    """Anything that answers grids: turns tiles into keys, picks slots, learns from outcomes."""

    kind: str

    def keys(self, tiles: list[bytes], items: list[str] | None) -> list[Any]:
        """Return what the player remembers each tile by."""
        ...

    def choose(self, label: str, keys: list[Any]) -> list[int]:
        """Return the slots to select."""
        ...

    def learn(self, label: str, keys: list[Any], picks: list[int], passed: bool) -> None:
        """Take in the outcome of a grid."""
        ...


def make_attacker(kind: str, seed: int = 0) -> Memorizer | Clicker:
    """Return a fresh attacker of ``kind`` (one of :data:`ATTACKS`)."""
    rng = random.Random(f"attack:{kind}:{seed}")
    if kind in (RANDOM_CLICKER, ONE_CLICK):
        return Clicker(rng, kind)
    if kind not in ATTACKS:
        raise ValueError(f"Unknown attack {kind!r}; choose one of {', '.join(ATTACKS)}.")
    base = RECOGNIZER if kind == RECOGNIZER_BLIND else kind
    return Memorizer(base, feedback=kind != RECOGNIZER_BLIND, rng=rng)


@dataclass
class AttackLog:
    """One attacker's grids in order: 1 for a pass, 0 for a fail, and the errors met."""

    kind: str
    outcomes: list[int] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    #: unlabeled slots per passed grid (from the oracle; empty without one)
    open_per_pass: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def rate(self, start: int = 0, stop: int | None = None) -> float:
        """Return the pass rate of grids ``start:stop``."""
        part = self.outcomes[start:stop]
        return sum(part) / len(part) if part else 0.0

    def windows(self, size: int) -> list[float]:
        """Return the pass rate of each consecutive ``size`` grids."""
        return [self.rate(i, i + size) for i in range(0, len(self.outcomes), size)]


class HttpTransport:
    """Grids over HTTP: ask, fetch the tiles (carried in the reply or per slot), answer."""

    def __init__(self, url: str, sitekey: str, origin: str = "http://localhost"):
        self.http = Http(url)
        self.sitekey = sitekey
        self.origin = origin

    def ask(self, address: str, user_agent: str) -> dict | str:
        """Return a grid (the challenge JSON) or an error code."""
        headers = self._headers(address, user_agent)
        body = {"sitekey": self.sitekey}
        status, grid = self.http.json("POST", "/api/v1/challenge", body, headers)
        if status != 200 or not isinstance(grid, dict):
            return _code(status, grid)
        carried = grid.get("tiles")
        if isinstance(carried, list) and carried:
            grid["_tiles"] = [base64.b64decode(t) for t in carried]
            return grid
        tiles = []
        for url in grid.get("images", []):
            status, data, _ = self.http.request("GET", url, headers=headers)
            if status != 200:
                return f"image-http-{status}"
            tiles.append(data)
        grid["_tiles"] = tiles
        return grid

    def answer(self, grid: dict, picks: list[int], address: str, user_agent: str) -> bool | str:
        """Return whether the answer passed, or an error code."""
        path = f"/api/v1/challenge/{grid['challenge']}/answer"
        headers = self._headers(address, user_agent)
        status, reply = self.http.json("POST", path, {"selected": picks}, headers)
        if status != 200 or not isinstance(reply, dict):
            return _code(status, reply)
        return bool(reply.get("success"))

    def _headers(self, address: str, user_agent: str) -> dict[str, str]:
        return {"Origin": self.origin, "User-Agent": user_agent, "X-Forwarded-For": address}

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


class Transport(Protocol):
    """How an attack reaches the service (HTTP, or the core in-process in a benchmark)."""

    def ask(self, address: str, user_agent: str) -> dict | str:
        """Return a grid with its tile bytes under ``_tiles``, or an error code."""
        ...

    def answer(self, grid: dict, picks: list[int], address: str, user_agent: str) -> bool | str:
        """Return whether the answer passed, or an error code."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AttackRun:
    """Plays grids of one site with one attacker, a fresh address per grid."""

    def __init__(
        self,
        transport: Transport,
        kind: str,
        *,
        oracle: Oracle | None = None,
        observe: Callable[[str], object] | None = None,
        seed: int = 0,
        attacker: Player | None = None,
    ):
        if kind in NEEDS_ORACLE and oracle is None:
            raise ValueError(f"Attack {kind!r} needs an oracle of item identities.")
        self.transport = transport
        self.attacker = attacker or make_attacker(kind, seed)
        self.oracle = oracle
        self.observe = observe
        self.rng = random.Random(f"addresses:{kind}:{seed}")
        self.log = AttackLog(kind)

    def _stranger(self) -> tuple[str, str]:
        r = self.rng
        address = f"172.{16 + r.randrange(16)}.{r.randrange(256)}.{1 + r.randrange(254)}"
        return address, f"Mozilla/5.0 (crowdgate-attack; {r.getrandbits(32):08x})"

    def one(self) -> str:
        """Play one grid from a fresh address; return ``pass``, ``fail`` or an error code."""
        address, agent = self._stranger()
        grid = self.transport.ask(address, agent)
        if isinstance(grid, str):
            return grid
        if self.observe is not None:
            self.observe(grid["challenge"])
        items = self.oracle(grid["challenge"]) if self.oracle else None
        keys = self.attacker.keys(grid["_tiles"], items)
        picks = self.attacker.choose(grid["label"], keys)
        passed = self.transport.answer(grid, picks, address, agent)
        if isinstance(passed, str):
            return passed
        self.attacker.learn(grid["label"], keys, picks, passed)
        return "pass" if passed else "fail"

    def run(self, grids: int) -> AttackLog:
        """Play ``grids`` grids; return the log of outcomes."""
        start = time.perf_counter()
        for _ in range(grids):
            try:
                outcome = self.one()
            except ServiceError as exc:
                outcome = exc.code
            if outcome in ("pass", "fail"):
                self.log.outcomes.append(int(outcome == "pass"))
            else:
                self.log.errors[outcome] += 1
        self.log.seconds += time.perf_counter() - start
        return self.log


def _code(status: int, reply: Any) -> str:
    if isinstance(reply, dict) and isinstance(reply.get("code"), str):
        return reply["code"]
    return f"http-{status}"
