"""The simulated crowd: kinds of visitors, how each answers a grid, and the mix of kinds."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from ..errors import CrowdgateError
from .perception import GoldMemory, Perceiver, _distances

CAREFUL, SLOPPY, RANDOM, ADVERSARIAL = "careful", "sloppy", "random", "adversarial"
#: a bot whose answers only echo the question: gold right, every open tile selected
ECHO = "echo"
KINDS = (CAREFUL, SLOPPY, RANDOM, ADVERSARIAL, ECHO)

#: chance a careful visitor misclicks a tile on top of the perceiver's own mistakes
CAREFUL_SLIP = 0.02
#: chance a sloppy visitor gets a tile wrong (answers the opposite of what it saw)
SLOPPY_FLIP = 0.15
#: chance a random clicker selects any tile
RANDOM_SELECT = 0.5
#: kinds of a crowd when none is given
DEFAULT_MIX = {CAREFUL: 0.7, SLOPPY: 0.1, RANDOM: 0.1, ADVERSARIAL: 0.1}


class MixError(CrowdgateError):
    code = "simulate-mix"
    status = 400


def parse_mix(text: str) -> dict[str, float]:
    """Return ``{kind: share}`` from ``"careful=0.7,sloppy=0.1,..."``, shares normalised to 1."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        kind = kind.strip()
        try:
            value = float(share)
        except ValueError:
            value = -1.0
        if kind not in KINDS or value < 0:
            raise MixError(
                f"Mix entry {part!r} is invalid: write kind=share with kind one of "
                f"{', '.join(KINDS)} and a share of 0 or more, e.g. careful=0.9,random=0.1."
            )
        mix[kind] = mix.get(kind, 0.0) + value
    total = sum(mix.values())
    if total <= 0:
        raise MixError(f"Mix {text!r} has no visitors; give at least one positive share.")
    return {k: v / total for k, v in mix.items() if v > 0}


def allocate(mix: dict[str, float], n: int, rng: random.Random) -> list[str]:
    """Return ``n`` kinds in ``mix`` proportions (largest remainders), in shuffled order."""
    exact = {k: share * n for k, share in mix.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: n - sum(counts.values())]:
        counts[k] += 1
    kinds = [k for k in KINDS for _ in range(counts.get(k, 0))]
    rng.shuffle(kinds)
    return kinds


@dataclass
class Visitor:
    """One simulated person or bot: its kind, browser, network address and its own dice."""

    index: int
    kind: str
    user_agent: str
    address: str
    rng: random.Random
    pending: dict | None = field(default=None, repr=False)

    @classmethod
    def make(cls, index: int, kind: str, seed: int, networks: int) -> Visitor:
        """Return visitor ``index``; visitors share ``networks`` distinct /24 networks."""
        net = index % max(1, networks)
        host = 1 + index // max(1, networks) % 254
        return cls(
            index=index,
            kind=kind,
            user_agent=f"Mozilla/5.0 (crowdgate-simulate; visitor {index}; {kind})",
            address=f"10.{net // 256 % 256}.{net % 256}.{host}",
            rng=random.Random(f"{seed}:{index}"),
        )


class GoldKey:
    """The gold set's truth handed to a bot: each memorised gold picture with its label.

    The bot whose image recognition of served gold is perfect (cheap with machine learning once
    a gold picture has been seen with its answer): a tile is gold when ``memory`` remembers it,
    and its answer is the label of the nearest memorised picture.
    """

    def __init__(self, memory: GoldMemory, labels: list[str]):
        n = len(labels)
        if n * (1 + memory.views) != len(memory.vectors_):
            raise MixError("A gold key needs one label per memorised gold picture.")
        self.memory = memory
        # memory rows: the n plain pictures, then each picture's crops in order
        self.labels_ = np.asarray([*labels, *np.repeat(labels, memory.views)])

    def recall(self, vectors: np.ndarray) -> list[str | None]:
        """Return each tile's gold label, or None for a tile that is not gold."""
        d = _distances(np.atleast_2d(vectors), self.memory.vectors_)
        near = d.argmin(axis=1)
        gold = d[np.arange(len(near)), near] < self.memory.threshold_
        return [str(self.labels_[j]) if g else None for j, g in zip(near, gold, strict=True)]


def lie(seen: str, classes: list[str]) -> str:
    """Return the colluders' agreed false label for a picture seen as ``seen``: the next class."""
    return classes[(classes.index(seen) + 1) % len(classes)] if seen in classes else seen


def choose(
    visitor: Visitor,
    label: str,
    vectors: np.ndarray,
    perceiver: Perceiver,
    memory: GoldMemory | None,
    key: GoldKey | None = None,
) -> list[int]:
    """Return the slots ``visitor`` selects in a grid asking for ``label``.

    ``vectors`` are the (n_slots, d) ink vectors of the served tiles. Careful and sloppy
    visitors select what they see as ``label`` (slipping with their error rate); random
    clickers toss a coin per tile; adversarial colluders answer honestly the tiles they
    remember as gold and claim :func:`lie` on every other tile; echo bots answer the gold tiles
    from ``key`` (the gold truth; without one, as they see the tiles ``memory`` remembers) and
    select every other tile: the committee asks an open item under the label it predicts, so a
    yes to everything echoes the question and passes gold perfectly.
    """
    n = len(vectors)
    if visitor.kind == RANDOM:
        return [i for i in range(n) if visitor.rng.random() < RANDOM_SELECT]
    if visitor.kind == ECHO:
        if key is not None:
            gold = key.recall(vectors)
        else:
            known = memory.remembers(vectors) if memory is not None else np.zeros(n, bool)
            seen = perceiver.predict_vectors(vectors)
            gold = [s if known[i] else None for i, s in enumerate(seen)]
        return [i for i in range(n) if gold[i] is None or gold[i] == label]
    seen = perceiver.predict_vectors(vectors)
    if visitor.kind == ADVERSARIAL:
        gold = memory.remembers(vectors) if memory is not None else np.zeros(n, bool)
        claims = [s if gold[i] else lie(s, perceiver.classes_) for i, s in enumerate(seen)]
        return [i for i in range(n) if claims[i] == label]
    slip = SLOPPY_FLIP if visitor.kind == SLOPPY else CAREFUL_SLIP
    return [i for i in range(n) if (seen[i] == label) != (visitor.rng.random() < slip)]
