"""The seam through which a grid's unlabeled slots are chosen.

The committee replaces :class:`RandomSelector` with a query-by-committee selector; the
challenge service only depends on the :class:`Selector` protocol.
"""

from __future__ import annotations

import random
from typing import Protocol

from ..models import Project
from ..store import Store
from ..store.base import GridDraw
from .rand import BatchedSystemRandom


class Selector(Protocol):
    """Chooses the unlabeled items a grid asks about."""

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` distinct unlabeled item ids to show in a grid asking ``label``."""
        ...

    def draw(
        self,
        store: Store,
        project: Project,
        label: str,
        n: int,
        gold: dict[str, int],
        rng: random.Random,
        decoys: dict[str, int] | None = None,
    ) -> tuple[list[str], GridDraw]:
        """Return ``pick``'s items and the store's draw: up to ``gold[lab]`` gold ids and
        ``decoys[lab]`` ids of gold with decoy ``lab`` per label, in one store call."""
        ...


class RandomSelector:
    """Uniformly random open items: the baseline every smarter selector is measured against."""

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` random unlabeled item ids (constant cost in the pool size)."""
        return store.sample_open(project.id, n)

    def draw(
        self,
        store: Store,
        project: Project,
        label: str,
        n: int,
        gold: dict[str, int],
        rng: random.Random,
        decoys: dict[str, int] | None = None,
    ) -> tuple[list[str], GridDraw]:
        """Return up to ``n`` random unlabeled item ids and the gold ids asked for."""
        got = store.draw_grid(project.id, label, max(n, 0), gold, decoys=decoys)
        return got.open, got


#: How many of a queue's best items a grid's open slots are drawn from (randomness among them).
QUEUE_TOP_K = 40
#: Share of a grid's open slots given to the queue's best items in order (the rest are drawn
#: at random from the top): with every slot random among 40, votes spread over some 400 open
#: items and a third of a 1,500-vote budget sat on items still open (bench/RESULTS.md, branch
#: s10-live).
QUEUE_HEAD_SHARE = 0.5


class QueueSelector:
    """Query by committee at constant cost: draw from the top of the label's ranked queue.

    The trainer fills one queue per label after each retrain (the most disputed open items
    whose committee top label is that label), and the live update lifts started items to its
    head. Half the open slots take the head in order, the rest are drawn from the top
    ``QUEUE_TOP_K``. Until the first model, or when a queue runs short, the rest of the grid
    is filled at random.
    """

    def __init__(self) -> None:
        self._rng = BatchedSystemRandom()

    def pick(self, store: Store, project: Project, label: str, n: int) -> list[str]:
        """Return up to ``n`` open items, committee-chosen first, random for the remainder."""
        return self.draw(store, project, label, n, {}, self._rng)[0]

    def draw(
        self,
        store: Store,
        project: Project,
        label: str,
        n: int,
        gold: dict[str, int],
        rng: random.Random,
        decoys: dict[str, int] | None = None,
    ) -> tuple[list[str], GridDraw]:
        """Return ``pick``'s items and the gold ids asked for, read in one store call."""
        n = max(n, 0)
        committee = n > 0 and project.setting("selector") == "committee"
        got = store.draw_grid(
            project.id,
            label,
            n,
            gold,
            top_k=QUEUE_TOP_K if committee else 0,
            vote_cap=int(project.setting("vote_cap")),
            decoys=decoys,
        )
        # The head of the queue is the items the crowd has started, cheapest to finish first
        # (the live update lifts them there): a share of the slots goes to them in order, so
        # votes finish labels instead of spreading over the top; the rest stay random.
        head = got.queue[: int(n * QUEUE_HEAD_SHARE)]
        rest = got.queue[len(head) :]
        chosen = head + rng.sample(rest, min(n - len(head), len(rest)))
        if len(chosen) < n:
            extra = [i for i in got.open if i not in chosen]
            chosen += extra[: n - len(chosen)]
        return chosen, got
